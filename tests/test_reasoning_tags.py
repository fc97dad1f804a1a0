"""Reasoning blocks cut from replies before they are graded, exactly as lmms-eval 0.7.3 cuts them in
its scoring loop, so that ``mmvp grade`` on an answers file and a live run score alike."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from lmms_eval.api.reasoning import parse_reasoning_tags_config, strip_reasoning_tags

from lmms_mmvp.cli import main
from lmms_mmvp.report.grade import grade
from lmms_mmvp.report.reasoning import (
    DEFAULT_REASONING_TAGS,
    parse_reasoning_tags,
    strip_reasoning,
)
from lmms_mmvp.report.tasks import task_spec
from tests.support.mmvp_data import real_rows

REPLIES = [
    "<think>The wings look spread, so (a)? No, they are folded.</think>\n\nThe answer is (b).",
    "<think>\nLet me look at the wings.\n</think>\n\n**Final Answer:** (b) Closed",
    "The wings are folded, so (a) is out.</think>\n\n(b) Closed",  # opening tag prefilled
    "<think>first</think>B<think>second</think>",
    "<think>a</think> one </think> two </think> three",
    "<think>never closed (a) ... (b) ... the answer is B",
    "</think>B<think>",  # closing before opening: left as it is
    "<analysis>(a) fits</analysis>(b)",
    "<think>x</think><analysis>y</analysis>  B  ",
    "<analysis>only analysis opened",
    "<THINK>upper case is not a tag</THINK>B",
    "<think><think>nested</think>inner</think>B",
    "no tags at all, (b) Closed",
    "",
    "   ",
    "<think></think>",
    "</think>",
    "<think>",
    "<reasoning>custom</reasoning> B",
    "<reasoning>unclosed custom B",
    "custom closing only</reasoning>B",
]
TAG_SETS = [
    DEFAULT_REASONING_TAGS,
    (("<reasoning>", "</reasoning>"),),
    (("<think>", "</think>"),),
    (("<analysis>", "</analysis>"), ("<think>", "</think>")),
    (("[[", "]]"),),
]


@pytest.mark.parametrize("tags", TAG_SETS)
def test_stripping_matches_lmms_eval_on_every_reply(tags):
    for reply in REPLIES:
        expected = strip_reasoning_tags(reply, [list(pair) for pair in tags])
        assert strip_reasoning(reply, tags) == expected, reply


def test_the_default_tags_are_lmms_evals_default(monkeypatch):
    from lmms_eval.__main__ import parse_eval_args

    monkeypatch.setattr("sys.argv", ["lmms-eval"])
    _, args = parse_eval_args()
    assert parse_reasoning_tags(args.reasoning_tags) == DEFAULT_REASONING_TAGS


@pytest.mark.parametrize(
    "value", ['[["<think>", "</think>"]]', '[["<a>", "</a>"], ["<b>", "</b>"]]', "none", "NONE"]
)
def test_tags_option_reads_as_lmms_eval_reads_it(value):
    ours = parse_reasoning_tags(value)
    theirs = parse_reasoning_tags_config(cli_value=value if value != "NONE" else "none")
    assert (ours is None and theirs is None) or [list(p) for p in ours] == theirs


@pytest.mark.parametrize(
    "value, message",
    [
        ("<think>", "not JSON"),
        ('["<think>", "</think>"]', "pairs of non-empty strings"),
        ('[["<think>"]]', "pairs of non-empty strings"),
        ('[["<think>", ""]]', "pairs of non-empty strings"),  # lmms-eval would loop forever
        ('{"open": "<think>"}', "pairs of non-empty strings"),
    ],
)
def test_bad_tags_are_refused(value, message):
    with pytest.raises(ValueError, match=message):
        parse_reasoning_tags(value)


# ----------------------------------------------------------------------------- mmvp grade

# Reasoning-model replies to Index 1 (wings open, (a)) and 2 (wings closed, (b)): the reasoning
# names the other option; only what follows it is the answer.
THINKING = {
    1: "<think>The wings look folded at the tips, so the answer is (b).\nWait, no: both "
    "forewings are spread flat.</think>\n\nThe wings are spread out.\n\n**Answer: (a) Open**",
    2: "Both wings show only their underside, so not (a).</think>\n\nTherefore, (b) Closed.",
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from tests.support.mmvp_data import write_mmvp_dir

    return write_mmvp_dir(tmp_path_factory.mktemp("real_mmvp"), real_rows())


def _records(data, answers, **kwargs) -> dict[int, dict]:
    docs = task_spec("mmvp").documents(data, "corrected")
    metrics = grade(answers, docs, "mmvp", partial=True, **kwargs)
    return {r["index"]: r for r in metrics["records"]}


def test_grade_cuts_reasoning_as_lmms_eval_does(data):
    records = _records(data, THINKING)
    assert records[1]["choice"] == "a" and records[2]["choice"] == "b"
    assert all(r["correct"] for r in records.values())


def test_grade_without_cutting_reads_the_reasoning_too(data):
    records = _records(data, THINKING, reasoning_tags=None)
    assert records[1]["choice"] is None  # the kept reasoning states (b), the answer (a)
    assert records[2]["choice"] == "b"


def test_grade_command_takes_lmms_evals_tag_option(data, tmp_path, capsys):
    answers = {1: THINKING[1].replace("think>", "reasoning>"), 2: THINKING[2]}
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps({"question_id": i, "response": r}) + "\n"
                            for i, r in answers.items()))  # fmt: skip
    base = ["grade", str(path), "--data", str(data), "--partial"]
    tags = '[["<reasoning>", "</reasoning>"], ["<think>", "</think>"]]'
    assert main([*base, "--reasoning-tags", tags]) == 0
    assert "question accuracy  100.0%" in capsys.readouterr().out
    assert main([*base, "--reasoning-tags", "none"]) == 0
    assert "unparseable        1" in capsys.readouterr().out


def test_grade_command_refuses_bad_tags_by_name(data, tmp_path, capsys):
    path = tmp_path / "answers.jsonl"
    path.write_text(json.dumps({"question_id": 1, "response": "A"}) + "\n")
    with pytest.raises(SystemExit) as exited:
        main(["grade", str(path), "--data", str(data), "--reasoning-tags", '["<think>"]'])
    assert exited.value.code == 2
    assert "--reasoning-tags" in capsys.readouterr().err


# ----------------------------------------------------------------------------- against a live run


def _reasoning_reply(first: str, second: str) -> str:
    """A reasoning model's reply to the question with options ``first`` (A) and ``second`` (B),
    so both questions of a pair get the same reply. Its shape varies with the options: a full
    block, a closing tag only (the opening one prefilled), no reasoning, an unclosed block."""
    weighing = f"{first} or {second}? At first sight the answer is (A). No, wait: B"
    shape = sum(map(ord, first + second)) % 4
    if shape == 0:
        return f"<think>{weighing} fits better.</think>\n\nThe answer is (B)."
    if shape == 1:
        return f"{weighing} fits better.</think>\n\n**{second}**"
    if shape == 2:
        return "B"
    return f"<think>{first} or {second}? Let me look more closely at the"  # cut off


@pytest.mark.slow
def test_grading_the_replies_of_a_live_run_scores_as_the_run(synthetic_data, tmp_path):
    """lmms-eval runs the mmvp task against a server that answers like a reasoning model; the
    same replies in an answers file, graded, give the run's scores."""
    from lmms_mmvp.demo import lmms_eval_command
    from mmvp_tasks.answers import parse_options
    from tests.support.cli import run_evaluation
    from tests.support.fake_api import FakeAPIServer, completion

    def respond(path, body):
        content = body["messages"][-1]["content"]
        prompt = next(part["text"] for part in content if part["type"] == "text")
        first, second = re.findall(r"^[AB]\. (.*)$", prompt, re.M)
        return 200, completion(_reasoning_reply(first, second)), None

    limit = 40
    with FakeAPIServer(respond) as server:
        command = lmms_eval_command(Path("unused"), "mmvp", tmp_path / "out", limit=limit,
                                    model="mmvp_openai")  # fmt: skip
        command[command.index("--model_args") + 1] = (
            f"model=gpt-4o,base_url={server.base_url},max_retries=1,cache_dir={tmp_path / 'c'}"
        )
        env = {**os.environ, "MMVP_DATA_DIR": str(synthetic_data.mmvp_dir),
               "OPENAI_API_KEY": "test-key-123"}  # fmt: skip
        run, _, _ = run_evaluation(command, tmp_path / "out", env=env)
    assert len(server.requests) == limit
    live = run["results"]["mmvp"]

    docs = task_spec("mmvp").documents(synthetic_data.mmvp_dir, "corrected")
    answers = {
        doc["Index"]: _reasoning_reply(*(o.text for o in parse_options(doc["Options"])))
        for doc in docs[:limit]
    }
    graded = grade(answers, docs, "mmvp", partial=True)
    for metric in ("mmvp_accuracy", "mmvp_pair_accuracy", "mmvp_unparseable"):
        assert graded[metric] == pytest.approx(live[f"{metric},none"]), metric
    assert live["mmvp_unparseable,none"] > 0  # the unclosed blocks: unparseable in both
    kept = grade(answers, docs, "mmvp", partial=True, reasoning_tags=None)
    assert kept["mmvp_unparseable"] > graded["mmvp_unparseable"]
