"""Runs in lmms-eval's output format without running a model: ``<ts>_results.json`` and
``<ts>_samples_<task>.jsonl`` as lmms-eval 0.7 writes them with ``--log_samples`` (field names
checked against a real CLI run in tests/test_report.py): the prompt as ``input``, the answer the
task scored as ``filtered_resps`` and, when reasoning was stripped from it, the raw one as
``resps``. Scored by the tasks' own scorer and aggregations. ``respond(task, doc)`` plays the
model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from lmms_eval.api.reasoning import strip_reasoning_tags

from lmms_mmvp.report.tasks import task_spec
from mmvp_tasks import harness
from mmvp_tasks.answers import answer_label, parse_options

ABLATION_TASKS = ("mmvp", "mmvp_option_swap", "mmvp_symbol_change")
REASONING_TAGS = '[["<think>", "</think>"], ["<analysis>", "</analysis>"]]'  # lmms-eval's default


def write_run(
    out_dir: Path,
    data_dir: Path,
    respond: Callable[[str, dict], str],
    *,
    tasks=ABLATION_TASKS,
    model: str = "mmvp_llava",
    model_args: str = "pretrained=org/tiny-model,dtype=float32",
    answer_key: str = "corrected",
    limit: int | None = None,
    usage: dict | None = None,
    timestamp: str = "20260101_120000",
    reasoning_tags: str = REASONING_TAGS,
) -> Path:
    """Write the run's files under ``out_dir``; return the results file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results, versions, n_samples, configs = {}, {}, {}, {}
    tags = None if reasoning_tags == "none" else json.loads(reasoning_tags)
    prompt_kwargs = {"pre_prompt": "", "post_prompt": "\nAnswer."}
    for task in tasks:
        spec = task_spec(task)
        docs = spec.documents(data_dir, answer_key)[:limit]
        samples = []
        for doc_id, doc in enumerate(docs):
            raw = respond(task, doc)
            response = strip_reasoning_tags(raw, tags) if tags else raw
            scored = spec.score(doc, response)
            if task == "mmvp_official":
                prompt = harness.doc_to_text_official(doc)
            else:
                prompt = harness.doc_to_text(doc, prompt_kwargs)
            samples.append(
                {
                    "doc_id": doc_id,
                    "target": doc["Correct Answer"],
                    "filtered_resps": response,
                    **({"resps": raw} if raw != response else {}),
                    "token_counts": [None],
                    "doc_hash": "0" * 64,
                    "input": prompt,
                    **scored,
                }  # fmt: skip
            )
        metrics = spec.aggregate([{k: s[k] for k in spec.aggregations} for s in samples])
        results[task] = {"alias": task, **{f"{m},none": v for m, v in metrics.items()}}
        versions[task] = spec.version
        n_samples[task] = {"original": 300, "effective": len(docs)}
        configs[task] = {
            "task": task,
            "generation_kwargs": {"max_new_tokens": 16, "temperature": 0.0},
            "lmms_eval_specific_kwargs": prompt_kwargs,
        }
        lines = [json.dumps(s) for s in samples]
        (out_dir / f"{timestamp}_samples_{task}.jsonl").write_text("\n".join(lines) + "\n")
    cli_args = {"model": model, "model_args": model_args, "tasks": ",".join(tasks),
                "batch_size": "16", "limit": limit, "output_path": str(out_dir),
                "log_samples": True, "reasoning_tags": reasoning_tags}  # fmt: skip
    run = {
        "results": results,
        "versions": versions,
        "n-samples": n_samples,
        "configs": configs,
        "config": {"model": model, "model_args": model_args, "resolved_cli_args": cli_args},
        "lmms_eval_version": "0.7.3",
        "date": timestamp,
        "usage": usage or {},
    }
    path = out_dir / f"{timestamp}_results.json"
    path.write_text(json.dumps(run, indent=1))
    return path


def answer(doc: dict, right: bool, style: int = 0) -> str:
    """A response naming the right (or the other) option, in one of several common forms."""
    options = parse_options(doc["Options"])
    target = answer_label(doc["Correct Answer"])
    chosen = next(o for o in options if (o.label == target) == right)
    forms = (f"({chosen.label})", chosen.label.upper(), f"The answer is ({chosen.label}).",
             f"({chosen.label}) {chosen.text}")  # fmt: skip
    return forms[style % len(forms)]


def pair_responder(right_pairs: set[int], *, first_only: set[int] = frozenset()):
    """Both questions right for ``right_pairs``, only the first for ``first_only``."""

    def respond(task: str, doc: dict) -> str:
        index = doc["Index"]
        pair = (index - 1) // 2 + 1
        right = pair in right_pairs or (pair in first_only and index % 2 == 1)
        return answer(doc, right, style=index)

    return respond
