"""The mmvp_vlm task as lmms-eval builds it: documents, requests, metric names, aggregation."""

from __future__ import annotations

import math

import pytest

from lmms_mmvp.plugin import TASKS_DIR
from mmvp_tasks.patterns import PATTERNS

PAPER_METRICS = {f"mmvp_vlm_{p.slug}" for p in PATTERNS} | {"mmvp_vlm_average"}


@pytest.fixture(scope="module")
def task(synthetic_data):
    import lmms_eval.models  # noqa: F401  (loads our entry point, as the CLI does)
    from lmms_eval.tasks import TaskManager

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMVP_VLM_DATA_DIR", str(synthetic_data.mmvp_vlm_dir))
        manager = TaskManager()
        yaml_path = manager.task_index["mmvp_vlm"]["yaml_path"]
        assert yaml_path == str(TASKS_DIR / "mmvp_vlm" / "mmvp_vlm.yaml")
        return manager.load_task_or_group(["mmvp_vlm"])["mmvp_vlm"]


def test_documents_are_statement_image_combinations(task):
    docs = task.test_docs()
    assert task.OUTPUT_TYPE == "loglikelihood"
    assert len(docs) == 540
    doc = docs[2]
    assert (doc["Question ID"], doc["image_slot"], doc["pair_id"], doc["Type"]) == (
        2,
        1,
        1,
        "Orientation",
    )
    assert task.doc_to_text(doc) == ""
    assert task.doc_to_target(doc) == "a photo of " + doc["Statement"]
    (image,) = task.doc_to_visual(doc)
    assert image.mode == "RGB" and image.size == (224, 224)


def test_requests_carry_what_a_simple_models_loglikelihood_unpacks(task):
    doc = task.test_docs()[5]
    metadata = {"task": "mmvp_vlm", "doc_id": 5, "repeats": 1, "split": "train"}
    request = task.construct_requests(doc_id=5, ctx="", metadata=metadata)
    context, doc_to_target, doc_to_visual, doc_id, name, split = request.args
    assert request.request_type == "loglikelihood"
    assert (context, doc_id, name, split) == ("", 5, "mmvp_vlm", "train")
    assert doc_to_target(doc) == "a photo of " + doc["Statement"]
    assert len(doc_to_visual(doc)) == 1


def test_metrics_use_the_paper_pattern_names(task):
    assert set(task.aggregation()) == PAPER_METRICS | {
        "mmvp_vlm_scored_pairs",
        "mmvp_vlm_incomplete_pairs",
        "mmvp_vlm_provenance",
    }
    assert task.higher_is_better()["mmvp_vlm_incomplete_pairs"] is False


def _aggregate(task, docs, score):
    per_doc = [task.process_results(doc, [(score(doc), False)]) for doc in docs]
    return {
        metric: aggregate([d[metric] for d in per_doc])
        for metric, aggregate in task.aggregation().items()
    }


def test_a_model_preferring_each_statements_own_image_scores_100(task):
    def own_image_best(doc):
        return 1.0 if doc["image_slot"] == (1 if doc["Question ID"] % 2 else 2) else -1.0

    scores = _aggregate(task, task.test_docs(), own_image_best)
    assert all(scores[m] == 100.0 for m in PAPER_METRICS)
    assert (scores["mmvp_vlm_scored_pairs"], scores["mmvp_vlm_incomplete_pairs"]) == (135, 0)


def test_a_constant_score_ties_everywhere_and_scores_0(task):
    scores = _aggregate(task, task.test_docs(), lambda doc: 0.5)
    assert all(scores[m] == 0.0 for m in PAPER_METRICS)


def test_a_limited_run_reports_incomplete_pairs(task):
    docs = [task.test_docs()[i] for i in range(62)]  # 15 full pairs of Orientation + half a pair
    scores = _aggregate(task, docs, lambda doc: float(doc["image_slot"] == 1))
    assert (scores["mmvp_vlm_scored_pairs"], scores["mmvp_vlm_incomplete_pairs"]) == (15, 1)
    assert scores["mmvp_vlm_orientation_and_direction"] == 0.0  # every statement picked image 1
    assert scores["mmvp_vlm_text"] is None


def test_responses_stringified_by_lmms_eval_are_read_exactly(task):
    """lmms-eval 0.7.3 turns a model's ``(score, is_greedy)`` into its ``str``; both forms work."""
    from lmms_eval.api.instance import unwrap_generation_output

    doc = task.test_docs()[0]
    response, _ = unwrap_generation_output((-1.0000000000000002, False))
    assert (
        task.process_results(doc, [response])["mmvp_vlm_average"]["match_score"]
        == -1.0000000000000002
    )
    assert task.process_results(doc, [(-2.5, True)])["mmvp_vlm_average"]["match_score"] == -2.5
    assert (
        task.process_results(doc, ["(-inf, False)"])["mmvp_vlm_average"]["match_score"] == -math.inf
    )
