"""``mmvp grade FILE``: MMVP scores for answers that already exist, without re-running a model.

    mmvp grade answers.jsonl [--data DIR] [--answer-key corrected|original] [--judge] [--json OUT]
                             [--reasoning-tags JSON|none]

Reads the answer files the original MMVP scripts write (scripts/evaluate_mllm.py: JSON Lines,
one object per question with ``question_id`` = the question's Index and the model's
``response``; LLaVA-style files carry ``text`` instead) or a CSV with columns
``Index,response``. Answers are joined by Index to the questions: the MMVP questions shipped with
this package, or ``--data DIR`` (a folder with a ``Questions.csv``; no images needed). They are
scored by the ``mmvp`` task's own scorer and aggregations (rule-based reader), or with ``--judge``
by ``mmvp_official``'s (the paper's LLM grader; needs ``MMVP_JUDGE_API_KEY``). The file's own
``answer`` fields are ignored: the answer key is the chosen one (``corrected`` by default).
Unknown or repeated ids and questions without an answer are errors (``--partial`` scores an
incomplete file); so is a file that is not UTF-8 JSON Lines or CSV, with its line. Reasoning
blocks (``<think>...</think>``) are cut from each answer first, as lmms-eval cuts them before
scoring (:mod:`lmms_mmvp.report.reasoning`), so a graded file and a live run agree.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from lmms_mmvp.report import files
from lmms_mmvp.report.reasoning import (
    DEFAULT_REASONING_TAGS,
    TagPairs,
    parse_reasoning_tags,
    strip_reasoning,
)
from lmms_mmvp.report.stats import bootstrap_interval
from lmms_mmvp.report.tasks import RECORD_METRIC, task_spec
from lmms_mmvp.report.text import for_terminal, shown
from mmvp_tasks.data import SHIPPED_DIR, DataValidationError, read_csv_rows
from mmvp_tasks.judge import JudgeConfigError
from mmvp_tasks.patterns import PATTERNS
from mmvp_tasks.scoring import pair_outcomes

RESPONSE_FIELDS = ("response", "text")  # evaluate_mllm.py writes "response"; LLaVA's scripts "text"


class GradeError(ValueError):
    """An answers file that cannot be graded; the message names the file, line and field."""


def read_answers(path: Path) -> dict[int, str]:
    """``{Index: response}`` from a JSON Lines answers file or an ``Index,response`` CSV."""
    files.check_size(path, files.MAX_LINES_BYTES)
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path)
    seen: dict[int, int] = {}
    answers = {}
    for line, index, response in rows:
        if index in seen:
            raise GradeError(
                f"{path}: line {line}: question {index} already answered on line {seen[index]}"
            )
        seen[index] = line
        answers[index] = response
    return answers


def grade(
    answers: dict[int, str],
    docs: list[dict],
    task: str,
    *,
    partial: bool = False,
    reasoning_tags: TagPairs | None = DEFAULT_REASONING_TAGS,
) -> dict:
    """The task's metrics for ``answers``, plus ``records`` (one per answered question). Answers
    lose their ``reasoning_tags`` blocks first (``None``: kept whole)."""
    if reasoning_tags is not None:
        answers = {
            index: strip_reasoning(reply, reasoning_tags) for index, reply in answers.items()
        }
    by_index = {doc["Index"]: doc for doc in docs}
    unknown = sorted(set(answers) - set(by_index))
    if unknown:
        raise GradeError(f"answer(s) for unknown question id(s) {_ids(unknown)}")
    missing = sorted(set(by_index) - set(answers))
    if missing and not partial:
        raise GradeError(
            f"{len(missing)} question(s) without an answer: {_ids(missing)} "
            "(--partial scores the answered ones)"
        )
    spec = task_spec(task)
    per_document = [spec.score(by_index[i], answers[i]) for i in sorted(answers)]
    metrics = spec.aggregate(per_document)
    metrics["records"] = [d[RECORD_METRIC] for d in per_document]
    return metrics


def format_report(metrics: dict, title: str, *, seed: int = 0) -> str:
    outcomes = list(pair_outcomes(metrics["records"]).values())
    ci = bootstrap_interval(outcomes, seed=seed)
    lines = [
        title,
        f"  pair accuracy      {_pct(metrics['mmvp_pair_accuracy'])}  "
        f"(95% CI {_pct(ci.low)}-{_pct(ci.high)}, {metrics['mmvp_scored_pairs']} pairs; "
        "the paper's MMVP score)",
        f"  question accuracy  {_pct(metrics['mmvp_accuracy'])}",
        f"  unparseable        {metrics['mmvp_unparseable']}",
        f"  failed / refused   {metrics['mmvp_failed_requests']} / {metrics['mmvp_refusals']}",
        f"  incomplete pairs   {metrics['mmvp_incomplete_pairs']}",
        f"  answer key         {metrics['mmvp_answer_key']}",
    ]
    patterns = [(p.name, metrics.get(f"mmvp_pair_accuracy_{p.slug}_unofficial")) for p in PATTERNS]
    if any(v is not None and v == v for _, v in patterns):
        lines.append("  per pattern (unofficial mapping):")
        lines += [f"    {name:<42} {_pct(value)}" for name, value in patterns]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- command line


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``grade`` on the ``mmvp`` command's subparsers."""
    parser = subparsers.add_parser(
        "grade",
        help="score an answers file (the original MMVP scripts' JSONL, or an Index,response CSV)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "file", type=Path, help="answers: .jsonl (question_id + response/text) or .csv"
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="folder with the Questions.csv to grade against (default: the MMVP questions "
        "shipped with lmms-mmvp)",
    )
    parser.add_argument("--answer-key", choices=("corrected", "original"), default="corrected")
    parser.add_argument(
        "--judge", action="store_true", help="grade with the paper's LLM judge (mmvp_official)"
    )
    parser.add_argument("--partial", action="store_true", help="allow unanswered questions")
    parser.add_argument(
        "--reasoning-tags",
        type=_reasoning_tags,
        default=DEFAULT_REASONING_TAGS,
        help="reasoning blocks cut from answers, as lmms-eval's --reasoning_tags: a JSON list of "
        "[opening, closing] pairs, or 'none' (default: <think> and <analysis>)",
    )
    parser.add_argument("--json", type=Path, help="also write the metrics and records as JSON")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    task = "mmvp_official" if args.judge else "mmvp"
    try:
        answers = read_answers(args.file)
        docs = task_spec(task).documents(args.data or SHIPPED_DIR, args.answer_key)
        try:
            metrics = grade(
                answers, docs, task, partial=args.partial, reasoning_tags=args.reasoning_tags
            )
        except GradeError as err:
            raise GradeError(f"{args.file}: {err}") from None
    except (GradeError, DataValidationError, JudgeConfigError, files.InputError) as err:
        print(for_terminal(f"mmvp grade: error: {err}"), file=sys.stderr)
        return 2
    reader = "LLM judge (mmvp_official)" if args.judge else "rule-based reader (mmvp)"
    print(for_terminal(format_report(metrics, f"{args.file}: {len(answers)} answers, {reader}")))
    if args.json:
        args.json.write_text(json.dumps(metrics, indent=1) + "\n")
    return 0


def _reasoning_tags(value: str) -> TagPairs | None:
    try:
        return parse_reasoning_tags(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _jsonl_rows(path: Path):
    for line, row in files.read_json_lines(path):
        if not isinstance(row, dict) or "question_id" not in row:
            raise GradeError(f"{path}: line {line}: no field 'question_id'")
        field = next((f for f in RESPONSE_FIELDS if f in row), None)
        if field is None:
            raise GradeError(f"{path}: line {line}: no field 'response' or 'text'")
        if not isinstance(row[field], str):
            raise GradeError(f"{path}: line {line}: field {field!r}: {shown(row[field])} is not "
                             "an answer (a string)")  # fmt: skip
        yield line, _index(path, line, "question_id", row["question_id"]), row[field]


def _csv_rows(path: Path):
    try:
        rows = read_csv_rows(path, ("Index", "response"))
    except DataValidationError as err:
        raise GradeError(str(err)) from None
    for line, row in rows:
        yield line, _index(path, line, "Index", row["Index"]), row["response"]


def _index(path: Path, line: int, field: str, value) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value.strip()):
        return int(value)
    raise GradeError(f"{path}: line {line}: field {field!r}: {shown(value)} is not a question id")


def _ids(values: list[int]) -> str:
    more = f", ... ({len(values)} in all)" if len(values) > 20 else ""
    return ", ".join(map(str, values[:20])) + more


def _pct(value) -> str:
    return "-" if value is None or value != value else f"{100 * value:.1f}%"
