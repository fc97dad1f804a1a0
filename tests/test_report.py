"""`mmvp report`: verified entries, every rejection reason, statistics, leaderboard (in a real
headless browser), comparison and ablation tables."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmms_mmvp import results
from lmms_mmvp.cli import main
from lmms_mmvp.report import stats
from lmms_mmvp.report.compare import ablation_table, compare_table
from lmms_mmvp.report.leaderboard import (
    leaderboard_rows,
    load_reference,
    render_html,
    render_markdown,
)
from lmms_mmvp.report.schema import EntryError, load_entries, validate_entry
from lmms_mmvp.report.submission import (
    Rejected,
    SubmissionError,
    add_run,
    entry_path,
    safe_id,
    verify_run,
)
from mmvp_tasks.markers import failed_response
from tests.support.lmms_eval_run import answer, pair_responder, write_run

XSS_NAME = "<script>alert(1)</script>"
TASKS = ("mmvp", "mmvp_option_swap", "mmvp_symbol_change", "mmvp_official")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from tests.support.mmvp_data import real_rows, write_mmvp_dir

    return write_mmvp_dir(tmp_path_factory.mktemp("real_mmvp"), real_rows())


@pytest.fixture(scope="module")
def good_run(data, tmp_path_factory):
    """A full mmvp_ablation run: 60 pairs right, 40 with only the first question right."""
    out = tmp_path_factory.mktemp("good_run")
    return write_run(out, data, pair_responder(set(range(1, 61)), first_only=set(range(61, 101))))


@pytest.fixture
def run_copy(good_run, tmp_path) -> Path:
    """A writable copy of the good run, for tests that tamper with it."""
    copy = Path(shutil.copytree(good_run.parent, tmp_path / "run"))
    return copy / good_run.name


def _reasons(results_path, data, results_dir, **kwargs) -> list[str]:
    with pytest.raises(Rejected) as rejected:
        add_run(results_path, [], results_dir, data_dir=data, **kwargs)
    return [r.reason for r in rejected.value.rejections]


def _edit_json(path: Path, edit) -> None:
    content = json.loads(path.read_text())
    edit(content)
    path.write_text(json.dumps(content))


def _samples(results_path: Path, task: str) -> Path:
    return results.samples_file(results_path, task)


# ----------------------------------------------------------------------------- submissions


def test_a_good_run_becomes_a_valid_entry(good_run, data, tmp_path):
    path = add_run(good_run, [], tmp_path / "results", data_dir=data)
    entry = validate_entry(json.loads(path.read_text()))
    assert path.parent == tmp_path / "results" and path.name == f"{entry['id']}.json"
    assert set(entry["tasks"]) == {"mmvp", "mmvp_option_swap", "mmvp_symbol_change"}
    metrics = entry["tasks"]["mmvp"]["metrics"]
    assert metrics["mmvp_pair_accuracy"] == pytest.approx(60 / 150)
    assert metrics["mmvp_accuracy"] == pytest.approx(160 / 300)
    assert entry["answer_key"] == "corrected" and not entry["partial"]
    assert entry["model"] == {
        "name": "tiny-model",
        "adapter": "mmvp_llava",
        "model_args": {"pretrained": "org/tiny-model", "dtype": "float32"},
        "checkpoint": "org/tiny-model",
        "api_model": None,
    }
    assert entry["lmms_eval_command"].startswith("lmms-eval --model mmvp_llava --model_args")
    assert "--log_samples" in entry["lmms_eval_command"]
    assert entry["data"]["questions_sha256"] and entry["date"] == "2026-01-01T12:00:00"
    assert len(entry["tasks"]["mmvp"]["records"]) == 300
    assert entry["data"]["n_questions"] == 300
    assert load_entries(tmp_path / "results") == ([entry], [])


def test_api_run_keeps_usage_and_cost_and_drops_the_key(data, tmp_path):
    key = "sk-test-not-a-real-key-0123456789"
    run = write_run(
        tmp_path / "run", data, pair_responder(set(range(1, 151))), tasks=("mmvp",),
        model="mmvp_openai", model_args=f"model=gpt-4o,api_key={key},api_key_env=MY_KEY",
        usage={"total": {"input_tokens": 1_000_000, "output_tokens": 100_000, "n_api_calls": 300}},
    )  # fmt: skip
    path = add_run(run, [], tmp_path / "results", data_dir=data)
    entry = json.loads(path.read_text())
    assert key not in path.read_text()
    assert entry["model"]["model_args"] == {"model": "gpt-4o", "api_key_env": "MY_KEY"}
    assert entry["model"]["api_model"] == "gpt-4o" and entry["model"]["checkpoint"] is None
    # gpt-4o list price: 2.50 / 10.00 USD per million tokens in / out
    assert entry["usage"] == {
        "input_tokens": 1_000_000, "output_tokens": 100_000, "n_api_calls": 300,
        "estimated_cost_usd": pytest.approx(3.5),
    }  # fmt: skip


def test_run_date_carries_lmms_evals_timezone(run_copy, data):
    _edit_json(run_copy, lambda r: r["config"]["resolved_cli_args"].update(timezone="Asia/Tokyo"))
    assert verify_run(run_copy, data_dir=data).entry["date"] == "2026-01-01T12:00:00+09:00"


def test_recomputation_catches_an_edited_metric(run_copy, data, tmp_path):
    _edit_json(run_copy, lambda r: r["results"]["mmvp"].update({"mmvp_pair_accuracy,none": 0.5}))
    verified = verify_run(run_copy, data_dir=data)
    (rejection,) = verified.rejections
    assert rejection.reason == "metric_mismatch"
    assert "mmvp_pair_accuracy: results file 0.5, recomputed" in rejection.message
    assert _reasons(run_copy, data, tmp_path / "results") == ["metric_mismatch"]


def test_recomputation_rescores_the_responses_not_the_logged_records(run_copy, data):
    """An edited response whose logged record was left alone: the metrics no longer match."""
    samples = _samples(run_copy, "mmvp")
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    lines[0]["filtered_resps"] = "I cannot tell."  # pair 1 was right: now unparseable
    samples.write_text("\n".join(map(json.dumps, lines)))
    rejections = verify_run(run_copy, data_dir=data).rejections
    reasons = {r.message.split(":")[1].strip() for r in rejections}
    assert {"mmvp_pair_accuracy", "mmvp_accuracy", "mmvp_unparseable"} <= reasons


def test_judged_run_is_reaggregated_without_a_judge(data, tmp_path, monkeypatch):
    """mmvp_official's logged verdicts are re-aggregated: no judge key, no request."""
    from tests.support.fake_api import FakeAPIServer, completion

    def judge(path, body):
        said = body["messages"][1]["content"].rsplit("answer:", 1)[1]
        return 200, completion("yes" if said.startswith("RIGHT") else "no"), None

    with FakeAPIServer(judge) as server:
        monkeypatch.setenv("MMVP_JUDGE_API_KEY", "test-key-123")
        monkeypatch.setenv("MMVP_JUDGE_BASE_URL", server.base_url)
        run = write_run(
            tmp_path / "run", data, lambda task, doc: "RIGHT" if doc["Index"] < 5 else "WRONG",
            tasks=("mmvp_official",), limit=8,
        )  # fmt: skip
    monkeypatch.delenv("MMVP_JUDGE_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    verified = verify_run(run, data_dir=data)
    assert [r.reason for r in verified.rejections] == ["partial"]
    assert verified.entry["tasks"]["mmvp_official"]["metrics"]["mmvp_pair_accuracy"] == 0.5
    _edit_json(run, lambda r: r["results"]["mmvp_official"].update({"mmvp_accuracy,none": 1.0}))
    reasons = [r.reason for r in verify_run(run, data_dir=data).rejections]
    assert reasons == ["metric_mismatch", "partial"]


def test_missing_sample_makes_the_run_partial(run_copy, data, tmp_path):
    samples = _samples(run_copy, "mmvp_option_swap")
    lines = samples.read_text().splitlines()
    samples.write_text("\n".join(lines[:10] + lines[11:]))
    verified = verify_run(run_copy, data_dir=data)
    assert any(
        r.reason == "partial" and "1 of the 300 questions not logged (doc_id 10)" in r.message
        for r in verified.rejections
    )


def test_missing_samples_file_is_rejected(run_copy, data, tmp_path):
    _samples(run_copy, "mmvp_symbol_change").unlink()
    assert "missing_sample" in _reasons(run_copy, data, tmp_path / "results")


def test_wrong_task_version_is_rejected(run_copy, data, tmp_path):
    _edit_json(run_copy, lambda r: r["versions"].update({"mmvp": 0.9}))
    assert _reasons(run_copy, data, tmp_path / "results") == ["task_version"]


def test_failed_requests_are_rejected(data, tmp_path):
    def respond(task, doc):
        return failed_response("HTTP 503") if doc["Index"] in (5, 6, 7) else answer(doc, True)

    run = write_run(tmp_path / "run", data, respond, tasks=("mmvp",))
    verified = verify_run(run, data_dir=data)
    messages = {r.reason: r.message for r in verified.rejections}
    assert set(messages) == {"failed_requests"}  # every question logged
    assert "3 request(s) failed" in messages["failed_requests"]
    assert verified.entry["tasks"]["mmvp"]["metrics"]["mmvp_scored_pairs"] == 148
    path = add_run(run, [], tmp_path / "results", data_dir=data, partial=True)
    assert json.loads(path.read_text())["partial"]


def test_partial_run_needs_the_flag(data, tmp_path):
    run = write_run(tmp_path / "run", data, pair_responder({1, 2}), tasks=("mmvp",), limit=100)
    assert _reasons(run, data, tmp_path / "results") == ["partial"]
    path = add_run(run, [], tmp_path / "results", data_dir=data, partial=True)
    entry = json.loads(path.read_text())
    assert entry["partial"] and entry["tasks"]["mmvp"]["metrics"]["mmvp_scored_pairs"] == 50
    assert load_entries(tmp_path / "results") == ([entry], [])


def test_samples_that_disagree_with_the_data_are_rejected(run_copy, data, tmp_path):
    samples = _samples(run_copy, "mmvp")
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    lines[3]["target"] = "(a)" if lines[3]["target"] == "(b)" else "(b)"
    samples.write_text("\n".join(map(json.dumps, lines)))
    assert "data_mismatch" in _reasons(run_copy, data, tmp_path / "results")


def test_duplicate_entry_is_rejected_even_renamed(good_run, data, tmp_path):
    add_run(good_run, [], tmp_path / "results", data_dir=data)
    assert _reasons(good_run, data, tmp_path / "results") == ["duplicate"]
    assert _reasons(good_run, data, tmp_path / "results", name="other") == ["duplicate"]


def test_answer_keys_never_mix_in_one_table(good_run, data, tmp_path):
    add_run(good_run, [], tmp_path / "results", data_dir=data)
    other = write_run(
        tmp_path / "run",
        data,
        pair_responder({1}),
        answer_key="original",
        timestamp="20260105_000000",
    )
    assert _reasons(other, data, tmp_path / "results") == ["mixed_answer_key"]


def test_other_questions_than_the_entries_are_rejected(good_run, data, tmp_path):
    first = add_run(good_run, [], tmp_path / "results", data_dir=data)
    _edit_json(first, lambda e: e["data"].update(questions_sha256="0123456789abcdef" * 4))
    other = write_run(tmp_path / "run", data, pair_responder({1}), timestamp="20260106_000000")
    assert _reasons(other, data, tmp_path / "results") == ["data_mismatch"]


def test_results_without_mmvp_or_with_an_unknown_task(run_copy, data, tmp_path):
    def rename(r):
        r["results"] = {"mmvp_new": r["results"]["mmvp"], "textvqa": {"exact_match,none": 0.5}}

    _edit_json(run_copy, rename)
    assert _reasons(run_copy, data, tmp_path / "results") == ["not_mmvp"]
    _edit_json(run_copy, lambda r: r.update(results={"textvqa": {"exact_match,none": 0.5}}))
    with pytest.raises(SubmissionError, match="no MMVP task in this results file"):
        verify_run(run_copy, data_dir=data)


def test_names_never_leave_the_results_dir(run_copy, data, tmp_path):
    _edit_json(run_copy, lambda r: r["config"].update({"model_args": "pretrained=../../../etc"}))
    path = add_run(run_copy, [], tmp_path / "results", data_dir=data, name="../../x/" + XSS_NAME)
    assert path.parent == (tmp_path / "results").resolve()
    assert path.name == "x-script-alert-1-script-20260101120000.json"
    assert json.loads(path.read_text())["model"]["name"] == "../../x/" + XSS_NAME
    assert safe_id("..", "") == "model"
    for bad in ("../evil", "a/b", ".hidden", ""):
        with pytest.raises(SubmissionError):
            entry_path(tmp_path / "results", bad)


def test_cli_prints_every_rejection_reason(run_copy, data, tmp_path, capsys):
    _edit_json(run_copy, lambda r: r["versions"].update({"mmvp": 0.9}))
    _edit_json(run_copy, lambda r: r["results"]["mmvp"].update({"mmvp_accuracy,none": 0.9}))
    argv = ["report", "add", str(run_copy), "--results", str(tmp_path / "r"), "--data", str(data)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "task_version: mmvp: version 0.9, current is 3.0" in err
    assert "metric_mismatch: mmvp: mmvp_accuracy: results file 0.9" in err
    assert not (tmp_path / "r").exists()


# ----------------------------------------------------------------------------- schema


@pytest.fixture
def entry(good_run, data) -> dict:
    return verify_run(good_run, data_dir=data).entry


def _record(entry, task="mmvp", i=0):
    return entry["tasks"][task]["records"][i]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda e: e.pop("partial"), "missing field 'partial'"),
        (lambda e: e.update(fingerprint="x"), "unknown field(s) ['fingerprint']"),
        (
            lambda e: e["model"].update(name=3),
            "entry.model.name: expected a string, got an integer",
        ),
        (lambda e: e.update(partial=1), "entry.partial: expected true or false, got an integer"),
        (lambda e: e.update(id="../x"), "is not a safe file name"),
        (lambda e: e.update(answer_key="mine"), "field 'answer_key': 'mine' not in"),
        (lambda e: e.update(tasks={}), "field 'tasks' is empty"),
        (lambda e: e.update(schema_version=1), "schema_version 1, this reader needs 2"),
        (lambda e: e["model"]["model_args"].update(x={"a": 1}), "model_args.x: expected a plain"),
        (lambda e: _record(e).update(status="lucky"), "tasks.mmvp.records[0]: status 'lucky'"),
        (lambda e: _record(e, i=1).update(index=1), "Index 1 appears twice"),
        (lambda e: _record(e).update(pair_id=7), "pair_id 7 is not Index 1's pair"),
        (lambda e: _record(e).update(correct=False), "records[0]: correct is false"),
        (lambda e: _record(e).update(choice="<b>"), "target and choice must be option labels"),
        (
            lambda e: e["tasks"]["mmvp"]["metrics"].update(mmvp_pair_accuracy=0.9),
            "metrics.mmvp_pair_accuracy = 0.9 but its records give 0.4",
        ),
        (
            lambda e: e["tasks"]["mmvp"]["metrics"].update(mmvp_unparseable=7),
            "metrics.mmvp_unparseable = 7 but its records give 0",
        ),
        (
            lambda e: e["tasks"]["mmvp"]["metrics"].update(mmvp_accuracy="0.6"),
            "metrics.mmvp_accuracy: '0.6' is not a fraction or null",
        ),
        (
            lambda e: e["tasks"]["mmvp"]["records"].pop(),
            "n_samples 300 but 299 records",
        ),
        (lambda e: e.update(partial=True), "field 'partial' is true, but its records are complete"),
    ],
)
def test_schema_validation(entry, edit, message):
    validate_entry(entry)
    edit(entry)
    with pytest.raises(EntryError, match=re.escape(message)):
        validate_entry(entry)


def test_load_entries_names_and_skips_the_bad_file(entry, tmp_path):
    (tmp_path / f"{entry['id']}.json").write_text(json.dumps(entry))
    bad = json.loads(json.dumps(entry))
    bad["id"] = "other"
    bad["model"].pop("adapter")
    (tmp_path / "other.json").write_text(json.dumps(bad))
    entries, skipped = load_entries(tmp_path)
    assert entries == [entry]
    assert skipped == [f"{tmp_path / 'other.json'}: entry.model: missing field 'adapter'"]


@pytest.mark.parametrize(
    "task", ["mmvp", "mmvp_option_swap", "mmvp_symbol_change", "mmvp_official"]
)
def test_the_schema_knows_each_tasks_metrics(task):
    """Entries are checked against the tasks' own metric lists and aggregations (the YAMLs)."""
    from lmms_mmvp.report.schema import FROM_RECORDS, TASK_METRICS
    from lmms_mmvp.report.tasks import task_spec

    aggregations = task_spec(task).aggregations
    assert set(TASK_METRICS[task]) == set(aggregations)
    assert all(aggregations[m] is aggregate for m, aggregate in FROM_RECORDS.items())


@pytest.mark.parametrize(
    "task", ["mmvp", "mmvp_option_swap", "mmvp_symbol_change", "mmvp_official"]
)
def test_documents_from_questions_csv_are_the_tasks(task, data, monkeypatch):
    """What `report add` and `mmvp grade` verify against, read without images or environment,
    is what the task's process_docs gives lmms-eval."""
    from lmms_eval.utils import load_yaml_config

    from lmms_mmvp.plugin import TASKS_DIR
    from lmms_mmvp.report.tasks import task_spec

    monkeypatch.setenv("MMVP_DATA_DIR", str(data))
    monkeypatch.setenv("MMVP_JUDGE_API_KEY", "unused")
    config = load_yaml_config(str(next(TASKS_DIR.rglob(f"{task}.yaml"))), mode="full")
    served = config["process_docs"](None).remove_columns("image").to_list()
    read = [{k: v for k, v in d.items() if k != "image"} for d in task_spec(task).documents(
        data, "corrected")]  # fmt: skip
    assert read == served


# ----------------------------------------------------------------------------- statistics


def test_bootstrap_interval_hand_computed_cases():
    assert stats.bootstrap_interval([1] * 150) == stats.Interval(1.0, 1.0)
    assert stats.bootstrap_interval([0] * 150) == stats.Interval(0.0, 0.0)
    # Two pairs, one right: resampled means are 0, 1/2, 1 with probability 1/4, 1/2, 1/4,
    # so the 2.5th and 97.5th percentiles are 0 and 1.
    assert stats.bootstrap_interval([1, 0]) == stats.Interval(0.0, 1.0)
    # 60 of 150 right: the normal approximation gives 0.4 +- 1.96 * sqrt(0.4 * 0.6 / 150).
    interval = stats.bootstrap_interval([1] * 60 + [0] * 90)
    assert interval.low == pytest.approx(0.4 - 0.0784, abs=0.01)
    assert interval.high == pytest.approx(0.4 + 0.0784, abs=0.01)


def test_bootstrap_is_seeded():
    """The same seed gives the same interval; another seed draws other resamples (values that
    are not all 0 or 1, whose percentiles do not fall on a few grid points)."""
    values = [(k / 150) ** 2 for k in range(150)]
    intervals = {seed: stats.bootstrap_interval(values, seed=seed) for seed in (0, 1, 2)}
    assert stats.bootstrap_interval(values, seed=1) == intervals[1]
    assert len(set(intervals.values())) == 3


@pytest.mark.parametrize(
    "only_a, only_b, p",
    [
        (0, 0, 1.0),
        (0, 6, 2 / 64),  # 2 * P(X = 0), X ~ Bin(6, 1/2)
        (1, 5, 2 * 7 / 64),  # 2 * P(X <= 1) = 2 * (1 + 6) / 64
        (5, 5, 1.0),
        (2, 10, 2 * (1 + 12 + 66) / 4096),  # 2 * P(X <= 2), X ~ Bin(12, 1/2)
    ],
)
def test_exact_mcnemar_hand_computed(only_a, only_b, p):
    assert stats.mcnemar_exact(only_a, only_b) == pytest.approx(p)


def test_paired_comparison_counts_discordant_pairs():
    a = {1: True, 2: True, 3: False, 4: False, 5: True}
    b = {1: True, 2: False, 3: True, 4: False, 6: True}  # pair 6 is not shared: ignored
    c = stats.compare_pairs(a, b)
    assert (c.only_a, c.only_b, c.difference) == (1, 1, 0.0)
    assert c.mcnemar_p == 1.0 and c.interval.low <= 0 <= c.interval.high


# ----------------------------------------------------------------------------- leaderboard


@pytest.fixture(scope="module")
def board_entries(good_run, data, tmp_path_factory) -> list[dict]:
    """Three entries, one named like an HTML injection."""
    results = tmp_path_factory.mktemp("results")
    add_run(good_run, [], results, data_dir=data, name=XSS_NAME)
    for k, (right, stamp) in enumerate([(range(1, 101), "20260102_000000"),
                                        (range(1, 30), "20260103_000000")]):  # fmt: skip
        out = tmp_path_factory.mktemp(f"run{k}")
        run = write_run(out, data, pair_responder(set(right)), timestamp=stamp)
        add_run(run, [], results, data_dir=data, name=f"model-{k}")
    entries, skipped = load_entries(results)
    assert not skipped
    return entries


def test_leaderboard_rows_and_reference(board_entries):
    rows = leaderboard_rows(board_entries, load_reference())
    entries = [r for r in rows if not r.reference]
    assert [r.name for r in entries] == ["model-0", XSS_NAME, "model-1"]  # best first
    assert [round(r.pair, 1) for r in entries] == [66.7, 40.0, 19.3]
    assert all(r.interval.low < r.pair < r.interval.high for r in entries)
    published = {r.name: r.pair for r in rows if r.reference}
    assert published == {
        "Human": 95.7, "Gemini": 40.7, "GPT-4V": 38.7, "Random guess": 25.0,
        "LLaVA-1.5-13B": 24.7, "InstructBLIP": 16.7, "Mini-GPT4": 12.7, "LLaVA": 6.0,
    }  # fmt: skip
    gpt4v = next(r for r in rows if r.name == "GPT-4V")
    assert (gpt4v.option_swap, gpt4v.symbol_change) == (40.3, 37.3)


def test_names_are_escaped_everywhere(board_entries):
    rows = leaderboard_rows(board_entries, load_reference())
    html = render_html(rows, load_reference())
    markdown = render_markdown(rows, load_reference())
    for page in (html, markdown):
        assert XSS_NAME not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert html.count("<script>") == 1  # the page's own sorting script only


def test_leaderboard_command_writes_both_pages(board_entries, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for e in board_entries:
        (results / f"{e['id']}.json").write_text(json.dumps(e))
    argv = ["report", "leaderboard", "--results", str(results), "--out", str(tmp_path / "lb")]
    assert main(argv) == 0
    assert "| model-0 | 66.7 |" in (tmp_path / "lb.md").read_text()
    assert (tmp_path / "lb.html").read_text().startswith("<!DOCTYPE html>")


# Each payload fires a distinct alert if it escapes its place: an attribute, SVG, embedded JSON.
XSS_PAYLOADS = {
    "attribute": "\"><img src=x onerror=alert('attribute')>",
    "svg": "<svg onload=alert('svg')>",
    "json": "</script><script>alert('json')</script>",
}


@pytest.fixture
def hostile_rows(board_entries) -> list:
    """The board's entries named (and their commands spelt) like the payloads."""
    entries = json.loads(json.dumps(board_entries))
    for entry, payload in zip(entries, XSS_PAYLOADS.values(), strict=True):
        entry["model"]["name"] = payload
        entry["lmms_eval_command"] = f"lmms-eval --model {payload}"
    return leaderboard_rows(entries, load_reference())


def _open_in_chromium(html: str, tmp_path: Path, act=None) -> dict:
    """Load ``html`` in Chromium; what happened: alerts (playwright's dialog event, which every
    alert/confirm/prompt raises), console errors, requests, and ``act(page)``'s result."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} missing: apt-get install chromium (.ci/run does)"
    page_file = tmp_path / f"page-{len(list(tmp_path.glob('page-*')))}.html"
    page_file.write_text(html)
    seen = {"alerts": [], "errors": [], "requests": []}

    def on_dialog(dialog):
        seen["alerts"].append(dialog.message)
        dialog.dismiss()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.on("dialog", on_dialog)
        page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: seen["errors"].append(str(e)))
        page.on("request", lambda r: seen["requests"].append(r.url))
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_timeout(200)  # let any injected handler run
        seen["result"] = act(page) if act else None
        browser.close()
    return seen


def test_leaderboard_in_a_real_browser(board_entries, tmp_path):
    """Chromium loads the page with no console error, sorts on a header click, draws the SVG
    charts; the screenshot is kept as an artefact (also under $MMVP_TEST_ARTIFACTS)."""
    shot = tmp_path / "leaderboard.png"

    def act(page):
        first_column = "#leaderboard tbody tr td:first-child"
        before = page.locator(first_column).all_inner_texts()
        assert before[:3] == ["model-0", XSS_NAME, "model-1"]  # rendered as text
        page.click("#leaderboard th:nth-child(2)")  # pair accuracy: ascending
        ascending = page.locator(first_column).all_inner_texts()
        assert ascending[:3] == ["LLaVA (paper)", "Mini-GPT4 (paper)", "InstructBLIP (paper)"]
        page.click("#leaderboard th:nth-child(2)")  # descending
        assert page.locator(first_column).all_inner_texts()[0] == "Human (paper)"
        page.click("#leaderboard th:nth-child(1)")  # by name
        names = page.locator(first_column).all_inner_texts()
        assert names == sorted(names, key=str.lower)
        assert page.locator("#overview-chart svg rect.bar").count() == 11  # 3 runs + 8 paper
        assert page.locator("#pattern-charts svg").count() == 3
        box = page.locator("#overview-chart svg").bounding_box()
        assert box["width"] > 300 and box["height"] > 100
        page.screenshot(path=str(shot), full_page=True)

    rows = leaderboard_rows(board_entries, load_reference())
    seen = _open_in_chromium(render_html(rows, load_reference()), tmp_path, act)
    assert not seen["errors"], seen["errors"]
    assert not seen["alerts"]
    assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]
    assert shot.stat().st_size > 10_000
    if os.environ.get("MMVP_TEST_ARTIFACTS"):
        target = Path(os.environ["MMVP_TEST_ARTIFACTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / "leaderboard.png")


def test_no_payload_runs_in_the_browser(hostile_rows, tmp_path):
    """Payloads in attributes, SVG and the embedded JSON stay text: no alert, and the page's
    data block reads back as the names, exactly."""
    html = render_html(hostile_rows, load_reference())
    data = "JSON.parse(document.getElementById('leaderboard-data').textContent)"
    seen = _open_in_chromium(
        html,
        tmp_path,
        lambda page: {
            "names": page.evaluate(f"{data}.map(r => r.name)"),
            "titles": page.locator("#leaderboard td[title]").evaluate_all(
                "cells => cells.map(c => c.title)"
            ),
            "scripts": page.locator("script").count(),
            "images": page.locator("img").count(),
            "svg_titles": page.locator("#overview-chart svg title").evaluate_all(
                "ts => ts.map(t => t.textContent)"
            ),
        },
    )
    assert seen["alerts"] == []
    result = seen["result"]
    assert sorted(result["names"]) == sorted(XSS_PAYLOADS.values())
    assert sorted(result["titles"]) == sorted(
        f"lmms-eval --model {p}" for p in XSS_PAYLOADS.values()
    )
    assert (result["scripts"], result["images"]) == (2, 0)  # the data block, the page's script
    assert any(XSS_PAYLOADS["svg"] in t for t in result["svg_titles"])


def test_the_alert_detector_fires(hostile_rows, tmp_path, monkeypatch):
    """The detector of the test above sees an alert called on the page, and sees each payload
    fire once the page's escaping and Content-Security-Policy are taken away: the payloads are
    live in those places, and the test would notice if they ran."""
    from lmms_mmvp.report import charts, leaderboard

    probe = _open_in_chromium(
        render_html(hostile_rows, load_reference()),
        tmp_path,
        lambda page: page.evaluate("window.alert('probe')"),
    )
    assert probe["alerts"] == ["probe"]
    monkeypatch.setattr(leaderboard, "escape", str)
    monkeypatch.setattr(charts, "escape", str)
    monkeypatch.setattr(leaderboard, "json_for_html", json.dumps)
    monkeypatch.setattr(
        leaderboard, "content_security_policy", lambda: "script-src 'unsafe-inline'"
    )
    sabotaged = _open_in_chromium(render_html(hostile_rows, load_reference()), tmp_path)
    assert set(XSS_PAYLOADS) <= set(sabotaged["alerts"]), sabotaged["alerts"]


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip


# ----------------------------------------------------------------------------- compare, ablation


def test_compare_table(board_entries):
    by_name = {e["model"]["name"]: e for e in board_entries}
    table = compare_table([by_name["model-0"], by_name[XSS_NAME]])
    # model-0: pairs 1-100 right; the other: pairs 1-60 right. 40 discordant pairs, all one way.
    assert "model-0 - <script>alert(1)</script>: +26.7 points" in table
    assert "pairs only model-0 gets: 40, only <script>alert(1)</script> gets: 0" in table
    assert f"p = {stats.mcnemar_exact(40, 0):.3g}" in table
    assert "Orientation and Direction" in table


def test_compare_refuses_other_answer_keys(board_entries):
    from lmms_mmvp.report.compare import CompareError

    other = json.loads(json.dumps(board_entries[0]))
    other["answer_key"] = "original"
    with pytest.raises(CompareError, match="different answer key"):
        compare_table([board_entries[1], other])


def test_ablation_counts_answers_that_follow_the_letter(data, tmp_path):
    """A model that always answers the first option: the swap changes its option text every
    time, the relabelling never does."""
    run = write_run(tmp_path / "run", data, lambda task, doc: doc["Options"].split(" (")[0])
    entry = verify_run(run, data_dir=data).entry
    table = ablation_table(entry)
    assert "options swapped  300        300 (100.0%)         300 (100.0%)" in table
    assert "labels (1)/(2)   300        0 (0.0%)             300 (100.0%)" in table
    assert "paper GPT-4V" in table and "38.7" in table


def test_compare_and_ablation_commands(good_run, data, capsys, tmp_path):
    chart = tmp_path / "cmp.svg"
    argv = ["report", "compare", f"A={good_run}", f"B={good_run}", "--data", str(data),
            "--chart", str(chart)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "A - B: +0.0 points" in out and "McNemar p = 1" in out
    assert chart.read_text().startswith("<svg")
    assert main(["report", "ablation", str(good_run), "--data", str(data)]) == 0
    assert "options swapped" in capsys.readouterr().out


def test_compare_leaves_out_the_pairs_of_failed_requests(good_run, data, tmp_path):
    from mmvp_tasks.markers import failed_response

    right = pair_responder(set(range(1, 61)))
    run = write_run(tmp_path / "run", data, lambda task, doc: failed_response("HTTP 529")
                    if doc["Index"] == 1 else right(task, doc))  # fmt: skip
    failing = verify_run(run, data_dir=data, name="failing").entry
    good = verify_run(good_run, data_dir=data, name="good").entry
    table = compare_table([failing, good])
    assert "failing  39.6" in table  # 59 of 149 scored pairs
    # pair 1, right in the good run, is compared in neither direction
    assert "failing - good: +0.0 points" in table
    assert "pairs only failing gets: 0, only good gets: 0" in table


@pytest.mark.slow
def test_a_real_lmms_eval_run_is_accepted(synthetic_data, tiny_llava, tmp_path):
    """The real CLI's results and samples files pass verification unchanged."""
    from lmms_mmvp.demo import lmms_eval_command

    env = {**os.environ, "MMVP_DATA_DIR": str(synthetic_data.mmvp_dir), "HF_HUB_OFFLINE": "1"}
    command = lmms_eval_command(tiny_llava, "mmvp_ablation", tmp_path / "out", limit=None)
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    run = results.newest_results_file(tmp_path / "out")
    argv = [sys.executable, "-m", "lmms_mmvp.cli", "report", "add", str(run), "--results",
            str(tmp_path / "results"), "--data", str(synthetic_data.mmvp_dir)]  # fmt: skip
    added = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert added.returncode == 0, added.stderr[-3000:]
    (entry,), skipped = load_entries(tmp_path / "results")
    assert not skipped and not entry["partial"]
    assert set(entry["tasks"]) == {"mmvp", "mmvp_option_swap", "mmvp_symbol_change"}
    assert entry["model"]["adapter"] == "mmvp_llava"
