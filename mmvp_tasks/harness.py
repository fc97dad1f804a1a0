"""lmms-eval glue for the MMVP tasks: the functions the task YAMLs reference.

The YAMLs load a one-row descriptor (``mmvp_source.json``) so lmms-eval's loader has something to
read; ``process_docs_*`` replace it with the validated MMVP documents from :mod:`mmvp_tasks.data`
(hub or ``MMVP_DATA_DIR``), with the answer key from ``MMVP_ANSWER_KEY`` (``corrected`` default).
Documents keep the official columns ``Index, Question, Options, Correct Answer`` plus ``image``,
``pattern`` (code, "" when unknown) and ``answer_key``.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache, partial
from pathlib import Path

from mmvp_tasks import ablations, judge, scoring
from mmvp_tasks.answers import answer_label, extract_choice, parse_options
from mmvp_tasks.data import read_questions, resolve_data_dir
from mmvp_tasks.markers import is_failed_response, is_refused_response
from mmvp_tasks.patterns import PATTERNS
from mmvp_tasks.prompts import choice_prompt, official_prompt, shown_labels

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- documents


@lru_cache(maxsize=4)
def _questions(data_dir: Path, answer_key: str):
    return read_questions(data_dir, answer_key)


def load_documents(transform=None):
    """The validated questions as a ``datasets.Dataset``; ``transform`` rewrites options/answer."""
    import datasets

    answer_key = os.environ.get("MMVP_ANSWER_KEY", "corrected")
    questions = _questions(resolve_data_dir(), answer_key)
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
            }
        )
    if not any(q.pattern for q in questions):
        logger.warning(
            "MMVP: no pattern mapping (patterns.csv in the data dir or MMVP_PATTERNS_CSV); "
            "per-pattern metrics will be NaN"
        )
    features = datasets.Features(
        {
            "Index": datasets.Value("int32"),
            **{c: datasets.Value("string") for c in ("Question", "Options", "Correct Answer")},
            "image": datasets.Image(),
            **{c: datasets.Value("string") for c in ("pattern", "answer_key")},
        }
    )
    return datasets.Dataset.from_list(rows, features=features)


def process_docs_original(_descriptor):
    return load_documents()


def process_docs_option_swap(_descriptor):
    return load_documents(ablations.swap_options)


def process_docs_symbol_change(_descriptor):
    return load_documents(ablations.change_symbols)


def process_docs_official(_descriptor):
    judge.settings_from_env()  # no key: fail now, with the reason, instead of on every sample
    return load_documents()


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
    """Score one response with the rule-based extractor."""
    response = results[0]
    target = answer_label(doc["Correct Answer"])
    if unscored := _unscored_status(response):
        return _per_metric(scoring.make_record(doc, target, None, unscored))
    options = parse_options(doc["Options"])
    choice = extract_choice(response, options, shown_labels=shown_labels(options))
    status = scoring.ANSWERED if choice else scoring.UNPARSEABLE
    return _per_metric(scoring.make_record(doc, target, choice, status))


def process_results_official(doc, results):
    """Grade one free-form response with the paper's LLM judge."""
    response = results[0]
    target = answer_label(doc["Correct Answer"])
    if unscored := _unscored_status(response):
        return _per_metric(scoring.make_record(doc, target, None, unscored))
    question = official_prompt(doc["Question"], doc["Options"])
    try:
        verdict = judge.grade(question, doc["Correct Answer"], response, judge.settings_from_env())
    except judge.JudgeRequestError as err:
        logger.error("MMVP judge failed on Index %s: %s", doc["Index"], err)
        return _per_metric(scoring.make_record(doc, target, None, scoring.FAILED))
    correct = judge.verdict_is_correct(verdict)
    record = scoring.make_record(doc, target, None, scoring.ANSWERED, judged_correct=correct)
    return _per_metric(record)


def _unscored_status(response: str) -> str | None:
    if is_failed_response(response):
        return scoring.FAILED
    if is_refused_response(response):
        return scoring.REFUSED
    return None


METRICS = (
    "mmvp_pair_accuracy",
    "mmvp_accuracy",
    "mmvp_scored_pairs",
    "mmvp_incomplete_pairs",
    "mmvp_unparseable",
    "mmvp_failed_requests",
    "mmvp_refusals",
    "mmvp_answer_key",
    *(f"mmvp_pair_accuracy_{p.slug}_unofficial" for p in PATTERNS),
)


def _per_metric(record):
    return dict.fromkeys(METRICS, record)


# ----------------------------------------------------------------------------- aggregation

aggregate_pair_accuracy = scoring.pair_accuracy
aggregate_question_accuracy = scoring.question_accuracy
aggregate_scored_pairs = scoring.scored_pairs
aggregate_incomplete_pairs = scoring.incomplete_pairs
aggregate_unparseable = partial(scoring.count_status, status=scoring.UNPARSEABLE)
aggregate_failed_requests = partial(scoring.count_status, status=scoring.FAILED)
aggregate_refusals = partial(scoring.count_status, status=scoring.REFUSED)
aggregate_answer_key = scoring.answer_key
aggregate_pattern = {p.code: partial(scoring.pattern_pair_accuracy, code=p.code) for p in PATTERNS}
