"""``mmvp report compare`` and ``mmvp report ablation``: is a difference real?

    mmvp report compare results/gpt-4o-....json runs/llava/..._results.json [--chart cmp.svg]
    mmvp report ablation results/gpt-4o-....json

Runs are leaderboard entries or lmms-eval results files (verified on the fly with their samples,
``--data`` as for ``report add``). ``compare`` prints each run's pair accuracy with its 95 %
bootstrap CI, then for every two runs the paired difference with its CI, the exact McNemar test
over the pairs, the pairs each gets that the other does not, and per-pattern deltas; tokens,
estimated cost and failures for API models. ``ablation`` prints the paper's ablation table for
one run of ``mmvp_ablation`` and how often the chosen option *text* changed between prompt
variants: answers that follow a letter or a position rather than the image.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from lmms_mmvp.report import charts, files
from lmms_mmvp.report.leaderboard import SWAP_TASK, SYMBOL_TASK, load_reference
from lmms_mmvp.report.schema import incomparable, validate_entry
from lmms_mmvp.report.stats import Interval, bootstrap_interval, compare_pairs
from lmms_mmvp.report.submission import verify_run
from lmms_mmvp.report.text import visible
from mmvp_tasks.patterns import PATTERNS
from mmvp_tasks.scoring import pair_outcomes

VARIANTS = (("mmvp", "original"), (SWAP_TASK, "options swapped"), (SYMBOL_TASK, "labels (1)/(2)"))


class CompareError(ValueError):
    """Runs that cannot be compared (other data, answer key or task), or a missing task."""


def load_run(
    path: Path, *, name: str | None = None, data_dir: Path | None = None
) -> tuple[dict, list[str]]:
    """``(entry, warnings)`` from ``path``: a leaderboard entry as is (validated), a results file
    verified now; the warnings say why `report add` would reject it."""
    content = files.read_json(Path(path))
    warnings = []
    if isinstance(content, dict) and "schema_version" in content:
        entry = validate_entry(content, str(path))
    else:
        verified = verify_run(Path(path), data_dir=data_dir, name=name)
        warnings = [f"{path}: would be rejected by `report add`: {r}" for r in verified.rejections]
        entry = verified.entry
    if name:
        entry["model"]["name"] = name
    return entry, warnings


# ----------------------------------------------------------------------------- compare


def compare_table(entries: list[dict], task: str = "mmvp", *, seed: int = 0) -> str:
    _check_comparable(entries, task)
    outcomes = [pair_outcomes(e["tasks"][task]["records"]) for e in entries]
    names = [visible(e["model"]["name"]) for e in entries]
    lines = [f"{task}: pair accuracy (%) with 95% bootstrap CI over pairs (seed {seed})", ""]
    lines += _run_table(entries, task, outcomes, seed)
    lines += ["", "Paired differences (row minus column model, same pairs):"]
    for (i, a), (j, b) in itertools.combinations(enumerate(outcomes), 2):
        c = compare_pairs(a, b, seed=seed)
        lines.append(
            f"  {names[i]} - {names[j]}: {100 * c.difference:+.1f} points, 95% CI "
            f"[{100 * c.interval.low:+.1f}, {100 * c.interval.high:+.1f}]; pairs only "
            f"{names[i]} gets: {c.only_a}, only {names[j]} gets: {c.only_b}; exact McNemar "
            f"p = {c.mcnemar_p:.3g}" + (" (significant at 0.05)" if c.mcnemar_p < 0.05 else "")
        )
    lines += ["", *_pattern_deltas(entries, task)]
    return "\n".join(lines)


def comparison_chart(entries: list[dict], task: str = "mmvp", *, seed: int = 0) -> str:
    """SVG: each run's pair accuracy with its interval."""
    items = []
    for entry in entries:
        values = list(pair_outcomes(entry["tasks"][task]["records"]).values())
        if not values:
            continue  # no scored pair: nothing to draw
        interval = bootstrap_interval(values, seed=seed)
        mean = 100 * sum(values) / len(values)
        items.append(
            (entry["model"]["name"], mean, Interval(100 * interval.low, 100 * interval.high), False)
        )
    return charts.accuracy_with_intervals(items)


def _run_table(entries, task, outcomes, seed) -> list[str]:
    headers = ["model", "pair acc", "95% CI", "question acc", "pairs", "unparseable", "failed",
               "refusals", "tokens in/out", "cost (USD)"]  # fmt: skip
    rows = []
    for entry, pairs in zip(entries, outcomes, strict=True):
        m = entry["tasks"][task]["metrics"]
        ci = bootstrap_interval(list(pairs.values()), seed=seed)
        usage = entry.get("usage") or {}
        cost = usage.get("estimated_cost_usd")
        rows.append(
            [
                visible(entry["model"]["name"]),
                _pct(m.get("mmvp_pair_accuracy")),
                f"{100 * ci.low:.1f}-{100 * ci.high:.1f}",
                _pct(m.get("mmvp_accuracy")),
                str(m.get("mmvp_scored_pairs")),
                str(m.get("mmvp_unparseable")),
                str(m.get("mmvp_failed_requests")),
                str(m.get("mmvp_refusals")),
                f"{usage['input_tokens']}/{usage['output_tokens']}" if usage else "-",
                "-" if cost is None else f"{cost:.2f}",
            ]
        )
    return _format(headers, rows)


def _pattern_deltas(entries, task) -> list[str]:
    names = [visible(e["model"]["name"]) for e in entries]
    headers = ["pattern (unofficial mapping)", *names, *(f"{n} - {names[0]}" for n in names[1:])]
    rows = []
    for p in PATTERNS:
        values = [
            e["tasks"][task]["metrics"].get(f"mmvp_pair_accuracy_{p.slug}_unofficial")
            for e in entries
        ]
        if all(v is None for v in values):
            continue
        deltas = [
            "-" if v is None or values[0] is None else f"{100 * (v - values[0]):+.1f}"
            for v in values[1:]
        ]
        rows.append([p.name, *map(_pct, values), *deltas])
    if not rows:
        return ["Per-pattern: no pattern mapping in these runs."]
    return ["Per-pattern pair accuracy (%):", *_format(headers, rows)]


def _check_comparable(entries: list[dict], task: str) -> None:
    if len(entries) < 2:
        raise CompareError("compare needs two or more runs")
    for entry in entries:
        if task not in entry["tasks"]:
            raise CompareError(f"{entry['model']['name']!r} has no {task!r} results")
    problems = incomparable(entries, label=lambda e: e["model"]["name"])
    if problems:
        raise CompareError("; ".join(message for _, message in problems))


# ----------------------------------------------------------------------------- ablation


def ablation_table(entry: dict, *, seed: int = 0) -> str:
    """The paper's ablation table for one run, and how stable the chosen option text is."""
    present = [(task, label) for task, label in VARIANTS if task in entry["tasks"]]
    if "mmvp" not in entry["tasks"] or len(present) < 2:
        raise CompareError(
            f"{entry['model']['name']!r}: ablation needs mmvp and at least one of {SWAP_TASK}, "
            f"{SYMBOL_TASK} (run --tasks mmvp_ablation)"
        )
    paper = next(r for r in load_reference()["mmvp"] if "option_swap" in r)
    paper_by_task = {"mmvp": paper["pair_accuracy"], SWAP_TASK: paper["option_swap"],
                     SYMBOL_TASK: paper["symbol_change"]}  # fmt: skip
    rows = []
    for task, label in present:
        m = entry["tasks"][task]["metrics"]
        ci = bootstrap_interval(
            list(pair_outcomes(entry["tasks"][task]["records"]).values()), seed=seed
        )
        rows.append(
            [
                label,
                _pct(m.get("mmvp_pair_accuracy")),
                f"{100 * ci.low:.1f}-{100 * ci.high:.1f}",
                _pct(m.get("mmvp_accuracy")),
                str(m.get("mmvp_unparseable")),
                f"{paper_by_task[task]:.1f}",
            ]
        )
    headers = ["prompt", "pair acc", "95% CI", "question acc", "unparseable",
               f"paper {paper['model']}"]  # fmt: skip
    lines = [f"{visible(entry['model']['name'])}: MMVP prompt ablations (pair accuracy, %)", ""]
    lines += _format(headers, rows)
    lines += ["", "Chosen option compared with the original prompt (questions answered in both):"]
    consistency = [_consistency(entry, task, label) for task, label in present[1:]]
    lines += _format(
        ["variant", "questions", "option text changed", "same label position kept"], consistency
    )
    lines.append(
        "(Options swapped: keeping the label position means changing the text, i.e. following "
        "the letter. A model that reads the image changes neither its text nor its accuracy.)"
    )
    return "\n".join(lines)


def _consistency(entry: dict, task: str, label: str) -> list[str]:
    original = {r["index"]: r for r in entry["tasks"]["mmvp"]["records"] if r["choice_text"]}
    variant = {r["index"]: r for r in entry["tasks"][task]["records"] if r["choice_text"]}
    shared = sorted(set(original) & set(variant))
    changed = sum(original[i]["choice_text"] != variant[i]["choice_text"] for i in shared)
    same_position = sum(
        _position(original[i]["choice"]) == _position(variant[i]["choice"]) for i in shared
    )
    return [label, str(len(shared)), _count(changed, shared), _count(same_position, shared)]


def _position(label: str) -> int:
    """``a``/``1`` -> 0, ``b``/``2`` -> 1: where the option stood in the list."""
    return int(label) - 1 if label.isdigit() else ord(label.lower()) - ord("a")


def _count(n: int, of: list) -> str:
    return f"{n} ({100 * n / len(of):.1f}%)" if of else "-"


# ----------------------------------------------------------------------------- text tables


def _pct(value) -> str:
    if not isinstance(value, int | float) or value != value:
        return "-"
    return f"{100 * value:.1f}"


def _format(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return [line, "  ".join("-" * w for w in widths), *body]
