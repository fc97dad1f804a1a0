"""lmms-eval glue for the MMVP tasks: the functions the task YAMLs reference.

The YAMLs name these functions directly (``!function mmvp_tasks.harness.process_results``).
They load a one-row descriptor (``mmvp_source.json``) so lmms-eval's loader has something to read;
``process_docs_*`` replace it with the validated MMVP documents from :mod:`mmvp_tasks.data`.
Documents keep the official columns ``Index, Question, Options, Correct Answer`` plus ``image``,
``pattern`` (code, "" when unknown), ``answer_key``, ``data_source`` and ``pattern_mapping``.

The hooks read the environment, the functions below them take arguments: where the data is
(``MMVP_DATA_DIR``, else the hub at ``MMVP_REVISION``), the answer key (``MMVP_ANSWER_KEY``,
``corrected`` by default), the pattern mapping (``MMVP_PATTERNS_CSV``) and the judge's settings
(:func:`mmvp_tasks.judge.settings_from_env`). Tools that grade existing answers build a
:class:`DataSource` with their own data dir and answer key and call :func:`document_rows`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

from mmvp_tasks import ablations, judge, provenance, records, scoring
from mmvp_tasks.answers import parse_options
from mmvp_tasks.data import (
    AMVICC_PATTERNS,
    HUB_REPO,
    QUESTIONS_FILE,
    pattern_mapping,
    read_questions,
    resolve_data_dir,
)
from mmvp_tasks.prompts import choice_prompt, official_prompt

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- documents


@dataclass(frozen=True)
class DataSource:
    """The MMVP data a task reads, and how its answers are keyed."""

    data_dir: Path
    answer_key: str = "corrected"
    patterns_csv: Path | None = None  # used when the data dir has no patterns.csv


def data_source_from_env(data_dir=None, answer_key=None) -> DataSource:
    """What the environment names; ``data_dir`` and ``answer_key``, when given, win."""
    patterns_csv = os.environ.get("MMVP_PATTERNS_CSV")
    return DataSource(
        data_dir=Path(data_dir) if data_dir else resolve_data_dir(),
        answer_key=answer_key or os.environ.get("MMVP_ANSWER_KEY", "corrected"),
        patterns_csv=Path(patterns_csv).expanduser() if patterns_csv else None,
    )


@lru_cache(maxsize=4)
def _questions(source: DataSource, images: bool):
    return read_questions(source.data_dir, source.answer_key, source.patterns_csv, images=images)


def load_documents(source: DataSource, transform=None):
    """The validated questions as a ``datasets.Dataset``; ``transform`` rewrites options/answer."""
    import datasets

    rows = document_rows(source, transform)
    if not any(row["pattern"] for row in rows):
        logger.warning(
            "MMVP: no pattern mapping (patterns.csv in the data dir or MMVP_PATTERNS_CSV); "
            "per-pattern metrics will be null"
        )
    features = datasets.Features(
        {
            "Index": datasets.Value("int32"),
            **{c: datasets.Value("string") for c in ("Question", "Options", "Correct Answer")},
            "image": datasets.Image(),
            **{c: datasets.Value("string") for c in ("pattern", *scoring.RUN_FIELDS)},
        }
    )
    return datasets.Dataset.from_list(rows, features=features)


def document_rows(source: DataSource, transform=None, *, images: bool = True) -> list[dict]:
    """The task's documents as dicts (``image``: the image's path). ``images=False`` reads only
    ``Questions.csv``: enough to grade or verify answers that already exist."""
    questions = _questions(source, images)
    data_dir, answer_key = source.data_dir, source.answer_key
    data_source = provenance.describe_source(data_dir, data_dir / QUESTIONS_FILE, HUB_REPO)
    mapping = _mapping_name(pattern_mapping(data_dir, questions, source.patterns_csv))
    rows = []
    for q in questions:
        options, answer = (transform or (lambda o, a: (o, a)))(q.options, q.correct_answer)
        rows.append(
            {
                "Index": q.index,
                "Question": q.question,
                "Options": options,
                "Correct Answer": answer,
                "image": str(q.image_path),
                "pattern": q.pattern,
                "answer_key": answer_key,
                "data_source": data_source,
                "pattern_mapping": mapping,
            }
        )
    return rows


def _mapping_name(path: Path | None) -> str:
    if path is None:
        return "none"
    if path == AMVICC_PATTERNS:
        return "AMVICC (unofficial, CC0; shipped)"
    return f"{path.resolve()} (unofficial)"


def process_docs_original(_descriptor):
    _fallback_judge()  # fallback on but no judge key: fail now, not on the first unread answer
    return load_documents(data_source_from_env())


def process_docs_option_swap(_descriptor):
    _fallback_judge()
    return load_documents(data_source_from_env(), ablations.swap_options)


def process_docs_symbol_change(_descriptor):
    _fallback_judge()
    return load_documents(data_source_from_env(), ablations.change_symbols)


def process_docs_official(_descriptor):
    judge.settings_from_env()  # no key: fail now, with the reason, instead of on every sample
    return load_documents(data_source_from_env())


# ----------------------------------------------------------------------------- prompts


def doc_to_visual(doc):
    return [doc["image"].convert("RGB")]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    kwargs = lmms_eval_specific_kwargs or {}
    return choice_prompt(
        doc["Question"],
        parse_options(doc["Options"]),
        kwargs.get("pre_prompt", ""),
        kwargs.get("post_prompt", ""),
    )


def doc_to_text_official(doc, lmms_eval_specific_kwargs=None):
    return official_prompt(doc["Question"], doc["Options"])


def doc_to_target(doc):
    return doc["Correct Answer"]


# ----------------------------------------------------------------------------- per document


def process_results(doc, results):
    """Score one response with the rule-based reader (and the judge fallback, when enabled)."""
    response = results[0]
    verdict = None
    if records.read_answer(doc, response)["status"] == scoring.UNPARSEABLE:
        if settings := _fallback_judge():
            verdict = _verdict(doc, response, settings)
    return records.rule_results(doc, response, verdict)


# Optional LLM-judge fallback for the answers the rules cannot read: a few judge calls instead of
# one per question (mmvp_official). Off by default so `mmvp` stays offline and deterministic.
JUDGE_FALLBACK_ENV = "MMVP_JUDGE_FALLBACK"
JUDGED = records.JUDGED  # answers scored by the judge fallback
METRICS = records.METRICS
RULE_DISAGREEMENTS, UNPARSEABLE_VERDICTS = records.RULE_DISAGREEMENTS, records.UNPARSEABLE_VERDICTS


def _fallback_judge() -> judge.JudgeSettings | None:
    """The judge settings (mmvp_official's) when ``MMVP_JUDGE_FALLBACK=1``, else ``None``."""
    if os.environ.get(JUDGE_FALLBACK_ENV, "0").strip().lower() in ("", "0", "false", "no", "off"):
        return None
    return judge.settings_from_env()


def _verdict(doc, response, settings) -> records.Verdict | None:
    """The judge's verdict on ``response``; ``None`` when the request fails (the fallback then
    leaves the answer unparseable, mmvp_official reports the question failed)."""
    question = official_prompt(doc["Question"], doc["Options"])
    try:
        reply = judge.grade(question, doc["Correct Answer"], response, settings)
    except judge.JudgeRequestError as err:
        logger.error("MMVP judge failed on Index %s: %s", doc["Index"], err)
        return None
    return records.Verdict(reply, settings.verdict_rule, judge.describe(settings))


def process_results_official(doc, results):
    """Grade one free-form response with the paper's LLM judge."""
    response = results[0]
    settings = judge.settings_from_env()
    verdict = None if records.unscored_status(response) else _verdict(doc, response, settings)
    return records.official_results(doc, response, verdict, judge.describe(settings))


# ----------------------------------------------------------------------------- aggregation
# Named one by one: the YAMLs reference them as ``!function mmvp_tasks.harness.<name>``.

aggregate_pair_accuracy = scoring.pair_accuracy
aggregate_question_accuracy = scoring.question_accuracy
aggregate_scored_pairs = scoring.scored_pairs
aggregate_incomplete_pairs = scoring.incomplete_pairs
aggregate_unparseable = partial(scoring.count_status, status=scoring.UNPARSEABLE)
aggregate_failed_requests = partial(scoring.count_status, status=scoring.FAILED)
aggregate_refusals = partial(scoring.count_status, status=scoring.REFUSED)
aggregate_answer_key = scoring.answer_key


def aggregate_judged(values: list[int]) -> int:
    """Answers scored by the judge fallback (``MMVP_JUDGE_FALLBACK=1``)."""
    return sum(values)


def aggregate_judge_rule_disagreements(values: list[int]) -> int:
    """Replies the two verdict rules judge differently (mmvp_official)."""
    return sum(values)


def aggregate_judge_unparseable(values: list[int]) -> int:
    """Judge replies that were neither yes nor no (mmvp_official)."""
    return sum(values)


def aggregate_provenance(records):
    """Data source, answer key, pattern mapping, package versions and, when one graded, the LLM
    judge (model and endpoint host) of the run."""
    summary = provenance.summarize(records, scoring.RUN_FIELDS)
    return {**summary, "judge": judges} if (judges := scoring.judges(records)) else summary


aggregate_pattern_od = partial(scoring.pattern_pair_accuracy, code="od")
aggregate_pattern_pf = partial(scoring.pattern_pair_accuracy, code="pf")
aggregate_pattern_sc = partial(scoring.pattern_pair_accuracy, code="sc")
aggregate_pattern_qc = partial(scoring.pattern_pair_accuracy, code="qc")
aggregate_pattern_pr = partial(scoring.pattern_pair_accuracy, code="pr")
aggregate_pattern_ca = partial(scoring.pattern_pair_accuracy, code="ca")
aggregate_pattern_sh = partial(scoring.pattern_pair_accuracy, code="sh")
aggregate_pattern_tx = partial(scoring.pattern_pair_accuracy, code="tx")
aggregate_pattern_vp = partial(scoring.pattern_pair_accuracy, code="vp")
