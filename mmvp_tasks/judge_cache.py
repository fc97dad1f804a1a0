"""A persistent cache of LLM-judge verdicts, so re-scoring a run never pays for a verdict twice.

One SQLite row per verdict, committed as it arrives (a killed run resumes), keyed by the judge
model, the endpoint's host and the full grading request (messages and temperature). Only verdicts
are stored, never failed requests, and never the API key. ``MMVP_JUDGE_CACHE`` sets the directory
(default ``~/.cache/lmms-mmvp/judge``); ``MMVP_JUDGE_CACHE=off`` disables the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from filelock import FileLock

DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the openai SDK's default


def endpoint_host(base_url: str | None) -> str:
    """``host[:port]`` of the judge endpoint (no scheme, path or credentials); ``None`` is the
    SDK's default endpoint (``OPENAI_BASE_URL`` or the OpenAI API)."""
    parts = urlsplit(base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def verdict_key(model: str, host: str, request: dict) -> str:
    blob = json.dumps({"model": model, "host": host, "request": request}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class VerdictCache:
    """SQLite store of verdict texts; safe across threads and processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # The processes of a multi-process run open the file at once; switching it to WAL needs
        # it alone for a moment ("database is locked" otherwise).
        with FileLock(f"{self.path}.lock"):
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, verdict TEXT)"
            )
            self._db.commit()

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, verdict: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?)", (key, verdict))
            self._db.commit()


def cache_from_env() -> VerdictCache | None:
    setting = os.environ.get("MMVP_JUDGE_CACHE", "")
    if setting.lower() == "off":
        return None
    directory = Path(setting) if setting else Path.home() / ".cache" / "lmms-mmvp" / "judge"
    return _open(directory / "verdicts.sqlite")


@lru_cache(maxsize=4)
def _open(path: Path) -> VerdictCache:
    return VerdictCache(path)
