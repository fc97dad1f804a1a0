"""`mmvp grade`: answer files of the original MMVP scripts and plain CSVs, scored by the mmvp task's
own reader (or the LLM judge) against the real questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmms_mmvp.cli import main
from lmms_mmvp.report.grade import grade, read_answers
from lmms_mmvp.report.tasks import task_spec
from tests.support.fake_api import FakeAPIServer, completion
from tests.support.mmvp_data import real_rows

# Written by hand in the format of tsb0601/MMVP scripts/evaluate_mllm.py (question_id = Index,
# prompt = "{Question} {Options}", answer = the CSV's key, response = the model's text).
HAND_WRITTEN = [
    {"question_id": 1, "prompt": "Are the butterfly's wings closer to being open or closed? "
     "(a) Open (b) Closed", "answer": "(a)", "response": "The wings are open.",
     "answer_id": "h1", "model_id": "llava-v1.5-13b"},
    {"question_id": 2, "prompt": "Are the butterfly's wings closer to being open or closed? "
     "(a) Open (b) Closed", "answer": "(b)", "response": "(b) Closed",
     "answer_id": "h2", "model_id": "llava-v1.5-13b"},
    {"question_id": 3, "prompt": "Is the flame of the match more round or thin? (a) Round "
     "(b) Thin", "answer": "(a)", "response": "(a)", "answer_id": "h3",
     "model_id": "llava-v1.5-13b"},
    {"question_id": 4, "prompt": "Is the flame of the match more round or thin? (a) Round "
     "(b) Thin", "answer": "(b)", "response": "I cannot tell from this picture.",
     "answer_id": "h4", "model_id": "llava-v1.5-13b"},
]  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from tests.support.mmvp_data import write_mmvp_dir

    return write_mmvp_dir(tmp_path_factory.mktemp("real_mmvp"), real_rows())


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _full_answers() -> list[dict]:
    """300 answers, right or wrong by the ORIGINAL key: both questions right for 60 pairs
    (1-49, 51-61), only the first for 40 (50, 62-100), none for 50 (101-150); one of those
    wrong answers is unparseable (Index 239)."""
    both = set(range(1, 50)) | set(range(51, 62))
    rows = []
    for row in real_rows():
        index = int(row["Index"])
        pair = (index - 1) // 2 + 1
        right = pair in both or (pair <= 100 and index % 2 == 1)
        key = row["Correct Answer"].strip("()")
        label = key if right else {"a": "b", "b": "a"}[key]
        forms = [f"({label})", label.upper(), f"The answer is ({label}).", f"{label})"]
        response = "I cannot tell." if index == 239 else forms[index % 4]
        rows.append({"question_id": index, "prompt": f"{row['Question']} {row['Options']}",
                     "answer": row["Correct Answer"], "response": response})  # fmt: skip
    return rows


def test_hand_written_answers_in_the_original_format(data, tmp_path, capsys):
    path = _jsonl(tmp_path / "answers.jsonl", HAND_WRITTEN)
    argv = ["grade", str(path), "--data", str(data), "--partial"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    # Pair 1 both right ("open" by text, "(b) Closed"); pair 2: "(a)" right, the other unparseable.
    assert "pair accuracy      50.0%" in out and "2 pairs" in out
    assert "question accuracy  75.0%" in out
    assert "unparseable        1" in out


@pytest.mark.parametrize(
    "answer_key, pairs_right, questions_right",
    [
        ("original", 60, 160),
        # corrected key: pair 140 (Index 279/280, both "wrong" by the original key) becomes right;
        # pair 50 (Index 99/100, first right only) keeps one right answer.
        ("corrected", 61, 162),
    ],
)
def test_full_answer_file_known_score(data, answer_key, pairs_right, questions_right):
    docs = task_spec("mmvp").documents(data, answer_key)
    answers = {r["question_id"]: r["response"] for r in _full_answers()}
    metrics = grade(answers, docs, "mmvp")
    assert metrics["mmvp_pair_accuracy"] == pytest.approx(pairs_right / 150)
    assert metrics["mmvp_accuracy"] == pytest.approx(questions_right / 300)
    assert metrics["mmvp_unparseable"] == 1 and metrics["mmvp_scored_pairs"] == 150
    assert metrics["mmvp_answer_key"] == answer_key
    assert len([k for k in metrics if k.endswith("_unofficial")]) == 9


def test_csv_and_llava_text_field_read_the_same(tmp_path):
    rows = _full_answers()
    csv = tmp_path / "answers.csv"
    lines = ["Index,response"] + [f'{r["question_id"]},"{r["response"]}"' for r in rows]
    csv.write_text("\n".join(lines) + "\n")
    llava = _jsonl(tmp_path / "llava.jsonl", [
        {"question_id": str(r["question_id"]), "text": r["response"]} for r in rows
    ])  # fmt: skip
    original = _jsonl(tmp_path / "original.jsonl", rows)
    assert read_answers(csv) == read_answers(llava) == read_answers(original)
    assert len(read_answers(csv)) == 300


def test_grade_command_writes_json(data, tmp_path, capsys):
    path = _jsonl(tmp_path / "answers.jsonl", _full_answers())
    out = tmp_path / "metrics.json"
    argv = ["grade", str(path), "--data", str(data), "--answer-key", "original", "--json", str(out)]
    assert main(argv) == 0
    assert "pair accuracy      40.0%" in capsys.readouterr().out
    assert json.loads(out.read_text())["mmvp_pair_accuracy"] == pytest.approx(0.4)


@pytest.mark.parametrize(
    "rows, message",
    [
        (HAND_WRITTEN + [{"question_id": 301, "response": "A"}], "unknown question id(s) 301"),
        (HAND_WRITTEN + [{"question_id": 2, "response": "A"}], "line 5: question 2 already "
         "answered on line 2"),
        (HAND_WRITTEN[:3], "297 question(s) without an answer: 4, 5, 6"),
        ([{"question_id": 1, "answer": "(a)"}], "line 1: no field 'response' or 'text'"),
        ([{"response": "A"}], "line 1: no field 'question_id'"),
        ([{"question_id": "one", "response": "A"}], "line 1: field 'question_id': 'one' is not"),
    ],
)  # fmt: skip
def test_clear_errors(rows, message, data, tmp_path, capsys):
    path = _jsonl(tmp_path / "answers.jsonl", rows)
    assert main(["grade", str(path), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("mmvp grade: error:")


def test_csv_without_the_response_column(data, tmp_path, capsys):
    path = tmp_path / "answers.csv"
    path.write_text("Index,answer\n1,A\n")
    assert main(["grade", str(path), "--data", str(data)]) == 2
    assert "missing column(s) ['response']" in capsys.readouterr().err


def test_judge_grades_free_form_answers(data, tmp_path, monkeypatch, capsys):
    """With --judge every answer goes to the paper's grader prompt; its yes/no decides."""

    def respond(path, body):
        said = body["messages"][1]["content"].rsplit("answer:", 1)[1]
        return 200, completion("Yes" if said.startswith("RIGHT") else "No"), None

    rows = [{"question_id": i, "response": "RIGHT" if i in (1, 2, 3) else "WRONG"}
            for i in range(1, 9)]  # fmt: skip
    path = _jsonl(tmp_path / "answers.jsonl", rows)
    with FakeAPIServer(respond) as server:
        monkeypatch.setenv("MMVP_JUDGE_API_KEY", "test-key-123")
        monkeypatch.setenv("MMVP_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("MMVP_JUDGE_MODEL", "judge-model")
        argv = ["grade", str(path), "--data", str(data), "--judge", "--partial"]
        assert main(argv) == 0
    out = capsys.readouterr().out
    assert len(server.requests) == 8 and "LLM judge" in out
    assert "pair accuracy      25.0%" in out and "question accuracy  37.5%" in out


def test_judge_needs_a_key(data, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MMVP_JUDGE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = _jsonl(tmp_path / "answers.jsonl", HAND_WRITTEN)
    assert main(["grade", str(path), "--data", str(data), "--judge", "--partial"]) == 2
    assert "needs an API key: set MMVP_JUDGE_API_KEY" in capsys.readouterr().err
