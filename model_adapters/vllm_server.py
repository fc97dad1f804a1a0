"""A local vLLM OpenAI-compatible server for one checkpoint: start, wait until ready, stop.

    with VllmServer("runs/imof224-stage2/final", python=".venv-vllm/bin/python") as server:
        ...  # requests to server.base_url with the bearer key server.api_key

The server runs ``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` console script
does not work in the CPU wheel) with the Python of a vLLM environment, which may differ from this
one (``bash .ci/vllm-env [--gpu]`` builds one), on a free port of 127.0.0.1.

The key: random, and the only one the server accepts. It reaches the server in a YAML options
file (``--config``) that only this user can read, in the server's private run directory, and is
deleted as soon as the server is ready: never in the command line (visible in ``ps``), in an
environment variable (every child of this process, and of the server, would inherit it) or in
the log (vLLM writes it as ``***``).

Ready means: the server lists this model at ``/v1/models`` to a request with this key, so a
foreign server that holds the port is never taken for ours (ours then fails to bind and the error
says so). Traffic to 127.0.0.1 never goes through a proxy (``http_proxy`` is ignored).

No orphan is left behind. Nothing runs between fork and exec (``start_new_session`` is done by
the C code of ``subprocess``): the child is a fresh Python that first asks the kernel for SIGTERM
when its parent dies, SIGKILL included (``PR_SET_PDEATHSIG``, Linux, tied to the starting thread:
start it from the main thread), exits if the parent is already gone, and then becomes the server
(exec). It leads its own process group, stopped as a whole (vLLM's engine runs in child
processes); ``atexit`` stops it on a normal exit or Ctrl-C.

The log: at ``log_path`` when one is given (kept); else in the run directory, which goes when the
server stops, unless the server failed (failed to start, or died on its own): then the error or
warning names the log, which stays.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from loguru import logger

LOG_TAIL_CHARS = 4000
# Run by the server's Python before it becomes the server: a fresh process, so ctypes is safe.
_EXEC_WITH_PARENT_DEATH_SIGNAL = """\
import ctypes, os, signal, sys
parent = int(sys.argv[1])
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
if os.getppid() != parent:  # the parent died before prctl took effect
    sys.exit(1)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""
# Never handed to the server: a key meant for another server must not reach this one.
_NOT_INHERITED = ("VLLM_API_KEY",)
# Loopback requests of this module never use a proxy.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class VllmServerError(RuntimeError):
    """The server did not come up; the message ends with its log's tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(
    python: str, model: str, port: int, options: dict, config_file: str | Path
) -> list[str]:
    """The command line: ``options`` are vLLM flags (``max_model_len=2048`` -> ``--max-model-len
    2048``, ``True`` -> a bare flag, ``None``/``False`` -> left out); ``config_file`` holds the
    key (never the command line)."""
    command = [python, "-c", _EXEC_WITH_PARENT_DEATH_SIGNAL, str(os.getpid()),
               "-m", "vllm.entrypoints.openai.api_server", "--model", model,
               "--host", "127.0.0.1", "--port", str(port),
               "--config", str(config_file)]  # fmt: skip
    for name, value in options.items():
        if value is None or value is False:
            continue
        command.append("--" + name.replace("_", "-"))
        if value is not True:
            command.append(str(value))
    return command


def write_private(path: Path, text: str) -> None:
    """A new file only this user can read (created so: never readable by others, even briefly)."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w") as file:
        file.write(text)


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
        """``options``: vLLM flags (see :func:`server_command`); ``env``: extra variables;
        ``log_path``: where to keep the server's log (default: removed when it stops)."""
        self.model, self.python = model, python
        self.options = dict(options or {})
        self.extra_env = dict(env or {})
        self.startup_timeout_s = startup_timeout_s
        self.kept_log = Path(log_path) if log_path else None
        self.api_key = secrets.token_urlsafe(24)
        self.port: int | None = None
        self.pid: int | None = None  # also the server's process group id
        self.process: subprocess.Popen | None = None
        self.run_dir: Path | None = None
        self.log_path: Path | None = None
        self.failed = False  # failed to start or died on its own: its log stays

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def served_model(self) -> str:
        """The model id the server answers to (vLLM: ``--served-model-name``, else ``--model``)."""
        return str(self.options.get("served_model_name") or self.model)

    def start(self) -> VllmServer:
        self.run_dir = Path(tempfile.mkdtemp(prefix="vllm-server-"))  # mode 0700
        self.log_path = self.kept_log or self.run_dir / "server.log"
        key_file = self.run_dir / "options.yaml"
        write_private(key_file, f"api-key: {json.dumps(self.api_key)}\n")
        self.port = free_port()
        command = server_command(self.python, self.model, self.port, self.options, key_file)
        env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env={**env, **self.extra_env}, start_new_session=True,
            )  # fmt: skip
        self.pid = self.process.pid
        atexit.register(self.stop)
        logger.info(
            f"vLLM server pid {self.pid} starting on {self.base_url} for {self.model} "
            f"(log: {self.log_path})"
        )
        try:
            self._wait_until_ready()
        except BaseException as err:  # Ctrl-C during the wait too: never leave it running
            self.failed = not isinstance(err, KeyboardInterrupt)
            self.stop()
            raise
        finally:
            key_file.unlink(missing_ok=True)  # read at start-up; ours alone anyway
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
            if self.serves_our_model():
                return
            time.sleep(1.0)
        raise VllmServerError(
            f"the vLLM server (pid {self.pid}) for {self.model} was not ready after "
            f"{self.startup_timeout_s:.0f} s (startup_timeout); {self._log_excerpt()}"
        )

    def serves_our_model(self) -> bool:
        """Whether the server on our port accepts our key and lists our model."""
        request = urllib.request.Request(
            f"{self.base_url}/models", headers={"Authorization": f"Bearer {self.api_key}"}
        )
        try:
            with _NO_PROXY.open(request, timeout=5) as response:
                listed = json.load(response).get("data", [])
        except (urllib.error.URLError, OSError, ValueError, AttributeError):
            return False  # not up yet, refusing our key, or not an OpenAI-style server
        return any(entry.get("id") == self.served_model for entry in listed)

    def _log_excerpt(self) -> str:
        return f"log {self.log_path}, tail:\n{self.log_tail()}"

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        try:
            return self.log_path.read_bytes()[-chars:].decode("utf-8", "replace")
        except OSError as err:
            return f"(no log: {err})"

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM to the whole process group, SIGKILL after ``grace_s``; idempotent. The run
        directory goes too, with the log unless it must stay (see the module docstring)."""
        process, self.process = self.process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is not None and not self.failed:
            self.failed = True
            logger.warning(
                f"the vLLM server (pid {process.pid}) had exited with code {process.returncode} "
                f"before it was stopped; {self._log_excerpt()}"
            )
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            logger.warning(f"vLLM server pid {process.pid} ignored SIGTERM: killing it")
        _signal_group(process.pid, signal.SIGKILL)  # engine processes that outlived the server
        process.wait()
        if not (self.failed and self.log_path.parent == self.run_dir):
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> VllmServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
