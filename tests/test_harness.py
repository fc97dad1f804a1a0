"""The lmms-eval glue of the MMVP tasks: documents, prompts and per-document scoring."""

from __future__ import annotations

import pytest

from mmvp_tasks import ablations, harness
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


def test_documents_take_the_data_dir_and_answer_key_as_arguments(real_mmvp_dir, monkeypatch):
    """What the tools that grade existing answers use: given arguments win over the
    environment, which the hooks read."""
    monkeypatch.setenv("MMVP_DATA_DIR", str(real_mmvp_dir.parent / "elsewhere"))
    monkeypatch.setenv("MMVP_ANSWER_KEY", "corrected")
    source = harness.data_source_from_env(real_mmvp_dir, "original")
    docs = harness.document_rows(source, ablations.swap_options, images=False)
    assert docs[98]["answer_key"] == "original" and docs[98]["Correct Answer"] == "(b)"
    assert f"local {real_mmvp_dir.resolve()}" in docs[0]["data_source"]


def test_the_pattern_mapping_file_is_read_by_the_hook(copy_of_real_mmvp, monkeypatch):
    custom = copy_of_real_mmvp.parent / "custom.csv"
    custom.write_text("Index,Pattern\n" + "".join(f"{i},tx\n" for i in range(1, 301)))
    monkeypatch.setenv("MMVP_DATA_DIR", str(copy_of_real_mmvp))
    monkeypatch.setenv("MMVP_PATTERNS_CSV", str(custom))
    docs = harness.process_docs_original(None)
    assert set(docs["pattern"]) == {"tx"} and str(custom) in docs[0]["pattern_mapping"]
    source = harness.data_source_from_env()
    assert source == harness.DataSource(copy_of_real_mmvp, "corrected", custom)
    assert {d["pattern"] for d in harness.load_documents(source)} == {"tx"}
