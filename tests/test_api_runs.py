"""API adapters inside real lmms-eval runs: several processes, lmms-eval's own cache, Ctrl-C and
a rejected key, each against a loopback server speaking the OpenAI protocol."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lmms_mmvp.demo import lmms_eval_command
from tests.support.cli import run_evaluation
from tests.support.fake_api import FakeAPIServer, completion

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
