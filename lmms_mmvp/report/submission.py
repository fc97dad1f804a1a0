"""``mmvp report add``: verify an lmms-eval run from anyone and record it as a leaderboard entry.

    lmms-eval --model mmvp_llava --model_args pretrained=llava-hf/llava-1.5-7b-hf \
        --tasks mmvp_ablation --output_path runs/ --log_samples
    mmvp report add runs/<model>/<date>_results.json [--data DIR] [--name NAME] [--partial]

Nothing the run says about itself is trusted. Verified against the questions (the copy of MMVP's
``Questions.csv`` shipped with this package, or ``--data DIR``): each logged sample's document id,
target and prompt; the scored answer against the raw one (reasoning stripped as the run's
``--reasoning_tags`` say); every field of every logged record against the record the task's own
functions (:mod:`mmvp_tasks.records`) give for that answer, an LLM judge's verdict re-read from its
logged reply, never asked again; every metric of the results file against the recomputation.
Completeness comes from the questions: a run is complete when every question is logged and every
pair scored; a run with less is accepted only with ``--partial``, marked partial and listed apart.
Duplicates are found on the normalised answers, task by task. No network and no judge are used
(``MMVP_JUDGE_*`` and ``MMVP_DATA_DIR`` are ignored). Secrets (API keys, tokens) never reach the
entry.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lmms_mmvp import results as lmms_results
from lmms_mmvp.report import files
from lmms_mmvp.report.schema import (
    ANSWER_KEYS,
    PLAIN,
    SCHEMA_VERSION,
    conforms,
    incomparable,
    load_entries,
    same_metric,
    validate_entry,
)
from lmms_mmvp.report.tasks import JUDGED_TASKS, RECORD_METRIC, TaskSpec, task_spec
from lmms_mmvp.report.text import shown
from mmvp_tasks import harness, judge, records
from mmvp_tasks.answers import parse_options
from mmvp_tasks.data import SHIPPED_DIR
from mmvp_tasks.prompts import choice_prompt, official_prompt

PROVENANCE_METRIC = "mmvp_provenance"
SECRET_ARG = re.compile(r"key|token|secret|password|passwd|auth|credential", re.I)
PROMPT_VARIANTS = {
    "mmvp": "lmms-eval letter prompt, original options",
    "mmvp_option_swap": "lmms-eval letter prompt, option texts swapped (paper ablation)",
    "mmvp_symbol_change": "lmms-eval number prompt, labels (1)/(2) (paper ablation)",
    "mmvp_official": "the paper's free-form prompt, graded by an LLM judge",
}
COMMAND_ARGS = (
    "model", "model_args", "tasks", "batch_size", "limit", "num_fewshot", "gen_kwargs",
    "system_instruction", "apply_chat_template", "output_path", "log_samples",
)  # fmt: skip
# Run fields that are the run's, not the question's: where its data lived (checked by content).
RUN_RECORD_FIELDS = ("data_source", "pattern_mapping")
MAX_RESPONSE_CHARS = 256 * 1024  # per answer; a 1024-token answer is a few KiB
MAX_REASONING_TAGS = 64  # tag occurrences per answer: lmms-eval's stripping is quadratic in them
# A strict subset of another entry's answers is a duplicate only from this many questions on:
# short runs of different models that read a letter can agree by chance.
MIN_SHARED_ANSWERS = 50
MAX_SHOWN = 5  # examples per kind of problem in a rejection


class SubmissionError(files.InputError):
    """An input that cannot be read at all (missing or malformed file); names file and line."""


@dataclass(frozen=True)
class Rejection:
    reason: str  # one of REASONS
    message: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


REASONS = (
    "metric_mismatch", "record_mismatch", "missing_sample", "task_version", "failed_requests",
    "data_mismatch", "mixed_answer_key", "duplicate", "partial", "not_mmvp",
)  # fmt: skip
WAIVED_BY_PARTIAL = ("partial", "failed_requests")  # --partial: accepted, marked partial


class Rejected(Exception):
    def __init__(self, rejections: list[Rejection]):
        super().__init__("; ".join(map(str, rejections)))
        self.rejections = rejections


@dataclass
class VerifiedRun:
    entry: dict
    rejections: list[Rejection] = field(default_factory=list)


def verify_run(
    results_path: Path,
    sample_paths: list[Path] = (),
    *,
    data_dir: Path | None = None,
    name: str | None = None,
) -> VerifiedRun:
    """Verify a run against the questions; the entry it would make and every reason to reject
    it. ``data_dir``: a folder with ``Questions.csv`` (default: the copy shipped with this
    package)."""
    run = _read_run(Path(results_path))
    tasks = [t for t, s in run["results"].items() if f"{RECORD_METRIC},none" in s]
    if not tasks:
        raise SubmissionError(f"{results_path}: no MMVP task in this results file")
    samples = _sample_files(Path(results_path), tasks, sample_paths)
    data_dir = Path(data_dir) if data_dir else SHIPPED_DIR
    data = verified_data(data_dir)
    answer_key, rejections = _answer_key(run, tasks)
    task_entries = {}
    for task in tasks if answer_key else []:
        body, problems = _verify_task(task, run, samples.get(task), data_dir, answer_key)
        rejections += [Rejection(reason, f"{task}: {text}") for reason, text in problems]
        if body is not None:
            task_entries[task] = body
    entry = _entry(run, task_entries, answer_key or "unknown", name, data)
    entry["partial"] = any(r.reason in WAIVED_BY_PARTIAL for r in rejections)
    return VerifiedRun(entry, rejections)


def add_run(
    results_path: Path,
    sample_paths: list[Path],
    results_dir: Path,
    *,
    data_dir: Path | None = None,
    name: str | None = None,
    partial: bool = False,
    existing: list[dict] | None = None,
) -> Path:
    """Verify a run and write its entry under ``results_dir``; raises :class:`Rejected`.
    ``existing``: the valid entries there (default: read now, skipping invalid ones)."""
    verified = verify_run(results_path, sample_paths, data_dir=data_dir, name=name)
    entry = verified.entry
    rejections = [r for r in verified.rejections if not (partial and r.reason in WAIVED_BY_PARTIAL)]
    if not entry["tasks"]:
        raise Rejected(rejections)
    if existing is None:
        existing, _skipped = load_entries(results_dir)
    rejections += check_against_entries(entry, existing)
    if rejections:
        raise Rejected(rejections)
    validate_entry(entry)
    path = entry_path(results_dir, entry["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry, indent=1, allow_nan=False) + "\n")
    return path


def check_against_entries(entry: dict, existing: list[dict]) -> list[Rejection]:
    """Rejections that need the other entries: duplicates, and runs that cannot share a table."""
    rejections = []
    for other in existing:
        if task := duplicated_task(entry, other):
            rejections.append(
                Rejection(
                    "duplicate",
                    f"{task}: the same answers (normalised) as entry {other['id']!r} on every "
                    "question they share",
                )
            )
        elif other["id"] == entry["id"]:
            rejections.append(
                Rejection("duplicate", f"an entry {other['id']!r} exists; choose another --name")
            )
        for what, message in incomparable([entry, other], label=lambda e: e["id"]):
            reason = "mixed_answer_key" if what == "answer key" else "data_mismatch"
            rejections.append(Rejection(reason, message))
    return list(dict.fromkeys(rejections))


def duplicated_task(entry: dict, other: dict) -> str | None:
    """A task in which one entry's answers are the other's (equal, or a subset of at least
    ``MIN_SHARED_ANSWERS`` questions), whatever the files, names or whitespace."""
    for task in sorted(entry["tasks"].keys() & other["tasks"].keys()):
        mine, theirs = (
            {r["index"]: r["answer_sha256"] for r in e["tasks"][task]["records"]}
            for e in (entry, other)
        )
        small, large = sorted((mine, theirs), key=len)
        same = small and small.keys() <= large.keys() and all(small[i] == large[i] for i in small)
        if same and (len(small) == len(large) or len(small) >= MIN_SHARED_ANSWERS):
            return task
    return None


def normalised_answer_sha256(response: str) -> str:
    """16 hex digits of the sha256 of an answer as its meaning goes: Unicode-normalised (NFKC),
    format characters dropped, whitespace collapsed, case folded."""
    text = unicodedata.normalize("NFKC", response)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = " ".join(text.split()).casefold()
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def entry_path(results_dir: Path, entry_id: str) -> Path:
    """``results_dir/<id>.json``, refusing any id that would leave ``results_dir``."""
    root = Path(results_dir).resolve()
    path = (root / f"{entry_id}.json").resolve()
    if path.parent != root or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\.json", path.name):
        raise SubmissionError(f"entry id {shown(entry_id)} is not a safe file name")
    return path


def safe_id(name: str, date: str) -> str:
    """A file-name-safe id from an untrusted model name: ASCII letters, digits, ``._-`` only."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-_")[:80] or "model"
    stamp = re.sub(r"[^0-9]", "", date)[:14]
    return f"{slug}-{stamp}" if stamp else slug


def verified_data(data_dir: Path) -> dict:
    """The questions runs are verified against: a description, the sha256 of their content
    (Index, question, options, answer as written, pattern), the pattern mapping, their count."""
    source = harness.data_source_from_env(data_dir, "original")  # MMVP_PATTERNS_CSV, if set
    docs = harness.document_rows(source, images=False)
    content = [[d["Index"], d["Question"], d["Options"], d["Correct Answer"], d["pattern"]]
               for d in docs]  # fmt: skip
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()
    where = "shipped with lmms-mmvp" if Path(data_dir) == SHIPPED_DIR else f"local {data_dir}"
    return {
        "source": f"MMVP questions {where} (content sha256:{digest[:16]})",
        "questions_sha256": digest,
        "pattern_mapping": docs[0]["pattern_mapping"] if docs else "none",
        "n_questions": len(docs),
    }


# ----------------------------------------------------------------------------- one task


def _verify_task(task, run, samples_path, data_dir, answer_key):
    """``(task entry or None, [(reason, message)])`` for one task of the run."""
    try:
        spec = task_spec(task)
    except ValueError as err:
        return None, [("not_mmvp", str(err))]
    if samples_path is None:
        return None, [("missing_sample", "no samples file (run lmms-eval with --log_samples)")]
    problems = []
    run_version = run["versions"].get(task)
    if not _same_version(run_version, spec.version):
        problems.append(("task_version", f"version {shown(run_version)}, current is "
                                         f"{spec.version}"))  # fmt: skip
    docs = spec.documents(data_dir, answer_key)
    samples = _read_samples(samples_path)
    by_doc, id_problems = _logged_documents(samples, len(docs))
    tags = _reasoning_tags(run, task)
    per_document, entry_records = [], []
    found: dict[str, list[str]] = {"data_mismatch": [], "record_mismatch": []}
    for doc_id in sorted(by_doc):
        line, sample = by_doc[doc_id]
        doc = docs[doc_id]
        where = f"line {line} (doc_id {doc_id}, Index {doc['Index']})"
        found["data_mismatch"] += [f"{where}: {p}" for p in _data_problems(task, sample, doc, tags)]
        expected, record_problems = _rescore(spec, doc, sample)
        found["record_mismatch"] += [f"{where}: {p}" for p in record_problems]
        per_document.append(expected)
        entry_records.append(_entry_record(expected[RECORD_METRIC], doc, sample["response"]))
    problems += id_problems
    if not per_document:
        return None, problems + [("missing_sample", "no question of the data is logged")]
    for reason, messages in found.items():
        if messages:
            problems.append((reason, f"{samples_path.name}: " + _listed(messages)))
    recomputed = spec.aggregate(per_document)
    problems += _metric_problems(run["results"][task], recomputed, samples_path)
    problems += _completeness_problems(recomputed, len(docs), sorted(by_doc))
    # Provenance as the run logged it: its package versions, not the verifier's.
    recomputed.pop(PROVENANCE_METRIC, None)
    logged_provenance = run["results"][task].get(f"{PROVENANCE_METRIC},none")
    if _is_provenance(logged_provenance):
        recomputed[PROVENANCE_METRIC] = logged_provenance
    else:
        problems.append(("metric_mismatch", f"{PROVENANCE_METRIC} is missing or malformed"))
        recomputed[PROVENANCE_METRIC] = {}
    body = {
        "version": spec.version,
        "prompt_variant": PROMPT_VARIANTS.get(task, task),
        "prompt": run["prompts"][task],
        "n_samples": len(entry_records),
        "metrics": recomputed,
        "records": entry_records,
    }
    return body, problems


def _same_version(run_version, current: float) -> bool:
    try:
        return float(run_version) == current
    except (TypeError, ValueError, OverflowError):  # absent, or not a number like the YAML's
        return False


def _logged_documents(samples, n_docs):
    """``{doc_id: (line, sample)}`` of the documents logged once, and the problems: a doc_id
    logged twice or not in the data (linear in the number of lines)."""
    counts = Counter(sample["doc_id"] for _, sample in samples)
    problems = []
    twice = sorted(d for d, n in counts.items() if n > 1)
    if twice:
        problems.append(("missing_sample", f"doc_id(s) logged more than once: {_ids(twice)}"))
    outside = sorted(d for d in counts if not 0 <= d < n_docs)
    if outside:
        problems.append(
            ("missing_sample", f"doc_id(s) not among the {n_docs} questions: {_ids(outside)}")
        )
    by_doc = {}
    for line, sample in samples:
        doc_id = sample["doc_id"]
        if 0 <= doc_id < n_docs and doc_id not in by_doc:
            by_doc[doc_id] = (line, sample)
    return by_doc, problems


def _data_problems(task: str, sample: dict, doc: dict, tags) -> list[str]:
    """The logged target, prompt and raw answer against the document."""
    problems = []
    if sample["target"] != doc["Correct Answer"]:
        problems.append(
            f"logged target {shown(sample['target'])}, the data say {doc['Correct Answer']!r}"
        )
    if task in JUDGED_TASKS:
        question = official_prompt(doc["Question"], doc["Options"])
    else:
        question = choice_prompt(doc["Question"], parse_options(doc["Options"]))
    if question not in sample["input"]:
        problems.append("the logged prompt does not ask this document's question and options")
    if sample["raw"] is not None and sample["response"] != _strip_reasoning(sample["raw"], tags):
        problems.append(
            "the scored answer is not the logged raw answer"
            + (" with its reasoning stripped" if tags else "")
        )
    return problems


def _strip_reasoning(raw: str, tags) -> str:
    """The answer lmms-eval scores for ``raw``: reasoning blocks stripped (its own function)."""
    if not tags:
        return raw
    from lmms_eval.api.reasoning import strip_reasoning_tags

    occurrences = sum(raw.count(tag) for pair in tags for tag in pair)
    if occurrences > MAX_REASONING_TAGS:
        return "\0 more reasoning tags than can be verified"  # never equal to a logged answer
    return strip_reasoning_tags(raw, tags)


def _rescore(spec: TaskSpec, doc: dict, sample: dict) -> tuple[dict, list[str]]:
    """The per-document results the task's own functions give for the logged answer (and the
    judge reply it logged), and how the logged ones differ from them."""
    logged = sample["logged"].get(RECORD_METRIC)
    logged = logged if isinstance(logged, dict) else {}
    verdict, problems = _logged_verdict(logged)
    response = sample["response"]
    if spec.name in JUDGED_TASKS:
        judge_name = logged.get("judge") if isinstance(logged.get("judge"), str) else ""
        expected = records.official_results(doc, response, verdict, judge_name)
    else:
        expected = records.rule_results(doc, response, verdict)
    for metric in spec.aggregations:
        if difference := _difference(sample["logged"].get(metric), expected[metric]):
            problems.append(f"{metric}: {difference}")
            break  # one difference per sample is enough to reject, and to read
    if problems and spec.name in JUDGED_TASKS and "judge_reply" not in logged:
        problems.append("no judge reply logged (made before replies were logged: re-run)")
    return expected, problems


def _logged_verdict(logged: dict) -> tuple[records.Verdict | None, list[str]]:
    reply = logged.get("judge_reply")
    if not isinstance(reply, str):
        return None, []
    rule, judge_name = logged.get("verdict_rule"), logged.get("judge")
    if rule not in judge.VERDICT_RULES:
        return None, [f"verdict rule {shown(rule)} is not one of {judge.VERDICT_RULES}"]
    return records.Verdict(reply, rule, judge_name if isinstance(judge_name, str) else ""), []


_ABSENT = object()
_OPTIONAL_FIELDS = {"judge_reply": None, "verdict_rule": ""}  # absent from older runs' records


def _difference(logged, expected) -> str | None:
    """How a logged per-document value differs from the re-derived one (None: it does not)."""
    if not isinstance(expected, dict):
        return (
            None
            if _same_value(logged, expected)
            else (f"logged {shown(logged)}, the answer gives {expected!r}")
        )
    if not isinstance(logged, dict):
        return f"logged {shown(logged)}, not a record"
    for name, value in expected.items():
        if name in RUN_RECORD_FIELDS:
            continue
        got = logged.get(name, _OPTIONAL_FIELDS.get(name, _ABSENT))
        if not _same_value(got, value):
            shown_got = "nothing" if got is _ABSENT else shown(got)
            return f"field {name!r} logged {shown_got}, the answer and the data give {shown(value)}"
    return None


def _same_value(a, b) -> bool:
    return type(a) is type(b) and a == b


def _metric_problems(file_scores: dict, recomputed: dict, samples_path: Path):
    problems = []
    for metric, value in recomputed.items():
        key = f"{metric},none"
        if metric == PROVENANCE_METRIC:
            continue
        if key not in file_scores:
            problems.append(("metric_mismatch", f"{metric} is missing from the results file"))
        elif not same_metric(file_scores[key], value):
            problems.append(
                (
                    "metric_mismatch",
                    f"{metric}: results file {shown(file_scores[key])}, recomputed from "
                    f"{samples_path.name} {value!r}",
                )
            )
    return problems


def _completeness_problems(recomputed: dict, n_docs: int, logged: list[int]):
    """Decided from the questions, never from the run's own counts."""
    problems = []
    failed = recomputed.get("mmvp_failed_requests") or 0
    if failed:
        problems.append(("failed_requests", f"{failed} request(s) failed, their pairs are not "
                         "scored; re-run to retry them, or --partial"))  # fmt: skip
    missing = sorted(set(range(n_docs)) - set(logged))
    if missing:
        scored = recomputed.get("mmvp_scored_pairs") or 0
        problems.append(
            (
                "partial",
                f"{len(missing)} of the {n_docs} questions not logged (doc_id {_ids(missing)}); "
                f"{scored} of {n_docs // 2} pairs scored; --partial accepts the run, marked "
                "partial and listed apart from complete runs",
            )
        )
    return problems


def _entry_record(record: dict, doc: dict, response: str) -> dict:
    texts = {o.label: o.text for o in parse_options(doc["Options"])}
    kept = ("index", "pair_id", "pattern", "target", "choice", "status", "correct", "judge",
            "judge_reply", "verdict_rule")  # fmt: skip
    return {
        **{k: record[k] for k in kept},
        "choice_text": texts.get(record["choice"]),
        "answer_sha256": normalised_answer_sha256(response),
    }


def _is_provenance(value) -> bool:
    return isinstance(value, dict) and all(
        isinstance(v, str) or (isinstance(v, dict) and all(isinstance(x, str) for x in v.values()))
        for v in value.values()
    )


def _answer_key(run: dict, tasks: list[str]) -> tuple[str | None, list[Rejection]]:
    keys = {task: run["results"][task].get("mmvp_answer_key,none") for task in tasks}
    values = set(map(shown, keys.values()))
    key = next(iter(keys.values()))
    if len(values) > 1:
        return None, [Rejection("data_mismatch", f"tasks report different answer keys: "
                                f"{ {t: shown(k) for t, k in keys.items()} }")]  # fmt: skip
    if key not in ANSWER_KEYS:
        return None, [Rejection("data_mismatch", f"unknown answer key {shown(key)}")]
    return key, []


def _reasoning_tags(run: dict, task: str):
    """The reasoning tags lmms-eval stripped for ``task`` (the task's setting wins over the
    CLI's, as in lmms-eval), as ``[[open, close], ...]``, or None."""
    value = run["reasoning_tags"].get(task)
    if value is None:
        value = run["cli"].get("reasoning_tags")
    if value is None or value is False or value == "none":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            value = None
    valid = isinstance(value, list) and 0 < len(value) <= 16 and all(
        isinstance(pair, list) and len(pair) == 2
        and all(isinstance(t, str) and 0 < len(t) <= 64 for t in pair)
        for pair in value
    )  # fmt: skip
    if not valid:
        raise SubmissionError(
            f"{run['path']}: field 'reasoning_tags': {shown(value)} is not a list of "
            "[open, close] tag pairs"
        )
    return value


def _ids(values: list) -> str:
    shown_ids = ", ".join(map(str, values[:10]))
    return shown_ids + (f", ... ({len(values)} in all)" if len(values) > 10 else "")


def _listed(messages: list[str]) -> str:
    more = f"; ... ({len(messages)} in all)" if len(messages) > MAX_SHOWN else ""
    return "; ".join(messages[:MAX_SHOWN]) + more


# ----------------------------------------------------------------------------- the entry


def _entry(run, task_entries, answer_key, name, data) -> dict:
    model_args = run["model_args"]
    checkpoint = model_args.get("pretrained")
    api_model = None if checkpoint else model_args.get("model")
    display = name or str(checkpoint or api_model or run["model"] or "model")
    if not name and checkpoint:
        display = str(checkpoint).rstrip("/").rsplit("/", 1)[-1]
    date = _iso_date(run["date"], run["cli"].get("timezone"))
    provenance = _first_provenance(task_entries)
    versions = provenance.get("versions")
    return {
        "schema_version": SCHEMA_VERSION,
        "id": safe_id(display, date),
        "model": {
            "name": display,
            "adapter": run["model"],
            "model_args": model_args,
            "checkpoint": None if checkpoint is None else str(checkpoint),
            "api_model": None if api_model is None else str(api_model),
        },
        "tasks": task_entries,
        "answer_key": answer_key,
        "data": data,
        "usage": _usage(run, api_model, model_args),
        "packages": {
            "run": versions
            if isinstance(versions, dict)
            else {"lmms-eval": run["lmms_eval_version"]},  # fmt: skip
            "verified_with": _installed_versions(),
        },
        "date": date,
        "added": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "lmms_eval_command": lmms_eval_command(run["cli"], model_args),
        "partial": False,
    }


def scrub_model_args(model_args) -> dict:
    """``model_args`` as a dict without secrets (api_key=..., token=...; ``*_env`` names kept)."""
    if isinstance(model_args, str):
        model_args = dict(a.split("=", 1) for a in model_args.split(",") if "=" in a)
    return {
        k: v
        for k, v in (model_args or {}).items()
        if not SECRET_ARG.search(k) or k.endswith("_env")
    }


def lmms_eval_command(cli: dict, model_args: dict) -> str:
    """The run's command line, rebuilt from the CLI arguments lmms-eval recorded."""
    cli = {**cli, "model_args": ",".join(f"{k}={v}" for k, v in model_args.items())}
    words = ["lmms-eval"]
    for arg in COMMAND_ARGS:
        value = cli.get(arg)
        if value is True:
            words.append(f"--{arg}")
        elif value not in (None, "", False) and not isinstance(value, dict | list):
            words += [f"--{arg}", str(value)]
    return shlex.join(words)


def _usage(run, api_model, model_args) -> dict | None:
    total = run["usage"]
    if not total:
        return None
    from model_adapters.pricing import estimate_cost_usd

    tokens_in, tokens_out = total.get("input_tokens", 0), total.get("output_tokens", 0)
    prices = [_price(run, model_args, k) for k in ("price_in", "price_out")]
    cost = estimate_cost_usd(str(api_model or ""), tokens_in, tokens_out, *prices)
    return {
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "n_api_calls": total.get("n_api_calls", 0),
        "estimated_cost_usd": cost,
    }


def _price(run, model_args, name) -> float | None:
    value = model_args.get(name)
    if value is None:
        return None
    try:
        price = float(value)
    except (TypeError, ValueError):
        price = float("nan")
    if not 0 <= price < 1e6:
        raise SubmissionError(f"{run['path']}: model_args {name}={shown(value)} is not a price "
                              "in USD per million tokens")  # fmt: skip
    return price


def _first_provenance(task_entries: dict) -> dict:
    for body in task_entries.values():
        value = body["metrics"].get(PROVENANCE_METRIC)
        if isinstance(value, dict) and value:
            return value
    return {}


def _installed_versions() -> dict:
    versions = {}
    for package in ("lmms-mmvp", "lmms-eval"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _prompt(config: dict, system_instruction, chat_template_sha) -> dict:
    kwargs = config.get("lmms_eval_specific_kwargs")
    kwargs = kwargs if isinstance(kwargs, dict) else {}
    generation = config.get("generation_kwargs")
    generation = generation if isinstance(generation, dict) else {}
    return {
        "pre_prompt": _text(kwargs.get("pre_prompt")),
        "post_prompt": _text(kwargs.get("post_prompt")),
        "generation_kwargs": {k: v for k, v in generation.items() if conforms(v, PLAIN)},
        "system_instruction": system_instruction,
        "chat_template_sha": chat_template_sha,
    }


def _text(value) -> str:
    return value if isinstance(value, str) else ""


# ----------------------------------------------------------------------------- files


def _read_run(path: Path) -> dict:
    """The fields of an lmms-eval results file that verification reads, type-checked (null is
    taken as absent); every other field is ignored."""
    raw = files.read_json(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("results"), dict):
        raise SubmissionError(f"{path}: not an lmms-eval results file (no 'results' object)")

    def get(container: dict, name: str, kinds: tuple, default, where: str):
        value = container.get(name)
        if value is None:
            return default
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            expected = " or ".join(_KIND_NAMES[k] for k in kinds)
            raise SubmissionError(f"{path}: field {where!r}: {_kind(value)} where {expected} "
                                  "belongs")  # fmt: skip
        return value

    results = {t: get(raw["results"], t, (dict,), {}, f"results.{t}") for t in raw["results"]}
    configs = get(raw, "configs", (dict,), {}, "configs")
    task_configs = {t: get(configs, t, (dict,), {}, f"configs.{t}") for t in results}
    config = get(raw, "config", (dict,), {}, "config")
    cli = get(config, "resolved_cli_args", (dict,), {}, "config.resolved_cli_args")
    model_args = scrub_model_args(get(config, "model_args", (str, dict), "", "config.model_args"))
    for key, value in model_args.items():
        if isinstance(value, list) or not conforms(value, PLAIN):
            raise SubmissionError(f"{path}: field 'config.model_args.{key}': {_kind(value)} "
                                  "where a plain value belongs")  # fmt: skip
    usage = get(get(raw, "usage", (dict,), {}, "usage"), "total", (dict,), {}, "usage.total")
    counts = {}
    for name in ("input_tokens", "output_tokens", "n_api_calls"):
        counts[name] = get(usage, name, (int,), 0, f"usage.total.{name}")
        if counts[name] < 0:
            raise SubmissionError(f"{path}: field 'usage.total.{name}' is negative")
    system = get(raw, "system_instruction", (str,), None, "system_instruction")
    template = get(raw, "chat_template_sha", (str,), None, "chat_template_sha")
    return {
        "path": path,
        "results": results,
        "versions": get(raw, "versions", (dict,), {}, "versions"),
        "prompts": {t: _prompt(c, system, template) for t, c in task_configs.items()},
        "reasoning_tags": {t: c.get("reasoning_tags") for t, c in task_configs.items()},
        "model": get(config, "model", (str,), "", "config.model"),
        "model_args": model_args,
        "cli": {k: v for k, v in cli.items() if conforms(v, PLAIN)},
        "date": get(raw, "date", (str, int, float), "", "date"),
        "usage": counts if usage else {},
        "lmms_eval_version": get(raw, "lmms_eval_version", (str,), "", "lmms_eval_version"),
    }


def _sample_files(results_path: Path, tasks: list[str], given: list[Path]) -> dict[str, Path]:
    """``{task: samples file}``: the given files by name, else lmms-eval's files beside the run.
    A given file that would not be verified (another task, a second file for one task) is an
    error, never silently ignored."""
    found: dict[str, Path] = {}
    for path in map(Path, given):
        task = lmms_results.samples_task(path)
        if task is None:
            raise SubmissionError(f"{path}: not an lmms-eval samples file (*_samples_<task>.jsonl)")
        if task not in tasks:
            raise SubmissionError(
                f"{path}: samples of {shown(task)}, a task the results file does not report: "
                f"only the samples of {', '.join(tasks)} are verified"
            )
        if task in found:
            raise SubmissionError(f"{path}: a second samples file for {task} ({found[task]})")
        found[task] = path
    for task in tasks:
        beside = lmms_results.samples_file(results_path, task)
        if task not in found and beside.is_file():
            found[task] = beside
    return found


def _read_samples(path: Path) -> list[tuple[int, dict]]:
    """``[(line, sample)]``: each line of an lmms-eval samples file with the fields verification
    reads type-checked; the answer as lmms-eval passed it to the task."""
    samples = []
    for line, value in files.read_json_lines(path):
        where = f"{path}: line {line}"
        if not isinstance(value, dict):
            raise SubmissionError(f"{where}: {_kind(value)} where a sample object belongs")
        doc_id = value.get("doc_id")
        if not isinstance(doc_id, int) or isinstance(doc_id, bool):
            raise SubmissionError(f"{where}: field 'doc_id': {_kind(doc_id)} where an integer "
                                  "belongs")  # fmt: skip
        for name in ("target", "input"):
            if not isinstance(value.get(name), str):
                raise SubmissionError(f"{where}: field {name!r}: {_kind(value.get(name))} where "
                                      "a string belongs")  # fmt: skip
        samples.append(
            (
                line,
                {
                    "doc_id": doc_id,
                    "target": value["target"],
                    "input": value["input"],
                    "response": _answer(value.get("filtered_resps"), where, "filtered_resps"),
                    "raw": None
                    if "resps" not in value
                    else _answer(value["resps"], where, "resps"),
                    "logged": value,
                },
            )
        )
    return samples


def _answer(value, where: str, name: str) -> str:
    """An answer as lmms-eval logs it: a string, or a one-element list of one (lmms-eval 0.7
    flattens single responses; older versions do not)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        raise SubmissionError(f"{where}: field {name!r}: {_kind(value)} where an answer (a "
                              "string) belongs")  # fmt: skip
    if len(value) > MAX_RESPONSE_CHARS:
        raise SubmissionError(f"{where}: field {name!r}: {len(value):,} characters, over the "
                              f"limit of {MAX_RESPONSE_CHARS:,}")  # fmt: skip
    return value


_KIND_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "true/false",
               int: "an integer", float: "a number", type(None): "nothing"}  # fmt: skip


def _kind(value) -> str:
    return _KIND_NAMES.get(type(value), type(value).__name__)


def _iso_date(stamp, timezone_name) -> str:
    """lmms-eval's ``YYYYMMDD_HHMMSS`` stamp (local time of its ``--timezone``) as ISO 8601."""
    try:
        date = datetime.strptime(str(stamp), "%Y%m%d_%H%M%S")
    except ValueError:
        return re.sub(r"[^0-9A-Za-z:+_.-]", "", str(stamp))[:40]
    try:
        zone = ZoneInfo(timezone_name) if isinstance(timezone_name, str) else None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        zone = None
    return date.replace(tzinfo=zone).isoformat()
