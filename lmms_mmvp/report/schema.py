"""The leaderboard entry: one JSON file per verified run under ``results/`` (docs/report.md).

Entries are written only by ``mmvp report add``, but a file on disk is untrusted input: every
reader validates it here (types, known answer key and statuses, and the stored pair accuracy
recomputed from the stored per-question records).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from lmms_mmvp.report.tasks import RECORD_METRIC, pair_outcomes

SCHEMA_VERSION = 1
ANSWER_KEYS = ("corrected", "original")
STATUSES = ("answered", "unparseable", "failed", "refused")
ENTRY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")
_OPTIONAL_STR = (str, type(None))

ENTRY_FIELDS = {
    "schema_version": int,
    "id": str,  # also the file name: <id>.json
    "model": {
        "name": str,  # display name
        "adapter": str,  # lmms-eval model id, e.g. mmvp_llava
        "model_args": dict,  # secrets removed
        "checkpoint": _OPTIONAL_STR,  # `pretrained=` of local models
        "api_model": _OPTIONAL_STR,  # `model=` of API models
    },
    "tasks": dict,  # task name -> TASK_FIELDS
    "answer_key": str,
    "data": {"source": str, "questions_sha256": str, "pattern_mapping": str},
    "usage": (dict, type(None)),  # API models: tokens, calls, estimated cost
    "packages": dict,  # {"run": {...}, "verified_with": {...}}
    "date": str,  # of the run, ISO 8601
    "added": str,  # when the entry was verified and written
    "lmms_eval_command": str,  # secrets removed
    "partial": bool,  # fewer than 150 complete pairs, accepted with --partial
    "fingerprint": str,  # sha256 of the logged responses: duplicate detection
}
TASK_FIELDS = {
    "version": (int, float),
    "prompt_variant": str,
    "prompt": dict,
    "n_samples": int,
    "metrics": dict,  # metric name -> value, as recomputed (equal to the results file)
    "records": list,  # one per question
}
RECORD_FIELDS = {
    "index": int,
    "pair_id": int,
    "pattern": str,
    "status": str,
    "choice": _OPTIONAL_STR,
    "choice_text": _OPTIONAL_STR,  # the chosen option's text, for ablation consistency
    "correct": bool,
}


class EntryError(ValueError):
    """An entry that does not follow the schema; the message names the file and field."""


def validate_entry(entry, where: str = "entry") -> dict:
    """Return ``entry`` if it follows the schema, else raise :class:`EntryError`."""
    _check_fields(entry, ENTRY_FIELDS, where)
    if entry["schema_version"] != SCHEMA_VERSION:
        raise EntryError(f"{where}: schema_version {entry['schema_version']} != {SCHEMA_VERSION}")
    if not ENTRY_ID.fullmatch(entry["id"]):
        raise EntryError(f"{where}: field 'id': {entry['id']!r} is not a safe file name")
    if entry["answer_key"] not in ANSWER_KEYS:
        raise EntryError(
            f"{where}: field 'answer_key': {entry['answer_key']!r} not in {ANSWER_KEYS}"
        )
    if not entry["tasks"]:
        raise EntryError(f"{where}: field 'tasks' is empty")
    for task, body in entry["tasks"].items():
        _check_task(body, f"{where}: tasks.{task}")
    return entry


def load_entries(results_dir: Path) -> list[dict]:
    """Every ``*.json`` entry under ``results_dir``, validated, sorted by id."""
    entries = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            entry = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise EntryError(f"{path}: not JSON ({err})") from None
        validate_entry(entry, f"{path}: entry")
        if f"{entry['id']}.json" != path.name:
            raise EntryError(f"{path}: id {entry['id']!r} does not match the file name")
        entries.append(entry)
    return entries


def _check_task(body, where: str) -> None:
    _check_fields(body, TASK_FIELDS, where)
    indices = set()
    for i, record in enumerate(body["records"]):
        _check_fields(record, RECORD_FIELDS, f"{where}.records[{i}]")
        if record["status"] not in STATUSES:
            raise EntryError(f"{where}.records[{i}]: status {record['status']!r} not in {STATUSES}")
        if record["index"] in indices:
            raise EntryError(f"{where}.records[{i}]: Index {record['index']} appears twice")
        indices.add(record["index"])
    stored = body["metrics"].get(RECORD_METRIC)
    outcomes = pair_outcomes(body["records"])
    recomputed = sum(outcomes.values()) / len(outcomes) if outcomes else None
    if not same_metric(stored, recomputed):
        raise EntryError(
            f"{where}: metrics.{RECORD_METRIC} = {stored} but its records give {recomputed}"
        )


def _check_fields(value, spec: dict, where: str) -> None:
    if not isinstance(value, dict):
        raise EntryError(f"{where}: expected an object, got {type(value).__name__}")
    for name, expected in spec.items():
        if name not in value:
            raise EntryError(f"{where}: missing field {name!r}")
        if isinstance(expected, dict):
            _check_fields(value[name], expected, f"{where}.{name}")
        elif not _has_type(value[name], expected):
            raise EntryError(
                f"{where}: field {name!r}: expected {_type_names(expected)}, "
                f"got {type(value[name]).__name__}"
            )


def _has_type(value, expected) -> bool:
    types = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool) and bool not in types:
        return False  # JSON true is not a number here
    return isinstance(value, types)


def _type_names(expected) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def same_metric(a, b) -> bool:
    """Equal metric values: numbers to 1e-9, missing (None, NaN, "N/A") equal to missing."""
    if _is_missing(a) or _is_missing(b):
        return _is_missing(a) and _is_missing(b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _is_missing(value) -> bool:
    return value is None or value == "N/A" or (isinstance(value, float) and math.isnan(value))
