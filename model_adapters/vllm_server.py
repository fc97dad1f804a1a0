"""A local vLLM OpenAI-compatible server for one checkpoint: start, wait until ready, stop.

    with VllmServer("runs/imof224-stage2/final", python=".venv-vllm/bin/python") as server:
        ...  # requests to server.base_url with the bearer key server.api_key

The server runs ``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` console script
does not work in the CPU wheel) with the Python of a vLLM environment, which may differ from this
one (``bash .ci/vllm-env`` builds one for CPUs). It listens on a free port of 127.0.0.1 and
accepts only a random key (given through ``VLLM_API_KEY``, so it never shows in ``ps``).

No orphan is left behind: the server gets its own process group (stopped as a whole: vLLM's
engine runs in child processes), ``atexit`` stops it on a normal exit or Ctrl-C, and the kernel
sends it SIGTERM when the process that started it dies for any reason, SIGKILL included
(``PR_SET_PDEATHSIG``; Linux; tied to the starting thread, so start it from the main thread).
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from loguru import logger

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
LOG_TAIL_CHARS = 4000


class VllmServerError(RuntimeError):
    """The server did not come up; the message ends with its log's tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent(parent_pid: int) -> None:
    """Runs in the child before exec: own process group, SIGTERM when the parent dies."""
    os.setsid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def server_command(python: str, model: str, port: int, options: dict) -> list[str]:
    """The command line; ``options`` are vLLM flags (``max_model_len=2048`` -> ``--max-model-len
    2048``, ``True`` -> a bare flag, ``None``/``False`` -> left out)."""
    command = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    for name, value in options.items():
        if value is None or value is False:
            continue
        command.append("--" + name.replace("_", "-"))
        if value is not True:
            command.append(str(value))
    return command


class VllmServer:
    def __init__(
        self,
        model: str,
        *,
        python: str,
        options: dict | None = None,
        env: dict | None = None,
        startup_timeout_s: float = 900.0,
        log_path: str | Path | None = None,
    ) -> None:
        """``options``: vLLM flags (see :func:`server_command`); ``env``: extra variables."""
        self.model, self.python = model, python
        self.options = dict(options or {})
        self.extra_env = dict(env or {})
        self.startup_timeout_s = startup_timeout_s
        self.log_path = Path(log_path) if log_path else _new_log_path()
        self.api_key = secrets.token_urlsafe(24)
        self.port: int | None = None
        self.pid: int | None = None  # also the server's process group id
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> VllmServer:
        self.port = free_port()
        command = server_command(self.python, self.model, self.port, self.options)
        env = {**os.environ, **self.extra_env, "VLLM_API_KEY": self.api_key}
        started = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                preexec_fn=functools.partial(_die_with_parent, os.getpid()),
            )  # fmt: skip
        self.pid = self.process.pid
        atexit.register(self.stop)
        logger.info(
            f"vLLM server pid {self.process.pid} starting on {self.base_url} for {self.model} "
            f"(log: {self.log_path})"
        )
        try:
            self._wait_until_ready()
        except BaseException:  # Ctrl-C during the wait too: never leave it running
            self.stop()
            raise
        logger.info(f"vLLM server ready in {time.monotonic() - started:.0f} s")
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise VllmServerError(
                    f"the vLLM server (pid {self.pid}) for {self.model} exited with code "
                    f"{self.process.returncode} before it was ready; {self._log_excerpt()}"
                )
            if self._healthy():
                return
            time.sleep(1.0)
        raise VllmServerError(
            f"the vLLM server (pid {self.pid}) for {self.model} was not ready after "
            f"{self.startup_timeout_s:.0f} s (startup_timeout); {self._log_excerpt()}"
        )

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _log_excerpt(self) -> str:
        return f"log {self.log_path}, tail:\n{self.log_tail()}"

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        try:
            return self.log_path.read_bytes()[-chars:].decode("utf-8", "replace")
        except OSError as err:
            return f"(no log: {err})"

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM to the whole process group, SIGKILL after ``grace_s``; idempotent."""
        process, self.process = self.process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            logger.warning(f"vLLM server pid {process.pid} ignored SIGTERM: killing it")
        _signal_group(process.pid, signal.SIGKILL)  # engine processes that outlived the server
        process.wait()

    def __enter__(self) -> VllmServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _new_log_path() -> Path:
    handle, path = tempfile.mkstemp(prefix="vllm-server-", suffix=".log")
    os.close(handle)
    return Path(path)
