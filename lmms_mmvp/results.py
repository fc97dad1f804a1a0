"""Reading what lmms-eval wrote: results files and the MMVP numbers in them.

lmms-eval's CLI exits 0 even when an evaluation failed, so callers check the results file it wrote
(:func:`mmvp_rows` raises when a requested task has no scores).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from mmvp_tasks.patterns import PATTERNS

SUMMARY_METRICS = (
    ("pair acc", "mmvp_pair_accuracy"),
    ("question acc", "mmvp_accuracy"),
    ("pairs", "mmvp_scored_pairs"),
    ("unparseable", "mmvp_unparseable"),
    ("failed", "mmvp_failed_requests"),
    ("refused", "mmvp_refusals"),
    ("answer key", "mmvp_answer_key"),
)


CHANCE_LEVELS = (
    "Chance: random guessing 25% of pairs / 50% of questions; "
    "one constant answer 0% of pairs / 50% of questions."
)


class ResultsError(RuntimeError):
    """A results file is missing or lacks the expected scores."""


def newest_results_file(output_path: str | Path) -> Path:
    """The most recent ``*_results.json`` lmms-eval wrote under ``output_path``."""
    found = sorted(Path(output_path).rglob("*_results.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise ResultsError(f"no *_results.json under {output_path}: the evaluation wrote nothing")
    return found[-1]


def expand_tasks(results: dict, requested: list[str]) -> list[str]:
    """Requested names with groups replaced by their subtasks, as recorded in the results."""
    groups = results.get("group_subtasks", {})
    expanded: list[str] = []
    for name in requested:
        expanded.extend(expand_tasks(results, groups[name]) if groups.get(name) else [name])
    return expanded


def mmvp_rows(results: dict, requested: list[str]) -> list[dict]:
    """One row per MMVP task (``{"task": ..., <label>: value}``); raises if one is absent."""
    rows = []
    for task in expand_tasks(results, requested):
        scores = task_scores(results, task)
        rows.append(
            {"task": task, **{label: scores.get(f"{m},none") for label, m in SUMMARY_METRICS}}
        )
    return rows


def task_scores(results: dict, task: str) -> dict:
    """The scores of one of this package's MMVP tasks; raises when the task is absent or when
    lmms-eval's built-in ``mmvp`` ran instead (it has no ``mmvp_provenance``)."""
    scores = results.get("results", {}).get(task)
    if not scores or "mmvp_pair_accuracy,none" not in scores:
        raise ResultsError(f"task {task!r} has no MMVP scores in the results file")
    if "mmvp_provenance,none" not in scores:
        raise ResultsError(
            f"task {task!r} in the results file is lmms-eval's built-in one, not this package's "
            "(the plugin's task hook was not active): its answer reading and counts differ"
        )
    return scores


def format_pattern_table(results: dict, tasks: list[str]) -> str:
    """Pair accuracy per visual pattern (rows) and task (columns)."""
    columns = [task_scores(results, task) for task in tasks]
    first = max(len(p.name) for p in PATTERNS)
    widths = [max(len(task), 6) for task in tasks]
    header = [
        "pair acc by pattern".ljust(first),
        *(t.ljust(w) for t, w in zip(tasks, widths, strict=True)),
    ]
    lines = [" | ".join(header)]
    for p in PATTERNS:
        metric = f"mmvp_pair_accuracy_{p.slug}_unofficial,none"
        cells = [
            _fmt(scores.get(metric)).ljust(w) for scores, w in zip(columns, widths, strict=True)
        ]
        lines.append(" | ".join([p.name.ljust(first), *cells]))
    return "\n".join(lines)


def format_provenance(results: dict, task: str) -> str:
    """Where the numbers came from: data, answer key, mapping, versions (lmms-eval's own field
    ``lmms_eval_version`` and this package's ``mmvp_provenance``)."""
    provenance = task_scores(results, task)["mmvp_provenance,none"]
    versions = ", ".join(f"{k} {v}" for k, v in provenance.get("versions", {}).items())
    return (
        f"Data: {provenance.get('data_source')}; answer key: {provenance.get('answer_key')}; "
        f"patterns: {provenance.get('pattern_mapping')}\nVersions: {versions}"
    )


def format_table(rows: list[dict]) -> str:
    headers = ["task", *(label for label, _ in SUMMARY_METRICS)]
    cells = [[_fmt(row[h]) for h in headers] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    return "\n".join(lines)


def samples_file(results_path: str | Path, task: str) -> Path:
    """Where ``--log_samples`` put ``task``'s samples for this results file (same timestamp)."""
    results_path = Path(results_path)
    stamp = results_path.name.removesuffix("_results.json")
    return results_path.with_name(f"{stamp}_samples_{task}.jsonl")


def samples_task(path: str | Path) -> str | None:
    """The task of an lmms-eval samples file (``<timestamp>_samples_<task>.jsonl``), else None."""
    match = re.search(r"_samples_(.+)\.jsonl$", Path(path).name)
    return match[1] if match else None


def load(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{100 * value:.1f}%"
    return str(value)
