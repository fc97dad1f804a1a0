"""mof_llava's serving decisions without a vLLM server: backend choice, multi-process runs, dtype,
the server's command line and key, readiness against foreign servers on the port, proxies, and
the log-probability split. (The real server: tests/test_mof_vllm.py.)"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from model_adapters.mof_llava import (
    MofLlavaAdapter,
    MofTransformersAdapter,
    choose_backend,
    continuation_logprob,
    resolve_dtype,
    server_options,
)
from model_adapters.vllm_server import VllmServer, server_command, write_private

# ------------------------------------------------------------------ backend choice


@pytest.fixture
def no_vllm_here(monkeypatch):
    monkeypatch.delenv("MMVP_VLLM_PYTHON", raising=False)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)


@pytest.mark.parametrize(
    ("backend", "vllm_python", "base_url", "processes", "chosen", "why"),
    [
        ("auto", None, None, 1, "hf", "no vLLM environment"),
        ("auto", "PY", None, 1, "vllm", "vllm_python="),
        ("hf", "PY", None, 1, "hf", "backend=hf"),
        ("vllm", None, "http://gpu:8000/v1", 1, "vllm", "a vLLM server at http://gpu:8000/v1"),
        ("vllm", None, "http://gpu:8000/v1", 4, "vllm", "a vLLM server at"),  # shared server
        ("auto", "PY", None, 4, "hf", "4 processes: one model per process"),
    ],
)
def test_backend_choice(no_vllm_here, backend, vllm_python, base_url, processes, chosen, why):
    python = sys.executable if vllm_python else None
    got, got_python, reason = choose_backend(backend, python, base_url, processes)
    assert got == chosen and why in reason
    assert got_python == (python if chosen == "vllm" and not base_url else None)


def test_backend_vllm_without_an_environment_says_how_to_build_one(no_vllm_here):
    with pytest.raises(ValueError, match=r"bash \.ci/vllm-env --gpu"):
        choose_backend("vllm", None, None)


def test_the_environment_variable_names_the_vllm_python(no_vllm_here, monkeypatch):
    monkeypatch.setenv("MMVP_VLLM_PYTHON", sys.executable)
    assert choose_backend("auto", None, None)[:2] == ("vllm", sys.executable)
    monkeypatch.setenv("MMVP_VLLM_PYTHON", "/nowhere/bin/python")
    with pytest.raises(FileNotFoundError, match="/nowhere/bin/python"):
        choose_backend("auto", None, None)


def test_a_multi_process_vllm_run_stops_before_anything_starts(monkeypatch, tmp_path):
    """Under ``accelerate launch`` / ``torchrun`` (WORLD_SIZE > 1) no process starts a server."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(VllmServer, "start", lambda self: pytest.fail("a server was started"))
    args = f"pretrained={tmp_path},backend=vllm,vllm_python={sys.executable}"
    with pytest.raises(ValueError, match="2 processes") as stopped:
        MofLlavaAdapter.create_from_arg_string(args, {"device": None})
    for advice in ("one process", "tensor_parallel_size=N", "data_parallel_size=N", "base_url="):
        assert advice in str(stopped.value)


def test_create_from_arg_string_builds_the_chosen_backends_adapter(tiny_mof_dir, no_vllm_here):
    adapter = MofLlavaAdapter.create_from_arg_string(
        f"pretrained={tiny_mof_dir},device=cpu", {"batch_size": 2, "device": None}
    )
    assert type(adapter) is MofTransformersAdapter and adapter.batch_size == 2


# ------------------------------------------------------------------ dtype


def test_dtype_auto_is_the_checkpoints_in_both_backends(tiny_checkpoint, tmp_path):
    import torch
    from transformers import AutoModelForImageTextToText

    import mof_models  # noqa: F401

    source = tiny_checkpoint("mof", "byte_level")
    assert resolve_dtype(str(source), "auto") == "float32"
    model = AutoModelForImageTextToText.from_pretrained(source, dtype=torch.bfloat16)
    model.save_pretrained(tmp_path)
    assert resolve_dtype(str(tmp_path), "auto") == "bfloat16"
    assert resolve_dtype(str(tmp_path), "float32") == "float32"  # an explicit one wins
    assert server_options("bfloat16")[0]["dtype"] == "bfloat16"  # vLLM is told, never "auto"


def test_the_transformers_backend_runs_the_checkpoints_dtype(tmp_path, tiny_checkpoint):
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    import mof_models  # noqa: F401

    source = tiny_checkpoint("mof", "byte_level")
    AutoModelForImageTextToText.from_pretrained(source, dtype=torch.bfloat16).save_pretrained(
        tmp_path
    )
    AutoProcessor.from_pretrained(source).save_pretrained(tmp_path)
    adapter = MofLlavaAdapter.create(pretrained=str(tmp_path), backend="hf", device="cpu")
    assert adapter.model.dtype == torch.bfloat16


# ------------------------------------------------------------------ the server's command line


def test_options_pass_through_to_the_server_command(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)  # as on a GPU node
    options, env = server_options(
        "float16", tensor_parallel_size=2, data_parallel_size=4, max_model_len=4096,
        gpu_memory_utilization=0.85, enforce_eager="false",
    )  # fmt: skip
    command = server_command("/venv/bin/python", "/ckpt", 8123, options, "/run/options.yaml")
    flags = command[command.index("--model") :]
    assert flags == [
        "--model", "/ckpt", "--host", "127.0.0.1", "--port", "8123",
        "--config", "/run/options.yaml", "--dtype", "float16", "--tensor-parallel-size", "2",
        "--data-parallel-size", "4", "--max-model-len", "4096", "--gpu-memory-utilization", "0.85",
    ]  # fmt: skip
    assert env == {}


def test_cpu_defaults_keep_vllm_small_and_eager(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    options, env = server_options("float32")
    assert options["gpu_memory_utilization"] == 0.3 and options["enforce_eager"] is True
    assert "VLLM_CPU_KVCACHE_SPACE" in env


def test_the_key_is_in_a_private_file_never_in_the_command(tmp_path):
    server = VllmServer("/ckpt", python="/venv/bin/python")
    key_file = tmp_path / "options.yaml"
    write_private(key_file, f"api-key: {json.dumps(server.api_key)}\n")
    command = server_command("/venv/bin/python", "/ckpt", 8123, {"dtype": "float32"}, key_file)
    assert not any(server.api_key in part for part in command)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    import yaml

    assert yaml.safe_load(key_file.read_text()) == {"api-key": server.api_key}  # vLLM's reader
    with pytest.raises(FileExistsError):  # never an existing file (e.g. a planted link)
        write_private(key_file, "x")


def test_the_launcher_execs_the_server_only_while_its_parent_lives(tmp_path):
    """The code run after exec, before the server: with the right parent it becomes the given
    module (here ``platform``); with a wrong one (the parent already died) it exits 1."""
    command = server_command(sys.executable, "/ckpt", 1, {}, "/x.yaml")
    launcher = command[:4]  # python -c CODE PARENT
    ran = subprocess.run([*launcher, "-m", "platform"], capture_output=True, text=True)
    assert ran.returncode == 0 and "Linux" in ran.stdout
    orphan = [*launcher[:3], "1", "-m", "platform"]  # pid 1 is nobody's parent here
    assert subprocess.run(orphan, capture_output=True).returncode == 1


# ------------------------------------------------------------------ readiness and proxies


class ModelsServer:
    """A real HTTP server on 127.0.0.1 answering ``GET /v1/models`` like vLLM: 401 unless the
    bearer key is ``key`` (None: any), else the listed model ids."""

    def __init__(self, models: list[str], key: str | None):
        outer = self
        self.hits = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server naming)
                outer.hits += 1
                authorized = key is None or self.headers.get("Authorization") == f"Bearer {key}"
                body = {"data": [{"id": m} for m in models]} if authorized else {"error": "key"}
                data = json.dumps(body).encode()
                self.send_response(200 if authorized else 401)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_port

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _server_on(port: int) -> VllmServer:
    server = VllmServer("/runs/final", python=sys.executable)
    server.port = port
    return server


def test_a_foreign_server_on_the_port_is_never_taken_for_ours():
    ours = _server_on(0)
    for models, key in ((["/runs/final"], "someone-elses"), (["other-model"], None), ([], None)):
        with ModelsServer(models, key) as foreign:
            ours.port = foreign.port
            assert not ours.serves_our_model() and foreign.hits == 1
    with ModelsServer(["/runs/final"], ours.api_key) as ready:
        ours.port = ready.port
        assert ours.serves_our_model()


def test_loopback_requests_ignore_proxy_settings(monkeypatch):
    """``http_proxy`` pointing at a dead port: readiness probes and the adapter's client still
    reach the server on 127.0.0.1 directly."""
    from tests.support.fake_api import FakeAPIServer, completion

    dead = f"http://127.0.0.1:{_unused_port()}"
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    ours = _server_on(0)
    with ModelsServer(["/runs/final"], ours.api_key) as ready:
        ours.port = ready.port
        assert ours.serves_our_model()
    from model_adapters.openai_chat import OpenAIChatAdapter

    monkeypatch.setenv("TEST_KEY", "k")
    with FakeAPIServer(lambda path, body: (200, completion("B"), None)) as fake:
        adapter = OpenAIChatAdapter(
            model="m", base_url=fake.base_url, api_key_env="TEST_KEY", use_cache=False,
            max_retries=0,
        )  # fmt: skip
        reply = adapter._send(adapter._payload("Which?", [], {"max_new_tokens": 4}))
    assert reply.text == "B" and len(fake.requests) == 1


def _unused_port() -> int:
    from model_adapters.vllm_server import free_port

    return free_port()


# ------------------------------------------------------------------ log-probability split


def test_continuation_logprob_sums_the_last_tokens_and_checks_each_was_greedy():
    prompt = [None, {"5": {"logprob": -0.5, "rank": 1}}]  # vLLM: no entry for the first token
    reply = [
        {"7": {"logprob": -1.0, "rank": 1}},
        {"9": {"logprob": -2.5, "rank": 3}, "8": {"logprob": -0.1, "rank": 1}},
    ]
    assert continuation_logprob(prompt + reply, [7, 9]) == (-3.5, False)
    assert continuation_logprob(prompt + reply[:1], [7]) == (-1.0, True)
    assert continuation_logprob(prompt + reply, [9]) == (-2.5, False)  # only the last tokens


# ------------------------------------------------------------------ a real multi-process run


@pytest.mark.slow
def test_a_two_process_lmms_eval_run_with_backend_vllm_stops_with_the_advice(
    tiny_mof_dir, synthetic_data, tmp_path
):
    """torchrun with two lmms-eval processes: each stops before starting a server and says
    what to run instead; no results are written."""
    import os

    from lmms_mmvp.demo import lmms_eval_command

    command = lmms_eval_command(tiny_mof_dir, "mmvp", tmp_path / "out", 4, model="mof_llava")
    args = command.index("--model_args") + 1
    command[args] += f",backend=vllm,vllm_python={sys.executable}"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node", "2"]  # fmt: skip
    env = {**os.environ, "MMVP_DATA_DIR": str(synthetic_data.mmvp_dir)}
    completed = subprocess.run(
        launcher + command[1:], env=env, capture_output=True, text=True, timeout=600
    )
    log = completed.stdout + completed.stderr
    assert log.count("backend=vllm starts one vLLM server") >= 2, log[-4000:]  # both ranks
    assert "tensor_parallel_size=N" in log and "vLLM server pid" not in log
    assert not list((tmp_path / "out").rglob("*_results.json"))
