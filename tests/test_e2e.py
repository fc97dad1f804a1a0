"""End to end through the real ``lmms-eval`` and ``mmvp`` command lines (marked slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lmms_mmvp import results
from mmvp_tasks import harness, scoring
from tests.support.cli import run_command, run_evaluation

pytestmark = pytest.mark.slow
ABLATION_TASKS = ["mmvp", "mmvp_option_swap", "mmvp_symbol_change"]


@pytest.fixture(scope="module")
def cli_run(synthetic_data, tiny_llava, tmp_path_factory):
    """One full run of the real CLI on the synthetic set: mmvp and both ablations."""
    from lmms_mmvp.demo import lmms_eval_command

    output = tmp_path_factory.mktemp("lmms_eval_output")
    env = {**os.environ, "MMVP_DATA_DIR": str(synthetic_data.mmvp_dir), "HF_HUB_OFFLINE": "1"}
    env.pop("MMVP_PATTERNS_CSV", None)
    command = lmms_eval_command(tiny_llava, "mmvp_ablation", output, limit=None)
    return run_evaluation(command, output, env=env)


def test_results_file_has_every_task_with_full_pairs(cli_run):
    data, _, log = cli_run
    rows = results.mmvp_rows(data, ["mmvp_ablation"])
    assert [r["task"] for r in rows] == ABLATION_TASKS
    for row in rows:
        assert row["pairs"] == 150 and row["failed"] == 0
        assert row["answer key"] == "corrected"
        assert 0.0 <= row["pair acc"] <= row["question acc"] <= 1.0
    assert "using this plugin's task(s) mmvp" in log


def test_metrics_match_a_rescoring_of_the_logged_samples(cli_run, synthetic_data):
    """The aggregates in the results file equal our scorer applied to the logged responses."""
    data, path, _ = cli_run
    for task in ABLATION_TASKS:
        (samples_file,) = path.parent.glob(f"*_samples_{task}.jsonl")
        samples = [json.loads(line) for line in samples_file.read_text().splitlines()]
        assert len(samples) == 300
        records = [s["mmvp_pair_accuracy"] for s in samples]
        scores = data["results"][task]
        assert scores["mmvp_pair_accuracy,none"] == scoring.pair_accuracy(records)
        assert scores["mmvp_unparseable,none"] == scoring.count_status(records, "unparseable")
        per_pattern = [k for k in scores if k.endswith("_unofficial,none")]
        assert len(per_pattern) == 9  # synthetic data ships its patterns.csv
        assert all(0.0 <= scores[k] <= 1.0 for k in per_pattern)
        for sample in samples[:40]:  # re-extract: same status as the run recorded
            doc = {"Index": sample["mmvp_pair_accuracy"]["index"], "pattern": "", "answer_key": ""}
            doc |= _doc_fields(synthetic_data.mmvp_dir, sample["target"], doc["Index"], task)
            rescored = harness.process_results(doc, [sample["filtered_resps"]])
            assert rescored["mmvp_accuracy"]["choice"] == sample["mmvp_accuracy"]["choice"]


def _doc_fields(mmvp_dir: Path, target: str, index: int, task: str) -> dict:
    from mmvp_tasks import ablations
    from mmvp_tasks.data import read_questions

    question = next(q for q in read_questions(mmvp_dir) if q.index == index)
    transform = {
        "mmvp": lambda o, a: (o, a),
        "mmvp_option_swap": ablations.swap_options,
        "mmvp_symbol_change": ablations.change_symbols,
    }[task]
    options, answer = transform(question.options, question.correct_answer)
    assert answer == target
    return {"Question": question.question, "Options": options, "Correct Answer": answer}


def test_demo_prints_a_results_table(tmp_path):
    command = [
        sys.executable,
        "-m",
        "lmms_mmvp.cli",
        "demo",
        "--workdir",
        str(tmp_path),
        "--limit",
        "8",
        "--steps",
        "10",
    ]
    completed = run_command(command)
    table = completed.stdout.split("Results of", 1)[1]
    for task in ABLATION_TASKS:
        assert f"\n{task} " in table
    assert "pair acc" in table and "corrected" in table
    assert "Chance: random guessing 25% of pairs" in table
    assert "Quantity and Count" in table and "Versions: lmms-mmvp" in table
    assert (tmp_path / "data" / "SYNTHETIC.json").is_file()
    assert (tmp_path / "tiny-mof-interleave-10" / "final" / "config.json").is_file()


def test_mmvp_help_lists_the_commands():
    completed = subprocess.run(
        [sys.executable, "-m", "lmms_mmvp.cli", "--help"], capture_output=True, text=True
    )
    assert completed.returncode == 0
    assert all(c in completed.stdout for c in ("synth", "demo", "correlate"))


def test_api_model_run_counts_failures_and_never_writes_the_key(synthetic_data, tmp_path):
    from lmms_mmvp.demo import lmms_eval_command
    from mmvp_tasks.data import read_questions
    from tests.support.fake_api import FakeAPIServer, completion

    key = "sk-e2e-secret-0123456789abcdefghij"
    questions = read_questions(synthetic_data.mmvp_dir)[:20]
    broken = questions[0].question  # the server always fails on this question

    def respond(path, body):
        text = body["messages"][0]["content"][-1]["text"]
        return (500, {"error": {"message": "down"}}, None) if broken in text else (
            200, completion("A"), None)  # fmt: skip

    command = lmms_eval_command(Path("unused"), "mmvp", tmp_path / "out", limit=20)
    env = {**os.environ, "MMVP_DATA_DIR": str(synthetic_data.mmvp_dir), "OPENAI_API_KEY": key}
    with FakeAPIServer(respond) as server:
        model_args = (
            f"model=gpt-4o,base_url={server.base_url},max_retries=1,backoff_s=0.01,"
            f"cache_dir={tmp_path / 'cache'}"
        )
        command[command.index("--model") + 1] = "mmvp_openai"
        command[command.index("--model_args") + 1] = model_args
        data, _, _ = run_evaluation(command, tmp_path / "out", env=env, timeout=600)
    scores = data["results"]["mmvp"]
    failing = sum(q.question == broken for q in questions)
    assert scores["mmvp_failed_requests,none"] == failing >= 2
    assert scores["mmvp_scored_pairs,none"] == 10 - failing // 2
    assert data["usage"]["total"]["n_api_calls"] == 20 - failing
    assert len(server.requests) == (20 - failing) + 2 * failing  # one retry per failing request
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or key.encode() not in path.read_bytes(), path
