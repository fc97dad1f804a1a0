"""The lmms-eval glue of the MMVP tasks: documents, prompts and per-document scoring."""

from __future__ import annotations

import pytest

from mmvp_tasks import harness
from mmvp_tasks.markers import failed_response, refused_response

DOC = {
    "Index": 7,
    "Question": "Is the dog facing left or right?",
    "Options": "(a) Left (b) Right",
    "Correct Answer": "(b)",
    "pattern": "od",
    "answer_key": "corrected",
}


@pytest.mark.parametrize(
    "response, status, correct",
    [
        ("B", "answered", True),
        ("The dog is facing a tree on the right", "answered", True),
        ("A", "answered", False),
        ("I am not sure", "unparseable", False),
        (failed_response("HTTP 503"), "failed", False),
        (refused_response("blocked"), "refused", False),
    ],
)
def test_process_results_statuses(response, status, correct):
    scores = harness.process_results(DOC, [response])
    assert set(scores) == {*harness.METRICS, harness.JUDGED}
    record = scores["mmvp_pair_accuracy"]
    assert (record["status"], record["correct"]) == (status, correct)
    assert record["pair_id"] == 4 and record["pattern"] == "od"


@pytest.mark.parametrize(
    "process_docs, options, answer",
    [
        (harness.process_docs_original, "(a) Open (b) Closed", "(a)"),
        (harness.process_docs_option_swap, "(a) Closed (b) Open", "(b)"),
        (harness.process_docs_symbol_change, "(1) Open (2) Closed", "(1)"),
    ],
)
def test_documents_of_each_variant(process_docs, options, answer, real_mmvp_dir, monkeypatch):
    monkeypatch.setenv("MMVP_DATA_DIR", str(real_mmvp_dir))
    docs = process_docs(None)
    assert len(docs) == 300
    first = docs[0]
    assert (first["Index"], first["Options"], first["Correct Answer"]) == (1, options, answer)
    assert first["answer_key"] == "corrected"
    assert first["image"].size == (16, 16)  # decoded lazily by datasets


def test_answer_key_from_the_environment(real_mmvp_dir, monkeypatch):
    monkeypatch.setenv("MMVP_DATA_DIR", str(real_mmvp_dir))
    monkeypatch.setenv("MMVP_ANSWER_KEY", "original")
    docs = harness.process_docs_original(None)
    assert docs[98]["Correct Answer"] == "(a)" and docs[98]["answer_key"] == "original"


def test_symbol_change_prompt_and_scoring(real_mmvp_dir, monkeypatch):
    monkeypatch.setenv("MMVP_DATA_DIR", str(real_mmvp_dir))
    doc = harness.process_docs_symbol_change(None)[0]
    kwargs = {"pre_prompt": "", "post_prompt": "\nAnswer with the option's number."}
    assert harness.doc_to_text(doc, kwargs).splitlines()[1:3] == ["1. Open", "2. Closed"]
    assert harness.process_results(doc, ["1"])["mmvp_accuracy"]["correct"]
    assert harness.process_results(doc, ["Option 1"])["mmvp_accuracy"]["correct"]
    assert not harness.process_results(doc, ["(2)"])["mmvp_accuracy"]["correct"]
