"""`mmvp report` as a leaderboard maintainer uses it on uploads from strangers: what a careless or
dishonest submitter can send (cut runs, renamed duplicates, forged verdicts, malformed and hostile
files), and what must still hold: completeness from the questions, duplicates found, judged runs
re-verified offline, clean errors, escaped output."""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from lmms_mmvp import results
from lmms_mmvp.cli import main
from lmms_mmvp.report.tasks import task_spec
from mmvp_tasks.markers import failed_response
from tests.support.fake_api import FakeAPIServer, completion
from tests.support.lmms_eval_run import answer, pair_responder, write_run
from tests.support.mmvp_data import real_rows


@pytest.fixture(scope="module")
def data(real_mmvp_dir):
    """The real questions with stand-in images (a data dir as lmms-eval runs used)."""
    return real_mmvp_dir


@pytest.fixture(scope="module")
def run_a(data, tmp_path_factory):
    """A complete mmvp_ablation run: 50 pairs right, answers as letters in several forms."""
    out = tmp_path_factory.mktemp("run_a")
    return write_run(out, data, pair_responder(set(range(1, 51))))


def _copy(run: Path, where: Path) -> Path:
    return Path(shutil.copytree(run.parent, where)) / run.name


def _samples(run: Path, task: str = "mmvp") -> Path:
    return results.samples_file(run, task)


def _rewrite_samples(run: Path, task: str, edit) -> None:
    """``edit(list of sample dicts)`` -> the samples to keep, in place."""
    path = _samples(run, task)
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    path.write_text("".join(json.dumps(s) + "\n" for s in edit(lines)))


def _retally(run: Path) -> None:
    """Make the results file's metrics agree with its samples (as a careful forger would)."""
    content = json.loads(run.read_text())
    for task in content["results"]:
        spec = task_spec(task)
        lines = _samples(run, task).read_text().splitlines()
        per_doc = [{m: json.loads(line)[m] for m in spec.aggregations} for line in lines]
        metrics = spec.aggregate(per_doc)
        content["results"][task].update({f"{m},none": v for m, v in metrics.items()})
        content["n-samples"][task]["effective"] = 0  # switched the old count check off
    run.write_text(json.dumps(content))


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _add(capsys, run, results_dir, data, *options, samples=()):
    return _cli(capsys, "report", "add", run, *samples, "--results", results_dir, "--data", data,
                *options)  # fmt: skip


def _leaderboard(capsys, results_dir, out):
    return _cli(capsys, "report", "leaderboard", "--results", results_dir, "--out", out)


# ----------------------------------------------------------------------------- completeness


def test_a_cut_run_is_partial_whatever_its_numbers_say(data, tmp_path, capsys):
    """A run cut down to the pairs it got right, metrics edited to match and the sample count
    switched off, is no MMVP score: rejected, or with --partial listed apart, never ranked."""
    same_model = pair_responder(set(range(1, 51)))
    honest = write_run(
        tmp_path / "honest", data, lambda task, doc: "Answer: " + same_model(task, doc),
        tasks=("mmvp",), timestamp="20260102_000000",
    )  # fmt: skip
    cut = write_run(tmp_path / "cut", data, same_model, tasks=("mmvp",))
    _rewrite_samples(cut, "mmvp", lambda samples: samples[:100])  # pairs 1-50: all right
    _retally(cut)
    results_dir, board = tmp_path / "results", tmp_path / "board"
    code, _, err = _add(capsys, cut, results_dir, data)
    assert code == 1 and "partial: mmvp: " in err
    assert _add(capsys, cut, results_dir, data, "--partial")[0] == 0
    assert _add(capsys, honest, results_dir, data)[0] == 0
    assert _leaderboard(capsys, results_dir, board)[0] == 0
    markdown = board.with_suffix(".md").read_text()
    ranked, partial = markdown.split("## Partial runs (not ranked)")
    assert "| tiny-model (partial) | 100.0 |" in partial and "(partial)" not in ranked
    assert "| tiny-model | 33.3 |" in ranked
    html = board.with_suffix(".html").read_text()
    main_table = html.split('<table id="leaderboard"')[1].split("</table>")[0]
    assert "(partial)" not in main_table
    assert "tiny-model (partial)" in html.split('<table id="partial-runs"')[1]


# ----------------------------------------------------------------------------- unscored pairs


def test_odd_limit_run_added_with_partial_and_shown(data, tmp_path, capsys):
    run = write_run(tmp_path / "run", data, pair_responder(set(range(1, 30))), tasks=("mmvp",),
                    limit=101)  # fmt: skip
    assert _add(capsys, run, tmp_path / "results", data, "--partial")[0] == 0
    assert _leaderboard(capsys, tmp_path / "results", tmp_path / "board")[0] == 0
    row = next(
        line for line in (tmp_path / "board.md").read_text().splitlines() if "(partial)" in line
    )
    assert "| 58.0 |" in row and "| 50 |" in row  # 29 of the 50 complete pairs; pair 51 unscored


def test_compare_a_run_with_a_failed_request(data, tmp_path, capsys):
    good = write_run(tmp_path / "a", data, pair_responder(set(range(1, 61))), tasks=("mmvp",))

    def flaky(task, doc):  # pairs 1-60 right, Index 5 (pair 3) failed for good
        return (
            failed_response("HTTP 503") if doc["Index"] == 5 else answer(doc, doc["Index"] <= 120)
        )

    other = write_run(tmp_path / "b", data, flaky, tasks=("mmvp",))
    code, out, err = _cli(capsys, "report", "compare", f"A={good}", f"B={other}", "--data", data)
    assert code == 0, err
    assert "pairs only A gets: 0, only B gets: 0" in out  # pair 3 left out of both
    assert "failed_requests" in err  # B would be rejected by `report add`


def test_grade_partial_with_an_unpaired_answer(data, tmp_path, capsys):
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps({"question_id": i, "response": r}) + "\n"
                            for i, r in ((1, "(a)"), (2, "(b)"), (3, "(a)"))))  # fmt: skip
    code, out, err = _cli(capsys, "grade", path, "--partial", "--answer-key", "original",
                          "--data", data)  # fmt: skip
    assert code == 0, err
    assert "pair accuracy      100.0%" in out and "1 pairs" in out
    assert "incomplete pairs   1" in out


# ----------------------------------------------------------------------------- duplicates


def _with_unrelated_samples_file(run: Path) -> list:
    stray = run.with_name("20260101_120000_samples_textvqa.jsonl")
    stray.write_text('{"doc_id": 0, "filtered_resps": "cat"}\n')
    return [_samples(run), stray]


def _without_an_ablation(run: Path) -> list:
    content = json.loads(run.read_text())
    del content["results"]["mmvp_symbol_change"]
    run.write_text(json.dumps(content))
    _samples(run, "mmvp_symbol_change").unlink()
    return []


def _padded(run: Path) -> list:
    for task in ("mmvp", "mmvp_option_swap", "mmvp_symbol_change"):
        _rewrite_samples(
            run, task, lambda ss: [{**s, "filtered_resps": f" {s['filtered_resps']}  "} for s in ss]
        )
    return []


@pytest.mark.parametrize("disguise", [_with_unrelated_samples_file, _without_an_ablation, _padded])
def test_duplicates_stay_duplicates(disguise, run_a, data, tmp_path, capsys):
    results_dir = tmp_path / "results"
    assert _add(capsys, run_a, results_dir, data)[0] == 0
    copy = _copy(run_a, tmp_path / "copy")
    samples = disguise(copy)
    code, _, err = _add(capsys, copy, results_dir, data, "--name", "another", samples=samples)
    if disguise is _with_unrelated_samples_file:
        assert code == 2 and "a task the results file does not report" in err
    else:
        assert code == 1 and "duplicate: " in err and "the same answers" in err
    assert len(list(results_dir.glob("*.json"))) == 1


# ----------------------------------------------------------------------------- judged runs


def _judge_server(reply):
    """An OpenAI-compatible judge answering ``reply(answer text)``."""

    def respond(path, body):
        said = body["messages"][1]["content"].rsplit("answer:", 1)[1].rstrip("?")
        return 200, completion(reply(said)), None

    return FakeAPIServer(respond)


@pytest.fixture
def judge_env(monkeypatch):
    def configure(server, *, fallback=False):
        monkeypatch.setenv("MMVP_JUDGE_API_KEY", "test-key-123")
        monkeypatch.setenv("MMVP_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("MMVP_JUDGE_MODEL", "judge-model")
        monkeypatch.setenv("MMVP_JUDGE_MAX_RETRIES", "0")
        monkeypatch.setenv("MMVP_JUDGE_CACHE", "off")
        if fallback:
            monkeypatch.setenv("MMVP_JUDGE_FALLBACK", "1")

    def clear():
        for name in ("MMVP_JUDGE_API_KEY", "MMVP_JUDGE_BASE_URL", "MMVP_JUDGE_FALLBACK"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    configure.clear = clear
    return configure


def _official_run(out: Path, data: Path, judge_env) -> Path:
    """mmvp_official, 40 questions: RIGHT answers judged "yes", WRONG "no", VAGUE "no idea"."""

    def respond(task, doc):
        return ("RIGHT", "WRONG", "VAGUE")[doc["Index"] % 3]

    replies = {"RIGHT": "yes", "WRONG": "no", "VAGUE": "no idea"}
    with _judge_server(lambda said: replies[said]) as server:
        judge_env(server)
        run = write_run(out, data, respond, tasks=("mmvp_official",), limit=40)
    judge_env.clear()
    return run


def _fallback_run(out: Path, data: Path, judge_env) -> Path:
    """mmvp with MMVP_JUDGE_FALLBACK=1: every third answer unreadable, graded by the judge."""

    def respond(task, doc):
        if doc["Index"] % 3 == 0:
            return "It looks like the first one, I think." if doc["Index"] % 2 else "Hard to say."
        return answer(doc, True, style=doc["Index"])

    with _judge_server(lambda said: "yes" if "first one" in said else "no") as server:
        judge_env(server, fallback=True)
        run = write_run(out, data, respond, tasks=("mmvp",))
    judge_env.clear()
    return run


def test_judged_runs_are_verified_from_their_logged_replies(data, tmp_path, capsys, judge_env):
    official = _official_run(tmp_path / "official", data, judge_env)
    fallback = _fallback_run(tmp_path / "fallback", data, judge_env)
    results_dir = tmp_path / "results"
    assert _add(capsys, official, results_dir, data, "--partial")[0] == 0
    code, out, err = _add(capsys, fallback, results_dir, data, "--name", "fallback")
    assert code == 0, err
    entry = json.loads(Path(out.split("added ", 1)[1].strip()).read_text())
    logged = [json.loads(line) for line in _samples(fallback).read_text().splitlines()]
    judged = sum(s["mmvp_judged"] for s in logged)
    assert entry["tasks"]["mmvp"]["metrics"]["mmvp_judged"] == judged > 80

    forged = _copy(official, tmp_path / "forged")  # "no idea" verdicts marked correct

    def mark_correct(samples):
        for s in samples:
            for value in s.values():
                if isinstance(value, dict) and s["filtered_resps"] == "VAGUE":
                    value["correct"] = True
        return samples

    _rewrite_samples(forged, "mmvp_official", mark_correct)
    _retally(forged)
    code, _, err = _add(capsys, forged, tmp_path / "other", data, "--partial")
    assert code == 1 and "record_mismatch: mmvp_official:" in err
    assert "field 'correct' logged True, the answer and the data give False" in err


def test_add_compare_leaderboard_never_touch_the_network(data, tmp_path, capsys, judge_env,
                                                         monkeypatch):  # fmt: skip
    """With the judge configured in the maintainer's shell (fallback on), nothing may call it,
    nor the hub, nor anything else."""
    official = _official_run(tmp_path / "official", data, judge_env)
    fallback = _fallback_run(tmp_path / "fallback", data, judge_env)
    connections = []

    def tripwire(sock, address, *args):
        connections.append(address)
        raise OSError(f"network blocked in this test: {address}")

    with _judge_server(lambda said: "yes") as server:
        judge_env(server, fallback=True)
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setattr(socket.socket, "connect", tripwire)
        monkeypatch.setattr(socket.socket, "connect_ex", tripwire)
        results_dir = tmp_path / "results"
        outcomes = [
            _add(capsys, official, results_dir, data, "--partial"),
            _add(capsys, fallback, results_dir, data, "--name", "fallback"),
            _cli(capsys, "report", "add", fallback, "--results", tmp_path / "r2"),
            _cli(capsys, "report", "compare", f"A={fallback}", f"B={fallback}"),
            _leaderboard(capsys, results_dir, tmp_path / "board"),
        ]
    assert server.requests == [] and connections == []
    assert [code for code, _, _ in outcomes] == [0, 0, 0, 0, 0], outcomes


# ----------------------------------------------------------------------------- logged data


def _prompt_of_another_question(samples):
    samples[10]["input"] = samples[40]["input"]
    return samples


def _raw_answer_is_not_the_scored_one(samples):
    samples[6]["resps"] = "<think>hmm</think>(a)" if samples[6]["target"] == "(b)" else (
        "<think>hmm</think>(b)"
    )  # fmt: skip
    return samples


def _record_of_another_document(samples):
    for value in samples[8].values():
        if isinstance(value, dict):
            value.update(index=11, pair_id=6)
    return samples


@pytest.mark.parametrize(
    "tamper, reason",
    [
        (_prompt_of_another_question, "data_mismatch"),
        (_raw_answer_is_not_the_scored_one, "data_mismatch"),
        (_record_of_another_document, "record_mismatch"),
    ],
)
def test_logged_samples_are_checked_against_the_data(tamper, reason, run_a, data, tmp_path,
                                                     capsys):  # fmt: skip
    run = _copy(run_a, tmp_path / "run")
    _rewrite_samples(run, "mmvp", tamper)
    code, _, err = _add(capsys, run, tmp_path / "results", data)
    assert code == 1
    assert re.search(rf"{reason}: mmvp: \S+: line \d+ \(doc_id \d+, Index \d+\)", err), err


# ----------------------------------------------------------------------------- entry files


def test_bad_entry_files_are_named_and_skipped(run_a, data, tmp_path, capsys):
    results_dir = tmp_path / "results"
    code, out, _ = _add(capsys, run_a, results_dir, data)
    good = Path(out.split("added ", 1)[1].strip())
    entry = json.loads(good.read_text())

    def bad(name, edit):
        copy = json.loads(json.dumps(entry))
        copy["id"] = name
        copy["model"]["name"] = name
        edit(copy)
        (results_dir / f"{name}.json").write_text(json.dumps(copy))

    # Records that contradict the stated question accuracy; a string metric; unknown field.
    bad("contradicts", lambda e: e["tasks"]["mmvp"]["metrics"].update(mmvp_accuracy=0.9))
    bad("stringly", lambda e: e["tasks"]["mmvp"]["metrics"].update(mmvp_unparseable="many"))
    bad("extra", lambda e: e.update(verified=True))
    (results_dir / "broken.json").write_text("{not json")
    code, _, err = _leaderboard(capsys, results_dir, tmp_path / "board")
    assert code == 0
    for name in ("contradicts", "stringly", "extra", "broken"):
        assert f"skipped {results_dir / name}.json" in err
    markdown = (tmp_path / "board.md").read_text()
    assert "| tiny-model |" in markdown
    assert not any(name in markdown for name in ("contradicts", "stringly", "extra"))


# ----------------------------------------------------------------------------- output


HOSTILE_NAME = "evil\r# Injected heading|x\u2028y\x1b[2J\x07\u202e"


@pytest.fixture(scope="module")
def hostile_board(run_a, data, tmp_path_factory):
    """Two entries, one named with control and table-breaking characters."""
    results_dir = tmp_path_factory.mktemp("results")
    assert main(["report", "add", str(run_a), "--results", str(results_dir), "--data",
                 str(data), "--name", HOSTILE_NAME]) == 0  # fmt: skip
    other = write_run(tmp_path_factory.mktemp("other"), data, pair_responder(set(range(1, 90))),
                      timestamp="20260105_000000")  # fmt: skip
    assert main(["report", "add", str(other), "--results", str(results_dir), "--data",
                 str(data), "--name", "plain"]) == 0  # fmt: skip
    return results_dir


def test_markdown_escapes_control_and_table_characters(hostile_board, tmp_path, capsys):
    assert _leaderboard(capsys, hostile_board, tmp_path / "board")[0] == 0
    markdown = (tmp_path / "board.md").read_text()
    lines = markdown.split("\n")
    assert lines == markdown.splitlines() + [""]  # no \r, \u2028 or other line break inside
    assert not any(line.startswith("# Injected") for line in lines)
    row = next(line for line in lines if line.startswith("| evil"))
    header = next(line for line in lines if line.startswith("| Model"))
    assert len(re.findall(r"(?<!\\)\|", row)) == len(re.findall(r"(?<!\\)\|", header))
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl") for c in markdown if c != "\n")


def _control_characters(text: str) -> list[str]:
    return [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]


def test_terminal_output_has_no_control_characters(hostile_board, run_a, data, tmp_path,
                                                   capsys):  # fmt: skip
    entries = sorted(hostile_board.glob("*.json"))
    forged = _copy(run_a, tmp_path / "forged")
    content = json.loads(forged.read_text())
    content["results"]["mmvp"]["mmvp_accuracy,none"] = HOSTILE_NAME
    forged.write_text(json.dumps(content))
    outputs = [
        _cli(capsys, "report", "compare", *entries),
        _cli(capsys, "report", "ablation", entries[0]),
        _cli(capsys, "report", "add", forged, "--results", tmp_path / "r", "--data", data),
    ]
    (hostile_board / "evil.json").write_text(json.dumps({"schema_version": HOSTILE_NAME}))
    outputs.append(_leaderboard(capsys, hostile_board, tmp_path / "board"))
    (hostile_board / "evil.json").unlink()
    for _code, out, err in outputs:
        assert not _control_characters(out + err), (out + err)[:2000]
    assert "evil\\x0d# Injected heading" in outputs[0][1]


def test_page_runs_only_its_own_script_and_style(hostile_board, tmp_path, capsys):
    import base64
    import hashlib

    assert _leaderboard(capsys, hostile_board, tmp_path / "board")[0] == 0
    html = (tmp_path / "board.html").read_text()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)[1]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    script = re.findall(r"<script>(.*?)</script>", html, re.S)
    style = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert len(script) == len(style) == 1

    def source(content):
        return "'sha256-" + base64.b64encode(hashlib.sha256(content.encode()).digest()).decode()

    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == source(script[0]) + "'"
    assert directives["style-src"] == source(style[0]) + "'"
    assert directives["default-src"] == "'none'"


# ----------------------------------------------------------------------------- malformed files


def _deep_json_line(samples):
    return ["[" * 100_000 + "]" * 100_000] + [json.dumps(s) for s in samples]


def _list_as_doc_id(samples):
    samples[2]["doc_id"] = [2]
    return [json.dumps(s) for s in samples]


def _array_line(samples):
    return [json.dumps(s) for s in samples[:4]] + ["[1, 2, 3]"]


def _huge_integer(samples):
    samples[1]["doc_id"] = "9" * 5000
    return [json.dumps(s).replace('"' + "9" * 5000 + '"', "9" * 5000) for s in samples]


def _answer_not_a_string(samples):
    samples[0]["filtered_resps"] = {"text": "A"}
    return [json.dumps(s) for s in samples]


MALFORMED_SAMPLES = {
    "deep JSON": (_deep_json_line, r"line 1: not JSON"),
    "list as doc_id": (_list_as_doc_id, r"line 3: field 'doc_id': a list where an integer"),
    "array line": (_array_line, r"line 5: a list where a sample object belongs"),
    "huge integer": (_huge_integer, r"line 2: not JSON this reader accepts"),
    "answer not a string": (_answer_not_a_string, r"line 1: field 'filtered_resps': an object"),
}


def _one_clean_message(err: str, path: Path, pattern: str) -> None:
    assert "Traceback" not in err
    assert err.count("\n") == 1, err  # one message
    assert str(path) in err and re.search(pattern, err), err


@pytest.mark.parametrize("case", sorted(MALFORMED_SAMPLES))
def test_malformed_samples_file_one_message(case, run_a, data, tmp_path, capsys):
    mutate, pattern = MALFORMED_SAMPLES[case]
    run = _copy(run_a, tmp_path / "run")
    path = _samples(run)
    samples = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("\n".join(mutate(samples)) + "\n")
    code, _, err = _add(capsys, run, tmp_path / "results", data)
    assert code == 2
    _one_clean_message(err, path, pattern)


def test_non_utf8_answer_names_the_line(run_a, data, tmp_path, capsys):
    run = _copy(run_a, tmp_path / "run")
    path = _samples(run)
    lines = path.read_bytes().split(b"\n")
    lines[6] = lines[6].replace(b'"filtered_resps": "', b'"filtered_resps": "\xff\xfe', 1)
    path.write_bytes(b"\n".join(lines))
    code, _, err = _add(capsys, run, tmp_path / "results", data)
    assert code == 2
    _one_clean_message(err, path, r"line 7: not UTF-8 text \(byte 0xff\)")


@pytest.mark.parametrize(
    "content, pattern",
    [
        ("[" * 100_000 + "]" * 100_000, r"not JSON"),
        ('{"results": [1, 2]}', r"not an lmms-eval results file"),
        ('{"results": {"mmvp": {"mmvp_pair_accuracy,none": 1}}, "config": {"model_args": [1]}}',
         r"field 'config.model_args': a list where"),
    ],
)  # fmt: skip
def test_malformed_results_file_one_message(content, pattern, data, tmp_path, capsys):
    path = tmp_path / "20260101_000000_results.json"
    path.write_text(content)
    code, _, err = _add(capsys, path, tmp_path / "results", data)
    assert code == 2
    _one_clean_message(err, path, pattern)


def test_oversized_file_is_refused_before_reading(run_a, data, tmp_path, capsys, monkeypatch):
    from lmms_mmvp.report import files

    monkeypatch.setattr(files, "MAX_LINES_BYTES", 1000)
    code, _, err = _add(capsys, run_a, tmp_path / "results", data)
    assert code == 2
    _one_clean_message(err, _samples(run_a), r"bytes, over the limit of 1,000")


@pytest.mark.parametrize(
    "content, pattern",
    [
        (b'{"question_id": 1, "response": "\xff"}\n', r"line 1: not UTF-8"),
        (b'{"question_id": [1], "response": "A"}\n', r"line 1: field 'question_id': \[1\]"),
        (b'{"question_id": 1, "response": ["A"]}\n', r"line 1: field 'response'"),
        (b"[" * 100_000 + b"]" * 100_000 + b"\n", r"line 1: not JSON"),
        (b'{"question_id": "\xc2\xb2", "response": "A"}\n', r"line 1: field 'question_id'"),
    ],
)
def test_malformed_answers_file_one_message(content, pattern, tmp_path, capsys):
    path = tmp_path / "answers.jsonl"
    path.write_bytes(content)
    code, _, err = _cli(capsys, "grade", path, "--partial")
    assert code == 2
    _one_clean_message(err, path, pattern)


def test_many_sample_lines_are_checked_in_linear_time(run_a, data, tmp_path, capsys):
    """40,000 logged samples (every question 133 times): the duplicate check took 34 s when it
    was quadratic; linear, it is well under a second. The bound leaves a wide margin for a busy
    machine."""
    run = _copy(run_a, tmp_path / "run")
    path = _samples(run)
    first = json.loads(path.read_text().splitlines()[0])
    sample = {k: first[k] for k in ("target", "input", "filtered_resps")}
    lines = [json.dumps({**sample, "doc_id": k % 300}) for k in range(40_000)]
    path.write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    code, _, err = _add(capsys, run, tmp_path / "results", data)
    elapsed = time.perf_counter() - started
    assert elapsed < 15, f"{elapsed:.1f} s"
    assert code == 1 and "missing_sample: mmvp: doc_id(s) logged" in err


# ----------------------------------------------------------------------------- fuzzing


def _mutations(rng: random.Random, text: str) -> str:
    """One random corruption of a JSON or JSON Lines text, of the kinds careless tools and
    hostile submitters produce."""
    lines = text.split("\n")
    kind = rng.randrange(10)
    i = rng.randrange(len(lines))
    if kind == 0:  # drop or duplicate a line
        del lines[i]
    elif kind == 1:
        lines.insert(i, lines[rng.randrange(len(lines))])
    elif kind == 2:  # cut the file anywhere
        return text[: rng.randrange(len(text) + 1)]
    elif kind == 3:  # flip bytes to random characters (controls and non-ASCII included)
        chars = list(text)
        for _ in range(rng.randint(1, 5)):
            chars[rng.randrange(len(chars))] = chr(
                rng.choice([0, 7, 13, 27, 0x85, 0x2028, 0xD800, rng.randrange(0x110000)])
            )
        return "".join(chars)
    elif kind in (4, 5, 6, 7):  # replace one JSON value with a value of another shape
        values = [list(m.span()) for m in re.finditer(
            r'(?<=: )("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)', lines[i])]  # fmt: skip
        if values:
            start, end = rng.choice(values)
            replacement = rng.choice([
                "[1]", "{}", '"x"', "-1", "1e400", "NaN", "null", "true", "[[[[[[[]]]]]]]",
                '"\\u0000\\u001b[31m"', '"\\ud800"', "3.5", "99999999999999999999", '""',
                '[' * 50 + ']' * 50, '{"a": ' * 40 + "1" + "}" * 40,
            ])  # fmt: skip
            lines[i] = lines[i][:start] + replacement + lines[i][end:]
    elif kind == 8:  # an object or list member set to null (still valid JSON)
        lines[i] = re.sub(r": [{\[]", lambda m: ': null, "_": ' + m[0][2], lines[i], count=1)
    else:  # swap two lines
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def test_fuzzed_runs_never_crash(data, tmp_path, capsys):
    """Seeded random corruptions of a run's results and samples files: every outcome is an
    entry (0), a rejection with reasons (1) or one message naming the file (2), never a
    traceback."""
    base = write_run(tmp_path / "base", data, pair_responder(set(range(1, 9))), tasks=("mmvp",),
                     limit=24)  # fmt: skip
    rng = random.Random(20)
    outcomes = {0: 0, 1: 0, 2: 0}
    for k in range(240):
        run = _copy(base, tmp_path / f"run{k}")
        target = _samples(run) if k % 3 else run
        target.write_bytes(_mutations(rng, target.read_text()).encode("utf-8", "surrogatepass"))
        code, out, err = _add(capsys, run, tmp_path / f"results{k}", data, "--partial")
        outcomes[code] += 1
        assert "Traceback" not in err
        if code == 2:
            assert err.count("\n") == 1 and str(target) in err, (k, err)
        assert not _control_characters(out + err), (k, err)
        shutil.rmtree(run.parent)
    assert outcomes[1] > 20 and outcomes[2] > 20, outcomes


def test_fuzzed_answer_files_never_crash(tmp_path, capsys):
    rows = [{"question_id": int(r["Index"]), "response": f"({'ab'[int(r['Index']) % 2]})"}
            for r in real_rows()[:40]]  # fmt: skip
    text = "".join(json.dumps(r) + "\n" for r in rows)
    rng = random.Random(21)
    for k in range(200):
        path = tmp_path / f"answers{k}.jsonl"
        path.write_bytes(_mutations(rng, text).encode("utf-8", "surrogatepass"))
        code, out, err = _cli(capsys, "grade", path, "--partial")
        assert code in (0, 2) and "Traceback" not in err
        if code == 2:
            assert err.count("\n") == 1 and str(path) in err, (k, err)
        assert not _control_characters(out + err), (k, err)


def test_fuzzed_entries_are_skipped_never_shown(run_a, data, tmp_path, capsys):
    """Corrupted entry files: each one is either still valid or named and skipped."""
    code, out, _ = _add(capsys, run_a, tmp_path / "results", data)
    good = Path(out.split("added ", 1)[1].strip())
    text = json.dumps(json.loads(good.read_text()), indent=1)
    rng = random.Random(22)
    for k in range(120):
        board = tmp_path / f"board{k}"
        board.mkdir()
        path = board / good.name
        path.write_bytes(_mutations(rng, text).encode("utf-8", "surrogatepass"))
        code, out, err = _leaderboard(capsys, board, tmp_path / f"lb{k}")
        assert code == 0 and "Traceback" not in err, (k, err)
        assert err == "" or err == f"mmvp report leaderboard: skipped {path}" + err.split(
            str(path), 1)[1], (k, err)  # fmt: skip
        assert err.count("\n") <= 1 and not _control_characters(out + err), (k, err)
        if err:  # skipped: not on the page
            assert "| tiny-model |" not in (tmp_path / f"lb{k}.md").read_text(), k


# ----------------------------------------------------------------------------- no data, no hub


def test_grade_reads_only_questions_csv(tmp_path, capsys):
    only_csv = tmp_path / "data"
    only_csv.mkdir()
    (only_csv / "Questions.csv").write_bytes(
        (Path(__file__).parents[1] / "mmvp_tasks/questions/Questions.csv").read_bytes()
    )
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps({"question_id": i, "response": "(a)"}) + "\n"
                            for i in range(1, 301)))  # fmt: skip
    code, out, err = _cli(capsys, "grade", path, "--data", only_csv, "--answer-key", "original")
    assert code == 0, err
    assert "pair accuracy      0.0%" in out and "question accuracy  50.0%" in out


OFFLINE_SCRIPT = """
import sys
from lmms_mmvp.cli import main
for argv in {commands!r}:
    print("rc", argv[:2], main(argv), flush=True)
from mmvp_tasks import harness, vlm_harness
for load in (harness.process_docs_original, vlm_harness.process_docs):
    try:
        load(None)
    except Exception as err:
        print("task:", type(err).__name__, err, "| chained:", err.__cause__ is not None
              or not err.__suppress_context__, flush=True)
"""


@pytest.mark.slow
def test_no_data_and_no_network(run_a, tmp_path):
    """Offline, with an empty hub cache and no local data: every command works on the shipped
    questions; the tasks say in one message how to give the data."""
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"question_id": i, "response": "(a)"}) + "\n"
                               for i in range(1, 301)))  # fmt: skip
    results_dir = tmp_path / "results"
    commands = [
        ["grade", str(answers)],
        ["report", "add", str(run_a), "--results", str(results_dir)],
        ["report", "compare", f"A={run_a}", f"B={run_a}"],
        ["report", "ablation", str(run_a)],
        ["report", "leaderboard", "--results", str(results_dir), "--out", str(tmp_path / "lb")],
    ]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).parents[1])}  # fmt: skip
    script = OFFLINE_SCRIPT.format(commands=commands)
    completed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                               text=True, timeout=600)  # fmt: skip
    out = completed.stdout
    assert "Traceback" not in completed.stderr, completed.stderr[-3000:]
    for argv in commands:
        assert f"rc {argv[:2]!r} 0" in out, (argv, out, completed.stderr[-3000:])
    tasks = [line for line in out.splitlines() if line.startswith("task:")]
    assert len(tasks) == 2, out
    for line, variable in zip(tasks, ("MMVP_DATA_DIR", "MMVP_VLM_DATA_DIR"), strict=True):
        assert "DataUnavailableError" in line and "unreachable" in line
        assert f"{variable}=/path/to/copy" in line and "--data" in line
        assert line.endswith("chained: False")


# ----------------------------------------------------------------------------- comparability


def test_one_comparability_rule_everywhere(run_a, data, tmp_path, capsys):
    """add, leaderboard and compare refuse other answer keys with the same words: one check."""
    results_dir = tmp_path / "results"
    code, out, _ = _add(capsys, run_a, results_dir, data)
    first = Path(out.split("added ", 1)[1].strip())
    original = write_run(tmp_path / "orig", data, pair_responder({1}), answer_key="original",
                         timestamp="20260105_000000")  # fmt: skip
    code, _, add_err = _add(capsys, original, results_dir, data)
    assert code == 1
    verified_dir = tmp_path / "other"
    assert _add(capsys, original, verified_dir, data)[0] == 0
    second = next(verified_dir.glob("*.json"))
    shutil.copy(second, results_dir / second.name)
    code, _, board_err = _leaderboard(capsys, results_dir, tmp_path / "board")
    assert code == 2
    code, _, compare_err = _cli(capsys, "report", "compare", first, second)
    assert code == 2
    for err in (add_err, board_err, compare_err):
        assert "different answer keys cannot share a table" in err, err


def test_compare_two_runs_mcnemar_by_hand(data, tmp_path, capsys):
    """A gets pairs 1-60, B pairs 51-70: 50 pairs only A gets, 10 only B gets; the exact
    McNemar p-value is 2 * P(X <= 10), X ~ Bin(60, 1/2)."""
    a = write_run(tmp_path / "a", data, pair_responder(set(range(1, 61))), tasks=("mmvp",))
    b = write_run(tmp_path / "b", data, pair_responder(set(range(51, 71))), tasks=("mmvp",))
    code, out, err = _cli(capsys, "report", "compare", f"A={a}", f"B={b}", "--data", data)
    assert code == 0, err
    p = 2 * sum(math.comb(60, k) for k in range(11)) / 2**60  # 1.616e-07
    assert "A - B: +26.7 points" in out
    assert f"pairs only A gets: 50, only B gets: 10; exact McNemar p = {p:.3g}" in out
    assert "(significant at 0.05)" in out
