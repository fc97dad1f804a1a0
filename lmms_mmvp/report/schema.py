"""The leaderboard entry: one JSON file per verified run under ``results/`` (docs/report.md).

Entries are written only by ``mmvp report add``, but a file on disk is untrusted input, so every
reader validates it here, strictly: every field with its type and no other field; every metric the
per-question records determine recomputed from them; each record consistent in itself (a judged
answer's verdict re-read from its logged reply); ``partial`` true exactly when a task lacks a
question or a scored pair. :func:`load_entries` names a bad file and skips it.

Runs are comparable (one leaderboard table, one paired comparison) only with the same answer key
and the same questions: :func:`incomparable` is the one place that decides it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

from lmms_mmvp.report.files import InputError, read_json
from lmms_mmvp.report.text import shown
from mmvp_tasks import harness, judge, records, scoring
from mmvp_tasks.patterns import PATTERN_BY_CODE, PATTERNS

SCHEMA_VERSION = 2
ANSWER_KEYS = ("corrected", "original")
STATUSES = (scoring.ANSWERED, scoring.UNPARSEABLE, scoring.FAILED, scoring.REFUSED)
ENTRY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")
SHA256 = re.compile(r"[0-9a-f]{64}")
ANSWER_SHA = re.compile(r"[0-9a-f]{16}")  # sha256 prefix of a normalised answer
LABEL = re.compile(r"[a-z]|[1-9][0-9]?")  # an option label: (a), (b), ... or (1), (2), ...

RULE_TASKS = ("mmvp", "mmvp_option_swap", "mmvp_symbol_change")
TASK_METRICS = {task: (*records.METRICS, records.JUDGED) for task in RULE_TASKS} | {
    "mmvp_official": (*records.METRICS, records.RULE_DISAGREEMENTS, records.UNPARSEABLE_VERDICTS)
}
# The metrics the records determine, with the tasks' own aggregations (as the YAMLs name them).
FROM_RECORDS = {
    "mmvp_pair_accuracy": harness.aggregate_pair_accuracy,
    "mmvp_accuracy": harness.aggregate_question_accuracy,
    "mmvp_scored_pairs": harness.aggregate_scored_pairs,
    "mmvp_incomplete_pairs": harness.aggregate_incomplete_pairs,
    "mmvp_unparseable": harness.aggregate_unparseable,
    "mmvp_failed_requests": harness.aggregate_failed_requests,
    "mmvp_refusals": harness.aggregate_refusals,
    **{
        f"mmvp_pair_accuracy_{p.slug}_unofficial": getattr(harness, f"aggregate_pattern_{p.code}")
        for p in PATTERNS
    },
}
FRACTIONS = {m for m in FROM_RECORDS if "accuracy" in m}


class EntryError(ValueError):
    """An entry that does not follow the schema; the message names the file and field."""


# ----------------------------------------------------------------------------- field types


@dataclass(frozen=True)
class _MapOf:
    """An object with any string keys, each value of one kind."""

    values: object


@dataclass(frozen=True)
class _Maybe:
    """The kind, or null."""

    kind: object


NUMBER = "number"  # int or finite float, never a bool
PLAIN = "plain"  # a string, number, bool or null, or a list of them (generation kwargs: `until`)

PROMPT = {
    "pre_prompt": str,
    "post_prompt": str,
    "generation_kwargs": _MapOf(PLAIN),
    "system_instruction": _Maybe(str),
    "chat_template_sha": _Maybe(str),
}
RECORD = {
    "index": int,
    "pair_id": int,
    "pattern": str,  # pattern code, "" when the mapping has none
    "target": str,  # the correct label
    "choice": _Maybe(str),  # the label read, null when none (or when a judge graded)
    "choice_text": _Maybe(str),  # the chosen option's text, for ablation consistency
    "status": str,
    "correct": bool,
    "judge": str,  # "<model> @ <host>" of the LLM judge, "" when none graded
    "judge_reply": _Maybe(str),  # its reply, re-read here with verdict_rule
    "verdict_rule": str,
    "answer_sha256": str,  # duplicate detection
}
TASK = {
    "version": NUMBER,
    "prompt_variant": str,
    "prompt": PROMPT,
    "n_samples": int,
    "metrics": dict,  # checked by _check_metrics
    "records": list,  # of RECORD, one per logged question
}
USAGE = {
    "input_tokens": int,
    "output_tokens": int,
    "n_api_calls": int,
    "estimated_cost_usd": _Maybe(NUMBER),
}
ENTRY = {
    "schema_version": int,
    "id": str,  # also the file name: <id>.json
    "model": {
        "name": str,  # display name
        "adapter": str,  # lmms-eval model id, e.g. mmvp_llava
        "model_args": _MapOf(PLAIN),  # secrets removed
        "checkpoint": _Maybe(str),  # `pretrained=` of local models
        "api_model": _Maybe(str),  # `model=` of API models
    },
    "tasks": _MapOf(TASK),
    "answer_key": str,
    # The questions verified against: description, sha256 of their content, pattern mapping,
    # number of questions.
    "data": {"source": str, "questions_sha256": str, "pattern_mapping": str, "n_questions": int},
    "usage": _Maybe(USAGE),  # API models: tokens, calls, estimated cost
    "packages": {"run": _MapOf(str), "verified_with": _MapOf(str)},
    "date": str,  # of the run, ISO 8601
    "added": str,  # when the entry was verified and written
    "lmms_eval_command": str,  # secrets removed
    "partial": bool,  # a question or a pair not scored: listed apart, never ranked
}


# ----------------------------------------------------------------------------- validation


def validate_entry(entry, where: str = "entry") -> dict:
    """Return ``entry`` if it follows the schema, else raise :class:`EntryError`."""
    if not isinstance(entry, dict) or entry.get("schema_version") != SCHEMA_VERSION:
        found = entry.get("schema_version") if isinstance(entry, dict) else None
        raise EntryError(f"{where}: schema_version {shown(found)}, this reader needs "
                         f"{SCHEMA_VERSION}")  # fmt: skip
    _check(entry, ENTRY, where)
    if not ENTRY_ID.fullmatch(entry["id"]):
        raise EntryError(f"{where}: field 'id': {shown(entry['id'])} is not a safe file name")
    if entry["answer_key"] not in ANSWER_KEYS:
        raise EntryError(
            f"{where}: field 'answer_key': {shown(entry['answer_key'])} not in {ANSWER_KEYS}"
        )
    data = entry["data"]
    if not SHA256.fullmatch(data["questions_sha256"]):
        raise EntryError(f"{where}: field 'data.questions_sha256' is not a sha256 hex digest")
    if data["n_questions"] < 2 or data["n_questions"] % 2:
        raise EntryError(f"{where}: field 'data.n_questions': {data['n_questions']} is not a "
                         "positive even number")  # fmt: skip
    if not entry["tasks"]:
        raise EntryError(f"{where}: field 'tasks' is empty")
    complete = True
    for task, body in entry["tasks"].items():
        if task not in TASK_METRICS:
            raise EntryError(f"{where}: tasks.{shown(task)} is not an MMVP task")
        complete &= _check_task(task, body, entry, f"{where}: tasks.{task}")
    if entry["partial"] == complete:
        raise EntryError(
            f"{where}: field 'partial' is {str(entry['partial']).lower()}, but its records are "
            + ("complete" if complete else "not complete: a question or a pair is not scored")
        )
    return entry


def load_entries(results_dir: Path) -> tuple[list[dict], list[str]]:
    """``(entries, skipped)``: every valid ``*.json`` entry under ``results_dir`` (sorted by id)
    and one message per file that is not, naming it."""
    entries, skipped = [], []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            entry = validate_entry(read_json(path), f"{path}: entry")
            if f"{entry['id']}.json" != path.name:
                raise EntryError(f"{path}: id {shown(entry['id'])} does not match the file name")
        except (EntryError, InputError) as err:
            skipped.append(str(err))
            continue
        entries.append(entry)
    return entries, skipped


def _check_task(task: str, body: dict, entry: dict, where: str) -> bool:
    """Validate one task; whether it is complete (every question logged, every pair scored)."""
    _check(body, TASK, where)
    n_questions = entry["data"]["n_questions"]
    indices = set()
    for i, record in enumerate(body["records"]):
        at = f"{where}.records[{i}]"
        _check(record, RECORD, at)
        _check_record(record, n_questions, at)
        if record["index"] in indices:
            raise EntryError(f"{at}: Index {record['index']} appears twice")
        indices.add(record["index"])
    if body["n_samples"] != len(body["records"]):
        raise EntryError(f"{where}: n_samples {body['n_samples']} but "
                         f"{len(body['records'])} records")  # fmt: skip
    _check_metrics(task, body, entry["answer_key"], where)
    scored = body["metrics"]["mmvp_scored_pairs"]
    return len(indices) == n_questions and scored == n_questions // 2


def _check_record(record: dict, n_questions: int, where: str) -> None:
    index, status = record["index"], record["status"]
    problem = None
    if not 1 <= index <= n_questions:
        problem = f"index {index} is not a question of the {n_questions}"
    elif record["pair_id"] != (index - 1) // 2 + 1:
        problem = f"pair_id {record['pair_id']} is not Index {index}'s pair"
    elif record["pattern"] and record["pattern"] not in PATTERN_BY_CODE:
        problem = f"pattern {shown(record['pattern'])} is not a pattern code"
    elif not LABEL.fullmatch(record["target"]) or not (
        record["choice"] is None or LABEL.fullmatch(record["choice"])
    ):
        problem = "target and choice must be option labels"
    elif status not in STATUSES:
        problem = f"status {shown(status)} not in {STATUSES}"
    elif not ANSWER_SHA.fullmatch(record["answer_sha256"]):
        problem = "answer_sha256 is not 16 hex digits"
    elif record["judge_reply"] is not None and (
        record["verdict_rule"] not in judge.VERDICT_RULES or record["choice"] is not None
    ):
        problem = "a judged answer needs a known verdict_rule and no choice"
    elif record["judge_reply"] is None and record["verdict_rule"]:
        problem = "verdict_rule without a judge_reply"
    elif record["correct"] != _correct(record):
        problem = f"correct is {str(record['correct']).lower()}, its status, choice and " \
                  "judge reply say otherwise"  # fmt: skip
    if problem:
        raise EntryError(f"{where}: {problem}")


def _correct(record: dict) -> bool:
    """What a record's own fields say about it: a judge's reply read with its rule, else the
    label read against the target."""
    if record["status"] != scoring.ANSWERED:
        return False
    if record["judge_reply"] is not None:
        return judge.verdict_is_correct(record["judge_reply"], record["verdict_rule"])
    return record["choice"] is not None and record["choice"] == record["target"]


def _check_metrics(task: str, body: dict, answer_key: str, where: str) -> None:
    metrics = body["metrics"]
    expected = set(TASK_METRICS[task])
    if set(metrics) != expected:
        missing, extra = sorted(expected - set(metrics)), sorted(set(metrics) - expected)
        raise EntryError(f"{where}: metrics: missing {missing}, unknown {shown(extra)}")
    for metric, value in metrics.items():
        kind = _metric_kind(metric)
        if not _is_kind(value, kind):
            raise EntryError(f"{where}: metrics.{metric}: {shown(value)} is not {kind}")
    if metrics["mmvp_answer_key"] != answer_key:
        raise EntryError(f"{where}: metrics.mmvp_answer_key is not the entry's answer key")
    recs = body["records"]
    for metric, aggregate in FROM_RECORDS.items():
        with quiet_scoring():
            recomputed = aggregate(recs)
        if not same_metric(metrics[metric], recomputed):
            raise EntryError(
                f"{where}: metrics.{metric} = {shown(metrics[metric])} but its records give "
                f"{shown(recomputed)}"
            )
    judged = sum(r["judge_reply"] is not None for r in recs)
    counts = {
        records.JUDGED: judged,
        records.UNPARSEABLE_VERDICTS: sum(
            r["judge_reply"] is not None
            and judge.verdict_is_unparseable(r["judge_reply"], r["verdict_rule"])
            for r in recs
        ),
        records.RULE_DISAGREEMENTS: sum(
            r["judge_reply"] is not None and judge.verdict_rules_disagree(r["judge_reply"])
            for r in recs
        ),
    }
    for metric, count in counts.items():
        if metric in metrics and metrics[metric] != count:
            raise EntryError(f"{where}: metrics.{metric} = {metrics[metric]} but its records "
                             f"give {count}")  # fmt: skip


def _metric_kind(metric: str):
    if metric in FRACTIONS:
        return "a fraction or null"
    if metric == "mmvp_answer_key":
        return "a string"
    if metric == "mmvp_provenance":
        return "an object"
    return "a count"


def _is_kind(value, kind: str) -> bool:
    if kind == "a fraction or null":
        return value is None or (conforms(value, NUMBER) and 0 <= value <= 1)
    if kind == "a string":
        return isinstance(value, str)
    if kind == "an object":
        return isinstance(value, dict) and all(
            isinstance(k, str) and (conforms(v, _Maybe(PLAIN)) or conforms(v, _MapOf(str)))
            for k, v in value.items()
        )
    return conforms(value, int) and value >= 0


# ----------------------------------------------------------------------------- comparability


def incomparable(entries: list[dict], label=lambda e: e["id"]) -> list[tuple[str, str]]:
    """``[(what, message)]`` for each way ``entries`` differ that forbids comparing them:
    another answer key, or other questions (or pattern mapping). Empty when comparable."""
    problems = []
    for what, get in (
        ("answer key", lambda e: e["answer_key"]),
        ("questions", lambda e: e["data"]["questions_sha256"]),
    ):
        values = [(label(e), get(e)) for e in entries]
        if len({value for _, value in values}) > 1:
            listed = ", ".join(sorted(f"{name}={value[:16]}" for name, value in values))
            problems.append((what, f"different {what}s cannot share a table: {listed}"))
    return problems


@contextlib.contextmanager
def quiet_scoring():
    """Silence the scorer's "pair(s) not scored" warning: the report states completeness itself,
    and would otherwise repeat it once per metric."""
    logger = logging.getLogger(scoring.__name__)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def same_metric(a, b) -> bool:
    """Equal metric values: numbers to 1e-9, missing (None, NaN, "N/A") equal to missing."""
    if _is_missing(a) or _is_missing(b):
        return _is_missing(a) and _is_missing(b)
    if conforms(a, NUMBER) and conforms(b, NUMBER):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return type(a) is type(b) and a == b


def _is_missing(value) -> bool:
    return value is None or value == "N/A" or (isinstance(value, float) and math.isnan(value))


# ----------------------------------------------------------------------------- checker


def _check(value, spec, where: str) -> None:
    if isinstance(spec, _Maybe) and value is None:
        return
    if isinstance(spec, _Maybe) and isinstance(spec.kind, dict):
        spec = spec.kind
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise EntryError(f"{where}: expected an object, got {_type(value)}")
        for name in spec:
            if name not in value:
                raise EntryError(f"{where}: missing field {name!r}")
        unknown = sorted(set(value) - set(spec))
        if unknown:
            raise EntryError(f"{where}: unknown field(s) {shown(unknown)}")
        for name, kind in spec.items():
            _check(value[name], kind, f"{where}.{name}")
    elif isinstance(spec, _MapOf):
        if not isinstance(value, dict):
            raise EntryError(f"{where}: expected an object, got {_type(value)}")
        for name, item in value.items():
            _check(item, spec.values, f"{where}.{name}")
    elif not conforms(value, spec):
        raise EntryError(f"{where}: expected {_name(spec)}, got {_type(value)}")


def conforms(value, kind) -> bool:
    """Whether ``value`` is of ``kind``: a type, NUMBER, PLAIN, or a _Maybe/_MapOf of one."""
    if isinstance(kind, _Maybe):
        return value is None or conforms(value, kind.kind)
    if isinstance(kind, _MapOf):
        return isinstance(value, dict) and all(conforms(v, kind.values) for v in value.values())
    if kind == NUMBER:
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (math.isfinite(value))
        )
    if kind == PLAIN:
        items = value if isinstance(value, list) else [value]
        return all(item is None or isinstance(item, str | bool) or conforms(item, NUMBER)
                   for item in items)  # fmt: skip
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _name(kind) -> str:
    if isinstance(kind, _Maybe):
        return f"{_name(kind.kind)} or null"
    if isinstance(kind, _MapOf):
        return f"an object of {_name(kind.values)}"
    names = {str: "a string", int: "an integer", bool: "true or false", dict: "an object",
             list: "a list", NUMBER: "a number", PLAIN: "a plain value"}  # fmt: skip
    return names.get(kind, str(kind))


def _type(value) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true or false",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }.get(  # fmt: skip
        type(value), type(value).__name__
    )
