"""One request engine for every API adapter: concurrency, retries, timeouts and a resumable cache.

- Bounded concurrency (a thread pool: SDK clients are synchronous and requests are I/O-bound).
- Retries with exponential backoff and full jitter; a server's ``Retry-After`` (429/503) wins. The
  SDKs' own retries are switched off by the adapters, so attempts never multiply.
- A timeout per attempt, applied by the SDK client the adapter builds from ``timeout_s``.
- A persistent SQLite cache written the moment each response arrives, keyed by model, endpoint and
  the full request (content and generation settings): a killed run resumes where it stopped and a
  re-run costs nothing. Only answers and refusals are cached, never failures.
- A request that still fails after its retries comes back as :class:`Failure`; the adapter turns it
  into a failed response, which the tasks count and never score.
- A rejected key (:class:`AuthenticationError`, HTTP 401/403) stops the whole run: every later
  request would fail the same way. Ctrl-C stops it at once too: queued requests are cancelled and
  none is sent after it; requests already in flight finish (and are cached).

Nothing here knows a provider: an adapter passes a ``send(payload) -> Reply`` function that raises
:class:`RetryableError` or :class:`FatalError`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """A provider's answer. ``refused``: a safety block or refusal, reported as such."""

    text: str
    refused: bool = False
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Failure:
    reason: str
    attempts: int


class RetryableError(Exception):
    """Worth another attempt (429, 5xx, timeout, connection error, malformed response)."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class FatalError(Exception):
    """Retrying cannot help (bad request, unknown model)."""


class AuthenticationError(FatalError):
    """The provider rejected the credentials (401/403): no request of the run can succeed.
    Its message must not quote the provider's error body."""


@dataclass(frozen=True)
class EngineSettings:
    concurrency: int = 16
    max_retries: int = 5  # attempts after the first one
    timeout_s: float = 60.0  # per attempt; applied by the adapter's SDK client
    backoff_s: float = 1.0  # first backoff; doubles per attempt, full jitter
    max_backoff_s: float = 60.0


def backoff_delay(attempt: int, settings: EngineSettings, retry_after_s: float | None) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based)."""
    if retry_after_s is not None:
        return min(max(retry_after_s, 0.0), settings.max_backoff_s)
    ceiling = min(settings.max_backoff_s, settings.backoff_s * 2 ** (attempt - 1))
    return random.uniform(0.5 * ceiling, ceiling)


def parse_retry_after(headers) -> float | None:
    """``Retry-After`` (seconds or HTTP date) or ``retry-after-ms`` from response headers."""
    if headers is None:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def request_key(namespace: dict, payload: dict) -> str:
    """Cache key: hash of the model/endpoint namespace and the full request payload."""
    blob = json.dumps({"namespace": namespace, "payload": payload}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """SQLite store of replies, one committed row per reply; safe across threads and processes."""

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
                "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT)"
            )
            self._db.commit()

    def get(self, key: str) -> Reply | None:
        with self._lock:
            row = self._db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return Reply(**json.loads(row[0])) if row else None

    def put(self, key: str, reply: Reply) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO replies VALUES (?, ?)", (key, json.dumps(asdict(reply)))
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]


class RequestEngine:
    def __init__(self, settings: EngineSettings, cache: ResponseCache | None = None):
        self.settings = settings
        self.cache = cache

    def run(
        self,
        count: int,
        build_payload: Callable[[int], dict],
        send: Callable[[dict], Reply],
        namespace: dict,
        on_done: Callable[[int, Reply | Failure, bool], None] | None = None,
    ) -> list[Reply | Failure]:
        """Answer requests ``0 .. count-1``, in order. Payloads are built inside the workers, so
        image encoding overlaps with requests in flight. ``on_done(i, outcome, from_cache)``."""
        outcomes: list[Reply | Failure | None] = [None] * count
        stop = threading.Event()  # set by Ctrl-C or a rejected key: send nothing more

        def work(i: int) -> None:
            if stop.is_set():
                return
            payload = build_payload(i)
            key = request_key(namespace, payload)
            cached = self.cache.get(key) if self.cache is not None else None
            try:
                outcome = cached or self._attempt(payload, send, stop)
            except AuthenticationError:
                stop.set()
                raise
            if cached is None and isinstance(outcome, Reply) and self.cache is not None:
                self.cache.put(key, outcome)
            outcomes[i] = outcome
            if on_done:
                on_done(i, outcome, cached is not None)

        pool = ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency))
        futures = [pool.submit(work, i) for i in range(count)]
        try:
            for future in futures:
                future.result()
        except BaseException as err:  # KeyboardInterrupt included
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            cancelled = sum(f.cancelled() for f in futures)
            logger.warning("%s: stopped; %d queued request(s) cancelled", _why(err), cancelled)
            raise
        pool.shutdown()
        return outcomes

    def _attempt(
        self, payload: dict, send: Callable[[dict], Reply], stop: threading.Event
    ) -> Reply | Failure:
        for attempt in range(self.settings.max_retries + 1):
            try:
                return send(payload)
            except AuthenticationError:
                raise
            except FatalError as err:
                return Failure(f"{err}", attempt + 1)
            except RetryableError as err:
                if attempt == self.settings.max_retries:
                    return Failure(f"{err} (after {attempt + 1} attempts)", attempt + 1)
                delay = backoff_delay(attempt + 1, self.settings, err.retry_after_s)
                logger.debug("retryable error (%s); retrying in %.2fs", err, delay)
                if pause(delay, stop):  # stopped while backing off: no retry
                    return Failure("run stopped", attempt + 1)
        raise AssertionError("unreachable")


def pause(seconds: float, stop: threading.Event) -> bool:
    """Wait before a retry; wakes at once, returning True, when the run stops."""
    return stop.wait(seconds)


def _why(err: BaseException) -> str:
    return "interrupted" if isinstance(err, KeyboardInterrupt) else type(err).__name__
