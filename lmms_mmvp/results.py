"""Reading what lmms-eval wrote: results files and the MMVP numbers in them.

lmms-eval's CLI exits 0 even when an evaluation failed, so callers check the results file it wrote
(:func:`mmvp_rows` raises when a requested task has no scores).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

SUMMARY_METRICS = (
    ("pair acc", "mmvp_pair_accuracy"),
    ("question acc", "mmvp_accuracy"),
    ("pairs", "mmvp_scored_pairs"),
    ("unparseable", "mmvp_unparseable"),
    ("failed", "mmvp_failed_requests"),
    ("refused", "mmvp_refusals"),
    ("answer key", "mmvp_answer_key"),
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
        scores = results.get("results", {}).get(task)
        if not scores or "mmvp_pair_accuracy,none" not in scores:
            raise ResultsError(f"task {task!r} has no MMVP scores in the results file")
        rows.append(
            {"task": task, **{label: scores.get(f"{m},none") for label, m in SUMMARY_METRICS}}
        )
    return rows


def format_table(rows: list[dict]) -> str:
    headers = ["task", *(label for label, _ in SUMMARY_METRICS)]
    cells = [[_fmt(row[h]) for h in headers] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(cell, widths)) for cell in cells]
    return "\n".join(lines)


def load(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{100 * value:.1f}%"
    return str(value)
