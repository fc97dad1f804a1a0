"""``mmvp correlate``: do an encoder's per-pattern failures predict the MLLMs'? (paper Sec. 4.2)

    mmvp correlate --encoder CLIP-L/14=runs/clip/..._results.json \
        --mllm LLaVA-1.5=runs/llava/..._results.json --mllm InstructBLIP=... \
        --out correlation.png --out correlation.svg

Reads lmms-eval results files: the encoder's ``mmvp_vlm`` per-pattern scores
(``mmvp_vlm_<pattern>``, 0-100) and each MLLM's ``mmvp`` per-pattern pair accuracies
(``mmvp_pair_accuracy_<pattern>_unofficial``, fractions: scaled to 0-100). Prints Pearson r
(scipy) between the encoder and each MLLM over the visual patterns, with its p-value and the number
of patterns, and draws the paper's chart: per-pattern bars, one colour per model. The paper reports
r = 0.87 (LLaVA-1.5), 0.71 (InstructBLIP), 0.79 (Bard), 0.72 (Gemini), 0.31 (GPT-4) for CLIP
ViT-L/14. MMVP's per-question pattern mapping is unofficial (no official one was released), so
MLLM per-pattern numbers, and hence r, are too.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from lmms_mmvp.extras import require
from mmvp_tasks.patterns import PATTERNS

ENCODER_TASK, ENCODER_METRIC, ENCODER_SCALE = "mmvp_vlm", "mmvp_vlm_{slug},none", 1.0
MLLM_TASK, MLLM_METRIC, MLLM_SCALE = "mmvp", "mmvp_pair_accuracy_{slug}_unofficial,none", 100.0
MIN_PATTERNS = 3  # Pearson r over fewer points says nothing
DEFAULT_OUT = ("mmvp_correlation.png", "mmvp_correlation.svg")


class CorrelationInputError(ValueError):
    """A results file lacks per-pattern numbers, or the inputs cover different patterns."""


@dataclass(frozen=True)
class Series:
    """One model's per-pattern scores on the 0-100 scale, keyed by pattern code."""

    name: str
    source: str  # "<file> (<task>)", for error messages
    scores: dict[str, float]


@dataclass(frozen=True)
class Correlation:
    mllm: str
    r: float
    p_value: float
    n_patterns: int


def read_series(path: Path, name: str | None, task: str, metric: str, scale: float) -> Series:
    """The finite per-pattern numbers of ``task`` in an lmms-eval results file, scaled to 0-100."""
    results = _load(path)
    scores_by_task = results.get("results", {})
    if task not in scores_by_task:
        raise CorrelationInputError(
            f"{path}: no results for task {task!r} (tasks in the file: {sorted(scores_by_task)})"
        )
    raw = {p.code: scores_by_task[task].get(metric.format(slug=p.slug)) for p in PATTERNS}
    scores = {code: scale * v for code, v in raw.items() if _is_number(v)}
    source = f"{path} ({task})"
    if not scores:
        raise CorrelationInputError(f"{source}: no per-pattern numbers ({metric.format(slug='*')})")
    return Series(name or _model_name(results, path), source, scores)


def pearson(encoder: Series, mllm: Series) -> Correlation:
    """Pearson r over the patterns both series have; they must have the same ones."""
    from scipy.stats import pearsonr

    if set(encoder.scores) != set(mllm.scores):
        raise CorrelationInputError(
            f"different pattern sets: {encoder.source} has {_names(encoder.scores)}, "
            f"{mllm.source} has {_names(mllm.scores)}"
        )
    codes = [p.code for p in PATTERNS if p.code in encoder.scores]
    if len(codes) < MIN_PATTERNS:
        raise CorrelationInputError(f"only {len(codes)} pattern(s); need {MIN_PATTERNS} or more")
    x, y = [encoder.scores[c] for c in codes], [mllm.scores[c] for c in codes]
    for series, values in ((encoder, x), (mllm, y)):
        if len(set(values)) == 1:
            raise CorrelationInputError(
                f"{series.source}: the same score for every pattern: r is undefined"
            )
    result = pearsonr(x, y)
    return Correlation(mllm.name, float(result.statistic), float(result.pvalue), len(codes))


def save_chart(encoder: Series, mllms: list[Series], correlations, paths: list[Path]) -> None:
    """Grouped bars per pattern, one colour per model (the paper's figure); format from suffix."""
    from matplotlib.figure import Figure  # no pyplot: Agg (PNG) / SVG canvases, no global state

    patterns = [p for p in PATTERNS if p.code in encoder.scores]
    series = [encoder, *mllms]
    labels = [f"{encoder.name} (MMVP-VLM)"] + [
        f"{s.name} (MMVP; r = {c.r:.2f}, p = {c.p_value:.3g})"
        for s, c in zip(mllms, correlations, strict=True)
    ]
    width = 0.8 / len(series)
    figure = Figure(figsize=(max(8.0, 1.1 * len(patterns)), 4.8), layout="constrained")
    axes = figure.add_subplot()
    for i, (s, label) in enumerate(zip(series, labels, strict=True)):
        offsets = [k + (i - (len(series) - 1) / 2) * width for k in range(len(patterns))]
        axes.bar(offsets, [s.scores[p.code] for p in patterns], width, label=label)
    axes.set_xticks(range(len(patterns)), [textwrap.fill(p.name, 16) for p in patterns])
    axes.tick_params(axis="x", labelsize=8)
    axes.set_ylim(0, 100)
    axes.set_ylabel("pair accuracy (%)")
    axes.set_title("Per-pattern scores: image-text encoder (MMVP-VLM) vs MLLMs (MMVP)")
    axes.legend(fontsize=8)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=150)


# ----------------------------------------------------------------------------- command line


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``correlate`` on the ``mmvp`` command's subparsers."""
    parser = subparsers.add_parser(
        "correlate",
        help="Pearson r between an encoder's MMVP-VLM and MLLMs' MMVP per-pattern scores",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--encoder", required=True, metavar="[NAME=]RESULTS_JSON",
        help=f"lmms-eval results file with the encoder's {ENCODER_TASK} scores",
    )  # fmt: skip
    parser.add_argument(
        "--mllm", required=True, action="append", metavar="NAME=RESULTS_JSON",
        help=f"lmms-eval results file with an MLLM's {MLLM_TASK} scores (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--out", action="append", type=Path, metavar="CHART",
        help=f"chart file, format from the suffix (.png, .svg, .pdf; repeatable; default: "
        f"{' and '.join(DEFAULT_OUT)})",
    )  # fmt: skip
    parser.add_argument("--encoder-task", default=ENCODER_TASK, help="task with the encoder scores")
    parser.add_argument("--mllm-task", default=MLLM_TASK, help="task with the MLLM scores")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        return _correlate(args)
    except CorrelationInputError as err:
        print(f"mmvp correlate: error: {err}", file=sys.stderr)
        return 2


def _correlate(args: argparse.Namespace) -> int:
    require("matplotlib", "correlate")  # the chart: checked before any file is read
    name, path = _named_path(args.encoder)
    encoder = read_series(path, name, args.encoder_task, ENCODER_METRIC, ENCODER_SCALE)
    mllms = [
        read_series(path, name, args.mllm_task, MLLM_METRIC, MLLM_SCALE)
        for name, path in map(_named_path, args.mllm)
    ]
    correlations = [pearson(encoder, m) for m in mllms]
    print(_table(encoder, mllms, correlations))
    paths = args.out or [Path(p) for p in DEFAULT_OUT]
    save_chart(encoder, mllms, correlations, paths)
    print(f"\nchart: {', '.join(map(str, paths))}")
    return 0


def _table(encoder: Series, mllms: list[Series], correlations: list[Correlation]) -> str:
    codes = [p.code for p in PATTERNS if p.code in encoder.scores]
    names = [encoder.name, *(m.name for m in mllms)]
    width = max(10, *(len(n) for n in names))
    lines = [f"{'pattern':<40}" + "".join(f"{n:>{width + 2}}" for n in names)]
    for p in PATTERNS:
        if p.code in codes:
            values = [encoder.scores[p.code], *(m.scores[p.code] for m in mllms)]
            lines.append(f"{p.name:<40}" + "".join(f"{v:>{width + 2}.1f}" for v in values))
    lines.append("")
    lines.append(f"Pearson r with {encoder.name} (MMVP-VLM) over the visual patterns:")
    for c in correlations:
        lines.append(
            f"  {c.mllm:<{width}}  r = {c.r:+.3f}  p = {c.p_value:.3g}  n = {c.n_patterns}"
        )
    lines.append("(MLLM per-pattern MMVP scores use an unofficial question-to-pattern mapping.)")
    return "\n".join(lines)


def _named_path(value: str) -> tuple[str | None, Path]:
    """``NAME=PATH`` or ``PATH``."""
    name, sep, path = value.partition("=")
    return (name, Path(path)) if sep else (None, Path(value))


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CorrelationInputError(f"{path}: no such results file") from None
    except json.JSONDecodeError as err:
        raise CorrelationInputError(f"{path}: not a JSON results file ({err})") from None


def _model_name(results: dict, path: Path) -> str:
    """The checkpoint named in the run's model_args, else the model id, else the file name."""
    config = results.get("config") or {}
    args = config.get("model_args") or ""
    if isinstance(args, str):
        args = dict(a.split("=", 1) for a in args.split(",") if "=" in a)
    # model_name + pretrained tag for open_clip ("ViT-H-14 dfn5b"), the repo name for transformers
    parts = [
        str(args[k]).rstrip("/").rsplit("/", 1)[-1]
        for k in ("model_name", "pretrained", "model")
        if args.get(k)
    ]
    return " ".join(parts[:2]) or str(config.get("model") or path.stem)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _names(codes) -> list[str]:
    return [p.name for p in PATTERNS if p.code in codes]
