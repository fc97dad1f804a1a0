"""API adapters inside real lmms-eval runs: several processes, lmms-eval's own cache, Ctrl-C and
a rejected key, each against loopback servers speaking the providers' protocols."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lmms_mmvp.demo import lmms_eval_command
from tests.support.cli import run_evaluation
from tests.support.fake_api import (
    KINDS,
    FakeAPIServer,
    answer_body,
    anthropic_error,
    completion,
    fake_server,
)

KEY = "test-key-123"


def api_command(server, output: Path, cache_dir: Path, limit: int | None = None) -> list[str]:
    command = lmms_eval_command(Path("unused"), "mmvp", output, limit=limit, model="mmvp_openai")
    command[command.index("--model_args") + 1] = (
        f"model=gpt-4o,base_url={server.base_url},max_retries=1,backoff_s=0.01,"
        f"cache_dir={cache_dir}"
    )
    return command


def api_env(data_dir: Path) -> dict:
    return {**os.environ, "MMVP_DATA_DIR": str(data_dir), "OPENAI_API_KEY": KEY}


def key_env() -> dict:
    return {f"{name}_API_KEY": KEY for name in ("OPENAI", "GEMINI", "ANTHROPIC")}


def test_api_adapters_have_a_device_for_lmms_eval(tmp_path, monkeypatch):
    from tests.support.api_requests import build_adapter

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    adapter = build_adapter("openai", "http://127.0.0.1:9/v1", str(tmp_path))
    assert adapter.device == "cpu"  # lmms-eval builds tensors on lm.device when WORLD_SIZE > 1
    assert (adapter.rank, adapter.world_size) == (0, 1)


@pytest.mark.slow
def test_two_process_run_scores_every_pair_and_requests_each_question_once(
    synthetic_data, tmp_path
):
    with FakeAPIServer(lambda path, body: (200, completion("A"), None)) as server:
        command = api_command(server, tmp_path / "out", tmp_path / "cache")
        command[command.index("--batch_size") + 1] = "auto"  # accepted; concurrency decides
        # torchrun starts two CPU processes (``accelerate launch --cpu`` starts only one)
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nproc_per_node", "2"]  # fmt: skip
        command = launcher + command[1:]  # `-m lmms_eval ...` runs under the launcher
        data, _, log = run_evaluation(
            command, tmp_path / "out", env=api_env(synthetic_data.mmvp_dir)
        )
    assert "Running on rank 1" in log  # two processes really ran
    scores = data["results"]["mmvp"]
    assert scores["mmvp_scored_pairs,none"] == 150
    assert scores["mmvp_failed_requests,none"] == 0
    bodies = [json.dumps(body, sort_keys=True) for body in server.requests]
    assert len(bodies) == len(set(bodies)) == 300  # each question (image + text) sent once


@pytest.mark.slow
def test_the_readme_comparison_of_three_providers_runs_end_to_end(tmp_path):
    """The README's "Comparing API models" example: three real lmms-eval runs of mmvp_ablation
    (one per provider, each against a loopback server of its protocol), then report compare."""
    completed = subprocess.run(
        [sys.executable, "-m", "tests.support.api_comparison", str(tmp_path), "--limit", "8"],
        capture_output=True, text=True, timeout=1200, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    assert "$ lmms-eval --model mmvp_anthropic --model_args model=claude-sonnet-5-5" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(
        ("gpt-4.1 ", "gemini-2.5-flash ", "claude-sonnet-5-5 "))}  # fmt: skip
    assert set(rows) == {"gpt-4.1", "gemini-2.5-flash", "claude-sonnet-5-5"}
    for row in rows.values():
        pairs, unparseable, failed, tokens, cost = row[4], row[5], row[6], row[8], row[9]
        assert (pairs, unparseable, failed) == ("4", "0", "0"), row
        assert "-" not in (tokens, cost), row  # usage logged, priced from the list prices
    assert out.count("exact McNemar p = ") == 3  # every two of the three


@pytest.mark.slow
def test_lmms_eval_use_cache_is_refused_with_one_clear_message(synthetic_data, tmp_path):
    with FakeAPIServer(lambda path, body: (200, completion("A"), None)) as server:
        command = api_command(server, tmp_path / "out", tmp_path / "cache", limit=4)
        command += ["--use_cache", str(tmp_path / "lmms_eval_cache")]
        completed = subprocess.run(
            command, env=api_env(synthetic_data.mmvp_dir), capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
    log = completed.stdout + completed.stderr
    assert "--use_cache cannot be used with this package's task(s) mmvp" in log, log[-3000:]
    assert "model args use_cache=true, cache_dir=DIR" in log
    assert not server.requests
    assert not list((tmp_path / "out").rglob("*_results.json"))


PROVIDER_BODY = "Incorrect API key provided: test-k***-123 (provider detail)"


def rejecting(kind: str):
    """A server that rejects every request's credentials, with a provider error body."""
    status = 401 if kind != "gemini" else 403
    if kind == "anthropic":
        return lambda path, body: anthropic_error(status, "authentication_error", PROVIDER_BODY)
    error = {"error": {"code": status, "message": PROVIDER_BODY, "status": "PERMISSION_DENIED"}}
    return lambda path, body: (status, error, None)


@pytest.mark.parametrize("kind", KINDS)
def test_a_rejected_key_stops_the_run_with_one_clear_message(kind, tmp_path, monkeypatch):
    from mmvp_tasks.request_engine import AuthenticationError
    from tests.support.api_requests import build_adapter, make_requests

    for name, value in key_env().items():
        monkeypatch.setenv(name, value)
    with FakeAPIServer(rejecting(kind)) as server:
        url = server.url_for(kind)
        adapter = build_adapter(kind, url, str(tmp_path), concurrency=2, backoff_s=0.01)
        requests, adapter.task_dict = make_requests(50)
        with pytest.raises(AuthenticationError) as raised:
            adapter.generate_until(requests)
    message = str(raised.value)
    assert "rejected the credentials from $" in message and "The run stopped" in message
    assert PROVIDER_BODY not in message and KEY not in message
    assert len(server.requests) <= 2  # only what was in flight: no retries, nothing queued sent


@pytest.mark.slow
def test_a_rejected_key_stops_an_lmms_eval_run_and_writes_no_samples(synthetic_data, tmp_path):
    with FakeAPIServer(rejecting("openai")) as server:
        command = api_command(server, tmp_path / "out", tmp_path / "cache", limit=40)
        completed = subprocess.run(
            command, env=api_env(synthetic_data.mmvp_dir), capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
    log = completed.stdout + completed.stderr
    assert "HTTP 401: the openai API rejected the credentials from $OPENAI_API_KEY" in log, log
    assert PROVIDER_BODY not in log
    assert len(server.requests) <= 16  # the default concurrency: nothing sent after the 401
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert not [p for p in written if PROVIDER_BODY.encode() in p.read_bytes()]
    assert not list((tmp_path / "out").rglob("*_results.json"))


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_ctrl_c_cancels_queued_requests_and_sends_none_after(kind, tmp_path):
    release = threading.Event()

    def respond(path, body):
        release.wait(60)  # hold every request until the client has handled Ctrl-C
        return 200, answer_body(kind, "A"), None

    with fake_server(kind, respond) as server:
        driver = [sys.executable, "-m", "tests.support.api_requests", kind, server.url_for(kind)]
        child = subprocess.Popen(
            [*driver, str(tmp_path / "cache"), "100"], env={**os.environ, **key_env()},
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        stderr: list[str] = []
        threading.Thread(target=lambda: stderr.extend(child.stderr), daemon=True).start()
        try:
            _wait_for(lambda: len(server.requests) == 4)  # the driver's concurrency
            child.send_signal(signal.SIGINT)
            _wait_for(lambda: "interrupted: stopped" in "".join(stderr))
            at_signal = len(server.requests)
            release.set()  # in-flight requests may finish now; queued ones must not be sent
            child.wait(timeout=60)
        finally:
            release.set()
            if child.poll() is None:
                child.kill()
    log = "".join(stderr)
    assert "96 queued request(s) cancelled" in log, log
    assert at_signal == len(server.requests) == 4, "requests were sent after Ctrl-C"
    assert child.returncode != 0


def test_ctrl_c_reaches_the_children_of_a_test_run_started_with_it_ignored():
    """A test run started as a background job ignores SIGINT, and so would every process it
    starts: the Ctrl-C tests above restore it for their children (tests/conftest.py)."""
    interrupt_a_child = (
        "import signal, subprocess, sys\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job starts\n"
        "from tests.support.signals import let_children_take_ctrl_c\n"
        "let_children_take_ctrl_c()\n"
        "child = [sys.executable, '-c', 'import os, signal, time; "
        "os.kill(os.getpid(), signal.SIGINT); time.sleep(5)']\n"
        "print(subprocess.run(child, stderr=subprocess.PIPE).returncode)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", interrupt_a_child], capture_output=True, timeout=60
    )
    assert int(done.stdout) == -signal.SIGINT  # killed by its Ctrl-C; ignoring it, it returns 0


def _wait_for(condition, timeout_s: float = 60) -> None:
    deadline = time.time() + timeout_s
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)
