"""Watching lmms-eval runs that start a vLLM server, for the serving tests and the GPU check."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path


def start_logged(command: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    """Start ``command`` with its output (stdout and stderr) going to ``log_path``."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for_ready_server(process: subprocess.Popen, log_path: Path, timeout_s=600) -> int:
    """The pid (also the process group) of the run's vLLM server once the run logs it ready."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        text = log_path.read_text(errors="replace")
        found = re.search(r"vLLM server pid (\d+)", text)
        if found and "vLLM server ready" in text:
            return int(found.group(1))
        time.sleep(1)
    raise AssertionError(f"no ready vLLM server in {log_path}:\n{log_path.read_text()[-3000:]}")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def group_gone(pgid: int, timeout_s: float = 120.0) -> bool:
    """Whether every process of the group has exited within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return True
        time.sleep(0.5)
    return False
