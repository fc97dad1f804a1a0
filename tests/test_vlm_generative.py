"""Generative models on mmvp_vlm: log-likelihood of the statement given the image (tiny LLaVA)."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from lmms_mmvp.demo import lmms_eval_command
from mmvp_tasks import vlm_harness, vlm_scoring
from model_adapters.hf_generation import HFGenerativeAdapter
from model_adapters.llava import LlavaAdapter
from tests.support.cli import run_evaluation

TEXTS = ["a photo of an arrow", "a photo of a red circle on the left", "b", "a photo of two cats"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: one thread avoids OpenMP hand-offs that dominate on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def adapter(tiny_llava):
    return LlavaAdapter(pretrained=str(tiny_llava), device="cpu", dtype="float32", batch_size=1)


def _requests(adapter, texts=TEXTS, context=""):
    docs = [
        {"image": Image.new("RGB", (40, 30), (40 * i, 90, 200 - 30 * i)), "text": t}
        for i, t in enumerate(texts)
    ]
    adapter.task_dict = {"task": {"test": docs}}
    return [
        SimpleNamespace(
            args=(context, lambda d: d["text"], lambda d: [d["image"]], i, "task", "test")
        )
        for i in range(len(docs))
    ]


def _hf_logprob(adapter, context, text, image) -> float:
    """The same quantity from transformers' own loss: mean NLL over the labelled tokens x count."""
    inputs, (n,) = adapter._loglikelihood_inputs([context], [text], [[image]])
    labels = inputs["input_ids"].clone()
    labels[:, :-n] = -100
    with torch.no_grad():
        loss = adapter.model(**inputs, labels=labels).loss
    return -loss.item() * n


def test_scores_are_summed_log_probabilities_of_the_statement(adapter):
    requests = _requests(adapter)
    scores = adapter.loglikelihood(requests)
    for request, (logprob, greedy) in zip(requests, scores, strict=True):
        doc = adapter.task_dict["task"]["test"][request.args[3]]
        assert logprob == pytest.approx(_hf_logprob(adapter, "", doc["text"], doc["image"]), 1e-4)
        assert logprob < 0 and isinstance(greedy, bool)


def test_only_the_statement_is_scored(adapter):
    """The continuation's tokens are exactly those the statement adds after the prompt."""
    tokenizer = adapter.processor.tokenizer
    image = Image.new("RGB", (32, 32))
    inputs, (n,) = adapter._loglikelihood_inputs(["Describe."], ["a photo of x"], [[image]])
    scored = tokenizer.decode(inputs["input_ids"][0, -n:])
    assert scored.strip() == "a photo of x"
    assert tokenizer.decode(inputs["input_ids"][0, :-n]).endswith("ASSISTANT:")


def test_batching_and_order_do_not_change_scores(adapter):
    requests = _requests(adapter)
    single = adapter.loglikelihood(requests)
    adapter.batch_size_per_process = 3  # right padding: rows of different lengths
    try:
        batched = adapter.loglikelihood(requests)
        backward = adapter.loglikelihood(list(reversed(requests)))
    finally:
        adapter.batch_size_per_process = 1
    assert [s for s, _ in batched] == pytest.approx([s for s, _ in single], abs=1e-4)
    assert [s for s, _ in backward] == pytest.approx([s for s, _ in reversed(single)], abs=1e-4)


def test_the_context_conditions_the_statement(adapter):
    plain = adapter.loglikelihood(_requests(adapter, context=""))
    prompted = adapter.loglikelihood(_requests(adapter, context="Describe the image."))
    assert [s for s, _ in plain] != pytest.approx([s for s, _ in prompted])


def test_mmvp_vlm_with_a_generative_model(adapter, synthetic_data, monkeypatch):
    """Orientation's 60 documents: each statement picks the image it is more likely under."""
    monkeypatch.setenv("MMVP_VLM_DATA_DIR", str(synthetic_data.mmvp_vlm_dir))
    docs = vlm_harness.process_docs(None).select(range(60))
    adapter.task_dict = {"mmvp_vlm": {"test": docs}}
    adapter.batch_size_per_process = 8
    try:
        requests = [
            SimpleNamespace(
                args=(
                    "",
                    vlm_harness.doc_to_target,
                    vlm_harness.doc_to_visual,
                    i,
                    "mmvp_vlm",
                    "test",
                )
            )  # fmt: skip
            for i in range(len(docs))
        ]
        scores = adapter.loglikelihood(requests)
    finally:
        adapter.batch_size_per_process = 1
    per_doc = [vlm_harness.process_results(d, [s]) for d, s in zip(docs, scores, strict=True)]
    records = [r["mmvp_vlm_average"] for r in per_doc]
    by_pair: dict[int, dict] = {}
    for r in records:
        by_pair.setdefault(r["pair_id"], {})[1 if r["question_id"] % 2 else 2, r["image_slot"]] = r[
            "match_score"
        ]
    correct = sum(
        all(max((1, 2), key=lambda img: s[stmt, img]) == stmt for stmt in (1, 2))
        for s in by_pair.values()
    )
    assert vlm_scoring.pattern_score(records, "od") == pytest.approx(100 * correct / 15)
    assert vlm_scoring.scored_pairs(records) == 15


def test_an_adapter_without_the_hook_says_it_cannot_score():
    class NoScoring(HFGenerativeAdapter):
        pass

    adapter = object.__new__(NoScoring)  # no checkpoint needed to reach the hook
    adapter.batch_size_per_process, adapter._rank = 1, 0
    adapter.task_dict = {"t": {"test": [{"image": None}]}}
    request = SimpleNamespace(args=("", "a photo of x", lambda d: [], 0, "t", "test"))
    with pytest.raises(NotImplementedError, match="NoScoring cannot score log-likelihoods"):
        adapter.loglikelihood([request])


@pytest.mark.slow
def test_lmms_eval_cli_scores_mmvp_vlm_with_mmvp_llava(tiny_llava, synthetic_data, tmp_path):
    """The real CLI, --limit 120: the first 30 pairs (Orientation and Presence) are scored."""
    env = {**os.environ, "MMVP_VLM_DATA_DIR": str(synthetic_data.mmvp_vlm_dir)}
    env["HF_HUB_OFFLINE"] = "1"
    command = lmms_eval_command(tiny_llava, "mmvp_vlm", tmp_path, limit=120, model="mmvp_llava")
    data, path, log = run_evaluation(command, tmp_path, env=env, timeout=600)
    scores = data["results"]["mmvp_vlm"]
    assert scores["mmvp_vlm_scored_pairs,none"] == 30, log[-3000:]
    for pattern in ("orientation_and_direction", "presence_of_specific_features"):
        value = scores[f"mmvp_vlm_{pattern},none"]
        assert value * 15 / 100 == pytest.approx(round(value * 15 / 100))
    assert scores["mmvp_vlm_text,none"] is None
    (samples_file,) = path.parent.glob("*_samples_mmvp_vlm.jsonl")
    samples = [json.loads(line) for line in samples_file.read_text().splitlines()]
    assert len(samples) == 120
    assert all(s["mmvp_vlm_average"]["match_score"] < 0 for s in samples)  # log-likelihoods
