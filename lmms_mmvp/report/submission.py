"""``mmvp report add``: verify an lmms-eval run and record it as a leaderboard entry.

    lmms-eval --model mmvp_llava --model_args pretrained=llava-hf/llava-1.5-7b-hf \
        --tasks mmvp_ablation --output_path runs/ --log_samples
    mmvp report add runs/<model>/<date>_results.json [--data DIR] [--name NAME] [--partial]

Every logged response is scored again with the task's own scorer and aggregated with the task's
own aggregations; the run is rejected, with every reason, when a metric of the results file
differs from that recomputation, a sample is missing, the task version is not the current one,
a request failed, the samples disagree with the data, the answer key differs from the entries
already in ``results/``, the same run was added before, or it has fewer than 150 complete pairs
(unless ``--partial``). Secrets (API keys, tokens) never reach the entry.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lmms_mmvp import results as lmms_results
from lmms_mmvp.report.schema import SCHEMA_VERSION, load_entries, same_metric, validate_entry
from lmms_mmvp.report.tasks import JUDGED_TASKS, RECORD_METRIC, TaskSpec, task_spec
from mmvp_tasks.answers import parse_options
from mmvp_tasks.data import resolve_data_dir

FULL_RUN_PAIRS = 150
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


class SubmissionError(ValueError):
    """An input that cannot be read at all (missing or malformed file)."""


@dataclass(frozen=True)
class Rejection:
    reason: str  # one of REASONS
    message: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


REASONS = (
    "metric_mismatch", "missing_sample", "task_version", "failed_requests", "data_mismatch",
    "mixed_answer_key", "duplicate", "partial", "not_mmvp",
)  # fmt: skip


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
    """Rescore a run from its samples; the entry it would make and every reason to reject it."""
    results = _read_json(results_path)
    tasks = [t for t, s in results.get("results", {}).items() if f"{RECORD_METRIC},none" in s]
    if not tasks:
        raise SubmissionError(f"{results_path}: no MMVP task in this results file")
    samples = _sample_files(results_path, tasks, sample_paths)
    data_dir = Path(data_dir) if data_dir else resolve_data_dir()
    answer_key = str(results["results"][tasks[0]].get("mmvp_answer_key,none"))
    rejections: list[Rejection] = []
    task_entries = {}
    for task in tasks:
        body, problems = _verify_task(task, results, samples.get(task), data_dir, answer_key)
        rejections += [Rejection(reason, f"{task}: {text}") for reason, text in problems]
        if body is not None:
            task_entries[task] = body
    entry = _entry(results, task_entries, answer_key, name, samples)
    return VerifiedRun(entry, rejections)


def add_run(
    results_path: Path,
    sample_paths: list[Path],
    results_dir: Path,
    *,
    data_dir: Path | None = None,
    name: str | None = None,
    partial: bool = False,
) -> Path:
    """Verify a run and write its entry under ``results_dir``; raises :class:`Rejected`."""
    verified = verify_run(results_path, sample_paths, data_dir=data_dir, name=name)
    rejections = [r for r in verified.rejections if not (partial and r.reason == "partial")]
    entry = verified.entry
    if not entry["tasks"]:
        raise Rejected(rejections)
    entry["partial"] = any(r.reason == "partial" for r in verified.rejections)
    rejections += check_against_entries(entry, load_entries(results_dir))
    if rejections:
        raise Rejected(rejections)
    validate_entry(entry)
    path = entry_path(results_dir, entry["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry, indent=1, allow_nan=False) + "\n")
    return path


def check_against_entries(entry: dict, existing: list[dict]) -> list[Rejection]:
    """Rejections that need the other entries: duplicates and mixed answer keys or data."""
    rejections = []
    for other in existing:
        if other["fingerprint"] == entry["fingerprint"]:
            rejections.append(
                Rejection("duplicate", f"the same responses are already entry {other['id']!r}")
            )
        elif other["id"] == entry["id"]:
            rejections.append(
                Rejection("duplicate", f"an entry {other['id']!r} exists; choose another --name")
            )
        if other["answer_key"] != entry["answer_key"]:
            rejections.append(
                Rejection(
                    "mixed_answer_key",
                    f"answer key {entry['answer_key']!r}, but entry {other['id']!r} uses "
                    f"{other['answer_key']!r}: one table holds one answer key",
                )
            )
        if other["data"]["questions_sha256"] != entry["data"]["questions_sha256"]:
            rejections.append(
                Rejection(
                    "data_mismatch",
                    f"questions {entry['data']['source']}, but entry {other['id']!r} used "
                    f"{other['data']['source']}",
                )
            )
    return _unique(rejections)


def entry_path(results_dir: Path, entry_id: str) -> Path:
    """``results_dir/<id>.json``, refusing any id that would leave ``results_dir``."""
    root = Path(results_dir).resolve()
    path = (root / f"{entry_id}.json").resolve()
    if path.parent != root or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\.json", path.name):
        raise SubmissionError(f"entry id {entry_id!r} is not a safe file name")
    return path


def safe_id(name: str, date: str) -> str:
    """A file-name-safe id from an untrusted model name: ASCII letters, digits, ``._-`` only."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-_")[:80] or "model"
    stamp = re.sub(r"[^0-9]", "", date)[:14]
    return f"{slug}-{stamp}" if stamp else slug


# ----------------------------------------------------------------------------- one task


def _verify_task(task, results, samples_path, data_dir, answer_key):
    """``(task entry or None, [(reason, message)])`` for one task of the run."""
    try:
        spec = task_spec(task)
    except ValueError as err:
        return None, [("not_mmvp", str(err))]
    if samples_path is None:
        return None, [("missing_sample", "no samples file (run lmms-eval with --log_samples)")]
    problems = []
    run_version = results.get("versions", {}).get(task)
    if not _same_version(run_version, spec.version):
        problems.append(("task_version", f"version {run_version}, current is {spec.version}"))
    samples = _read_samples(samples_path)
    # A judged task's documents are mmvp's; its own process_docs would demand a judge API key,
    # which re-aggregating logged verdicts does not need.
    docs_spec = task_spec("mmvp") if task in JUDGED_TASKS else spec
    known_key = answer_key in ("corrected", "original")
    docs = docs_spec.documents(data_dir, answer_key) if known_key else []
    if not docs:
        return None, problems + [("data_mismatch", f"unknown answer key {answer_key!r}")]
    expected = results.get("n-samples", {}).get(task, {}).get("effective", len(samples))
    problems += _missing_samples(samples, expected, len(docs))
    per_document, records = [], []
    for sample in samples:
        doc_id = sample.get("doc_id")
        if not isinstance(doc_id, int) or not 0 <= doc_id < len(docs):
            continue  # reported by _missing_samples
        doc = docs[doc_id]
        problems += _data_problems(sample, doc)
        scored = _rescore(spec, doc, sample)
        per_document.append(scored)
        records.append(_with_choice_text(scored[RECORD_METRIC], doc))
    recomputed = spec.aggregate(per_document) if per_document else {}
    problems += _metric_problems(results["results"][task], recomputed, samples_path)
    problems += _completeness_problems(recomputed)
    # Provenance as the run logged it: its package versions, not the verifier's.
    recomputed.pop(PROVENANCE_METRIC, None)
    logged_provenance = results["results"][task].get(f"{PROVENANCE_METRIC},none")
    if isinstance(logged_provenance, dict):
        recomputed[PROVENANCE_METRIC] = logged_provenance
    body = {
        "version": spec.version,
        "prompt_variant": PROMPT_VARIANTS.get(task, task),
        "prompt": _prompt(results, task),
        "n_samples": len(samples),
        "metrics": recomputed,
        "records": sorted(records, key=lambda r: r["index"]),
    }
    return body, problems


def _same_version(run_version, current: float) -> bool:
    try:
        return float(run_version) == current
    except (TypeError, ValueError):  # absent, or not a number like the YAML's metadata.version
        return False


def _rescore(spec: TaskSpec, doc: dict, sample: dict) -> dict:
    """The task's per-document result for the logged response (judged tasks: as logged)."""
    if spec.name in JUDGED_TASKS:
        return {m: sample[m] for m in spec.aggregations if m in sample}
    return spec.score(doc, _response(sample))


def _response(sample: dict) -> str:
    response = sample.get("filtered_resps")
    while isinstance(response, list):  # lmms-eval logs [[text]] or [text] in some versions
        response = response[0] if response else ""
    return str(response)


def _missing_samples(samples, expected, n_docs):
    doc_ids = [s.get("doc_id") for s in samples]
    problems = []
    duplicates = sorted({d for d in doc_ids if doc_ids.count(d) > 1}, key=str)
    if duplicates:
        problems.append(("missing_sample", f"doc_id(s) logged twice: {duplicates[:10]}"))
    bad = [d for d in doc_ids if not isinstance(d, int) or not 0 <= d < n_docs]
    if bad:
        problems.append(("missing_sample", f"doc_id(s) not in the data: {bad[:10]}"))
    missing = sorted(set(range(min(expected, n_docs))) - set(doc_ids))
    if missing:
        problems.append(
            ("missing_sample", f"{len(missing)} sample(s) missing, doc_id {_ids(missing)}")
        )
    return problems


def _data_problems(sample, doc):
    logged = sample.get(RECORD_METRIC) or {}
    problems = []
    if sample.get("target") not in (None, doc["Correct Answer"]):
        problems.append(
            f"doc_id {sample['doc_id']} (Index {doc['Index']}): logged target "
            f"{sample['target']!r}, the data say {doc['Correct Answer']!r}"
        )
    if logged.get("index") not in (None, doc["Index"]):
        problems.append(
            f"doc_id {sample['doc_id']}: logged Index {logged['index']}, data Index {doc['Index']}"
        )
    return [("data_mismatch", p) for p in problems]


def _metric_problems(file_scores: dict, recomputed: dict, samples_path: Path):
    problems = []
    for metric, value in recomputed.items():
        key = f"{metric},none"
        if key not in file_scores:
            problems.append(("metric_mismatch", f"{metric} is missing from the results file"))
        elif metric == PROVENANCE_METRIC:
            problems += _provenance_problems(file_scores[key], value)
        elif not same_metric(file_scores[key], value):
            problems.append(
                (
                    "metric_mismatch",
                    f"{metric}: results file {file_scores[key]!r}, recomputed from "
                    f"{samples_path.name} {value!r}",
                )
            )
    return problems


def _provenance_problems(logged, recomputed):
    """The run's questions and answer key must be the ones verified against (paths may differ)."""
    if not isinstance(logged, dict):
        return [("metric_mismatch", f"{PROVENANCE_METRIC} is not an object: {logged!r}")]
    problems = []
    if logged.get("answer_key") != recomputed.get("answer_key"):
        problems.append(("data_mismatch", f"run answer key {logged.get('answer_key')!r}"))
    ours, theirs = _sha(recomputed.get("data_source", "")), _sha(logged.get("data_source", ""))
    if ours != theirs:
        problems.append(
            (
                "data_mismatch",
                f"the run used {logged.get('data_source')!r}, verified against "
                f"{recomputed.get('data_source')!r}",
            )
        )
    return problems


def _completeness_problems(recomputed):
    problems = []
    failed = recomputed.get("mmvp_failed_requests") or 0
    if failed:
        problems.append(("failed_requests", f"{failed} request(s) failed; re-run to retry them"))
    pairs = recomputed.get("mmvp_scored_pairs") or 0
    if pairs < FULL_RUN_PAIRS:
        problems.append(
            ("partial", f"{pairs} complete pair(s) of {FULL_RUN_PAIRS}; add --partial to accept")
        )
    return problems


def _with_choice_text(record: dict, doc: dict) -> dict:
    texts = {o.label: o.text for o in parse_options(doc["Options"])}
    return {**record, "choice_text": texts.get(record.get("choice"))}


# ----------------------------------------------------------------------------- the entry


def _entry(results, task_entries, answer_key, name, samples) -> dict:
    config = results.get("config") or {}
    model_args = scrub_model_args(config.get("model_args"))
    checkpoint = model_args.get("pretrained")
    api_model = None if checkpoint else model_args.get("model")
    display = name or str(checkpoint or api_model or config.get("model") or "model")
    if not name and checkpoint:
        display = str(checkpoint).rstrip("/").rsplit("/", 1)[-1]
    timezone_name = (config.get("resolved_cli_args") or {}).get("timezone")
    date = _iso_date(results.get("date"), timezone_name)
    provenance = _first_provenance(task_entries)
    return {
        "schema_version": SCHEMA_VERSION,
        "id": safe_id(display, date),
        "model": {
            "name": display,
            "adapter": str(config.get("model", "")),
            "model_args": model_args,
            "checkpoint": None if checkpoint is None else str(checkpoint),
            "api_model": None if api_model is None else str(api_model),
        },
        "tasks": task_entries,
        "answer_key": answer_key,
        "data": _verified_data(task_entries),
        "usage": _usage(results, api_model, model_args),
        "packages": {
            "run": provenance.get("versions")
            or {"lmms-eval": str(results.get("lmms_eval_version", ""))},
            "verified_with": _installed_versions(),
        },
        "date": date,
        "added": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "lmms_eval_command": lmms_eval_command(config, model_args),
        "partial": False,
        "fingerprint": _fingerprint(samples),
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


def lmms_eval_command(config: dict, model_args: dict) -> str:
    """The run's command line, rebuilt from the CLI arguments lmms-eval recorded."""
    cli = dict(config.get("resolved_cli_args") or {})
    cli["model_args"] = ",".join(f"{k}={v}" for k, v in model_args.items())
    words = ["lmms-eval"]
    for arg in COMMAND_ARGS:
        value = cli.get(arg, config.get(arg))
        if value is True:
            words.append(f"--{arg}")
        elif value not in (None, "", False):
            words += [f"--{arg}", str(value)]
    return shlex.join(words)


def _usage(results, api_model, model_args) -> dict | None:
    total = (results.get("usage") or {}).get("total")
    if not total:
        return None
    from model_adapters.pricing import estimate_cost_usd

    tokens_in, tokens_out = int(total.get("input_tokens", 0)), int(total.get("output_tokens", 0))
    cost = estimate_cost_usd(
        str(api_model or ""),
        tokens_in,
        tokens_out,
        model_args.get("price_in"),
        model_args.get("price_out"),
    )
    return {
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "n_api_calls": int(total.get("n_api_calls", 0)),
        "estimated_cost_usd": cost,
    }


def _verified_data(task_entries: dict) -> dict:
    """The data the run was verified against, as the task's documents describe it."""
    records = [r for body in task_entries.values() for r in body["records"]]
    source = records[0].get("data_source", "") if records else ""
    return {
        "source": source,
        "questions_sha256": _sha(source),
        "pattern_mapping": records[0].get("pattern_mapping", "") if records else "",
    }


def _first_provenance(task_entries: dict) -> dict:
    for body in task_entries.values():
        value = body["metrics"].get(PROVENANCE_METRIC)
        if isinstance(value, dict):
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


def _fingerprint(samples: dict[str, Path]) -> str:
    digest = hashlib.sha256()
    for task in sorted(samples):
        for sample in sorted(_read_samples(samples[task]), key=lambda s: str(s.get("doc_id"))):
            digest.update(json.dumps([task, sample.get("doc_id"), _response(sample)]).encode())
    return digest.hexdigest()


def _prompt(results: dict, task: str) -> dict:
    config = results.get("configs", {}).get(task, {})
    kwargs = config.get("lmms_eval_specific_kwargs") or {}
    return {
        "pre_prompt": kwargs.get("pre_prompt", ""),
        "post_prompt": kwargs.get("post_prompt", ""),
        "generation_kwargs": config.get("generation_kwargs") or {},
        "system_instruction": results.get("system_instruction"),
        "chat_template_sha": results.get("chat_template_sha"),
    }


# ----------------------------------------------------------------------------- files


def _sample_files(results_path: Path, tasks: list[str], given: list[Path]) -> dict[str, Path]:
    """``{task: samples file}``: the given files by name, else lmms-eval's files beside the run."""
    found = {}
    for path in map(Path, given):
        task = lmms_results.samples_task(path)
        if task is None:
            raise SubmissionError(f"{path}: not an lmms-eval samples file (*_samples_<task>.jsonl)")
        found[task] = path
    for task in tasks:
        beside = lmms_results.samples_file(results_path, task)
        if task not in found and beside.is_file():
            found[task] = beside
    return found


def _read_json(path: Path) -> dict:
    try:
        return lmms_results.load(path)
    except FileNotFoundError:
        raise SubmissionError(f"{path}: no such results file") from None
    except json.JSONDecodeError as err:
        raise SubmissionError(f"{path}: not a JSON results file ({err})") from None


def _read_samples(path: Path) -> list[dict]:
    samples = []
    for line_number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            samples.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise SubmissionError(f"{path}: line {line_number}: not JSON ({err})") from None
    return samples


def _iso_date(stamp, timezone_name: str | None) -> str:
    """lmms-eval's ``YYYYMMDD_HHMMSS`` stamp (local time of its ``--timezone``) as ISO 8601."""
    try:
        date = datetime.strptime(str(stamp), "%Y%m%d_%H%M%S")
    except ValueError:
        return str(stamp or "")
    try:
        zone = ZoneInfo(timezone_name) if timezone_name else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    return date.replace(tzinfo=zone).isoformat()


def _sha(data_source: str) -> str:
    match = re.search(r"sha256:([0-9a-f]+)", data_source or "")
    return match[1] if match else ""


def _ids(values: list[int]) -> str:
    shown = ", ".join(map(str, values[:10]))
    return shown + (f", ... ({len(values)} in all)" if len(values) > 10 else "")


def _unique(items: list) -> list:
    return list(dict.fromkeys(items))
