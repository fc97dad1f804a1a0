"""One response to an MMVP question, read and graded: its per-question record and the per-metric
results the task returns for it (what lmms-eval aggregates, and logs with ``--log_samples``).

Pure functions: no environment, no network. The task hooks (:mod:`mmvp_tasks.harness`) pass the
LLM judge's verdict they obtained; ``mmvp report add`` passes the verdict a run logged, so a
submitted run is re-verified by the very functions that scored it, without asking a judge again.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmvp_tasks import judge, scoring
from mmvp_tasks.answers import answer_label, extract_choice, parse_options
from mmvp_tasks.markers import is_failed_response, is_refused_response
from mmvp_tasks.patterns import PATTERNS
from mmvp_tasks.prompts import shown_labels

# Every metric receives the question's record; each aggregation reads what it needs from it.
METRICS = (
    "mmvp_pair_accuracy",
    "mmvp_accuracy",
    "mmvp_scored_pairs",
    "mmvp_incomplete_pairs",
    "mmvp_unparseable",
    "mmvp_failed_requests",
    "mmvp_refusals",
    "mmvp_answer_key",
    "mmvp_provenance",
    *(f"mmvp_pair_accuracy_{p.slug}_unofficial" for p in PATTERNS),
)
JUDGED = "mmvp_judged"  # rule-scored tasks: answers graded by the judge fallback
# mmvp_official only: replies the original and the stripped verdict rule judge differently, and
# replies that are neither yes nor no (scored wrong).
RULE_DISAGREEMENTS = "mmvp_judge_rule_disagreements"
UNPARSEABLE_VERDICTS = "mmvp_judge_unparseable"


@dataclass(frozen=True)
class Verdict:
    """An LLM judge's reply to the paper's grading prompt, and how that reply is read."""

    reply: str
    rule: str  # one of mmvp_tasks.judge.VERDICT_RULES
    judge: str  # "<model> @ <host>"


def unscored_status(response: str) -> str | None:
    """``failed`` or ``refused`` for the adapters' markers (mmvp_tasks.markers), else None."""
    if is_failed_response(response):
        return scoring.FAILED
    if is_refused_response(response):
        return scoring.REFUSED
    return None


def read_answer(doc: dict, response: str) -> scoring.QuestionRecord:
    """The rule-based record of ``response``: the markers first, then the answer reader."""
    target = answer_label(doc["Correct Answer"])
    if status := unscored_status(response):
        return scoring.make_record(doc, target, None, status)
    options = parse_options(doc["Options"])
    choice = extract_choice(
        response, options, shown_labels=shown_labels(options), question=doc.get("Question")
    )
    status = scoring.ANSWERED if choice else scoring.UNPARSEABLE
    return scoring.make_record(doc, target, choice, status)


def rule_results(doc: dict, response: str, verdict: Verdict | None = None) -> dict:
    """Per-metric results of the rule-scored tasks (mmvp and its ablations). ``verdict`` (the
    judge fallback) grades an answer the rules cannot read; it is ignored for any other."""
    record = read_answer(doc, response)
    if verdict is None or record["status"] != scoring.UNPARSEABLE:
        return {**dict.fromkeys(METRICS, record), JUDGED: 0}
    return {**dict.fromkeys(METRICS, _judged_record(doc, verdict)), JUDGED: 1}


def official_results(doc: dict, response: str, verdict: Verdict | None, judge_name: str) -> dict:
    """Per-metric results of mmvp_official, where the judge grades every answer. ``verdict`` is
    None when the judge request failed: the question is then failed, not wrong."""
    status = unscored_status(response)
    if status is None and verdict is not None:
        record = _judged_record(doc, verdict)
        disagree = judge.verdict_rules_disagree(verdict.reply)
        unparseable = judge.verdict_is_unparseable(verdict.reply, verdict.rule)
    else:
        target = answer_label(doc["Correct Answer"])
        record = scoring.make_record(doc, target, None, status or scoring.FAILED, judge=judge_name)
        disagree = unparseable = False
    return {
        **dict.fromkeys(METRICS, record),
        RULE_DISAGREEMENTS: int(disagree),
        UNPARSEABLE_VERDICTS: int(unparseable),
    }


def _judged_record(doc: dict, verdict: Verdict) -> scoring.QuestionRecord:
    return scoring.make_record(
        doc,
        answer_label(doc["Correct Answer"]),
        None,
        scoring.ANSWERED,
        judged_correct=judge.verdict_is_correct(verdict.reply, verdict.rule),
        judge=verdict.judge,
        judge_reply=verdict.reply,
        verdict_rule=verdict.rule,
    )
