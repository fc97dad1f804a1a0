"""MMVP scores from per-question records.

The official metric is **pair accuracy**: a pair counts only when both of its questions are right
(denominator: complete pairs, 150 on the full set; random guessing scores 25 %, a constant answer
0 %). Pairs are grouped by ``Index`` (``(Index - 1) // 2``), never by the order results arrive in.
A pair with a question missing (``--limit``) or a failed request (infrastructure, not the model)
is not scored; such pairs are counted (``incomplete_pairs``, ``failed_requests``), not silently
dropped. A refusal is the model's answer: it is scored wrong and also counted (``refusals``), so
refusing never raises a score. Question accuracy is secondary and labelled as such. Values are
fractions in [0, 1], as in lmms-eval's built-in task; ``None`` (JSON ``null``, never a bare
``NaN``) when there is nothing to score.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import TypedDict

logger = logging.getLogger(__name__)

ANSWERED, UNPARSEABLE, FAILED, REFUSED = "answered", "unparseable", "failed", "refused"
RUN_FIELDS = ("answer_key", "data_source", "pattern_mapping")  # one value per run, per record
NOT_SCORED = (FAILED,)  # infrastructure failures: counted on their own, never scored as wrong


class QuestionRecord(TypedDict):
    index: int
    pair_id: int
    pattern: str  # pattern code or "" when unknown
    answer_key: str
    data_source: str
    pattern_mapping: str
    target: str  # correct label, e.g. "b"
    choice: str | None  # extracted label, None when unparseable or failed
    status: str  # ANSWERED | UNPARSEABLE | FAILED | REFUSED
    correct: bool
    judge: str  # "<model> @ <host>" of the LLM judge that graded it, "" when none did
    judge_reply: str | None  # the judge's raw reply, logged so a run can be re-verified
    verdict_rule: str  # how that reply was read (mmvp_tasks.judge.VERDICT_RULES), "" when none


def make_record(
    doc: dict,
    target: str,
    choice: str | None,
    status: str,
    *,
    judged_correct: bool | None = None,
    judge: str = "",
    judge_reply: str | None = None,
    verdict_rule: str = "",
) -> QuestionRecord:
    """One scored question. ``judged_correct`` is an LLM judge's verdict, used instead of
    comparing ``choice`` with ``target`` (free-form answers have no extracted choice); ``judge``
    names that judge, ``judge_reply`` and ``verdict_rule`` are its reply and how it was read."""
    index = int(doc["Index"])
    if judged_correct is None:
        judged_correct = choice == target
    return QuestionRecord(
        index=index,
        pair_id=(index - 1) // 2 + 1,
        pattern=doc.get("pattern") or "",
        answer_key=doc.get("answer_key") or "",
        data_source=doc.get("data_source") or "",
        pattern_mapping=doc.get("pattern_mapping") or "",
        target=target,
        choice=choice,
        status=status,
        correct=status == ANSWERED and judged_correct,
        judge=judge,
        judge_reply=judge_reply,
        verdict_rule=verdict_rule,
    )


def _scored_pairs(records: Iterable[QuestionRecord]) -> dict[int, list[QuestionRecord]]:
    """Complete pairs with no failed request, keyed by pair id."""
    by_pair: dict[int, dict[int, QuestionRecord]] = defaultdict(dict)
    for r in records:
        by_pair[r["pair_id"]][r["index"]] = r
    return {
        pair_id: list(members.values())
        for pair_id, members in by_pair.items()
        if len(members) == 2 and all(r["status"] not in NOT_SCORED for r in members.values())
    }


def pair_outcomes(records: Iterable[QuestionRecord]) -> dict[int, bool]:
    """``{pair_id: both questions right}`` for the scored pairs (incomplete and failed pairs are
    absent): the unit of pair accuracy, its bootstrap and paired comparisons."""
    return {
        pair_id: all(r["correct"] for r in members)
        for pair_id, members in sorted(_scored_pairs(records).items())
    }


def pair_accuracy(records: list[QuestionRecord]) -> float | None:
    """Fraction of scored pairs with both questions right (the paper's MMVP score)."""
    outcomes = pair_outcomes(records)
    unscored = len({r["pair_id"] for r in records}) - len(outcomes)
    if unscored:
        logger.warning("MMVP: %d pair(s) incomplete or failed: not scored", unscored)
    if not outcomes:
        return None
    return sum(outcomes.values()) / len(outcomes)


def pattern_pair_accuracy(records: list[QuestionRecord], code: str) -> float | None:
    """Pair accuracy restricted to one visual pattern (None when no question carries it)."""
    return pair_accuracy([r for r in records if r["pattern"] == code])


def question_accuracy(records: list[QuestionRecord]) -> float | None:
    """Fraction of questions answered right, failed requests excluded (secondary metric)."""
    scored = [r for r in records if r["status"] not in NOT_SCORED]
    return sum(r["correct"] for r in scored) / len(scored) if scored else None


def scored_pairs(records: list[QuestionRecord]) -> int:
    return len(_scored_pairs(records))


def incomplete_pairs(records: list[QuestionRecord]) -> int:
    """Pairs with one question absent from the run (e.g. cut by ``--limit``)."""
    members: dict[int, set[int]] = defaultdict(set)
    for r in records:
        members[r["pair_id"]].add(r["index"])
    return sum(len(m) < 2 for m in members.values())


def count_status(records: list[QuestionRecord], status: str) -> int:
    return sum(r["status"] == status for r in records)


def judges(records: list[QuestionRecord]) -> str:
    """The LLM judge(s) that graded the run; "" when none did."""
    return ",".join(sorted({r.get("judge", "") for r in records} - {""}))


def answer_key(records: list[QuestionRecord]) -> str:
    """The answer key the run was scored with (one per run)."""
    return ",".join(sorted({r["answer_key"] for r in records})) or "unknown"
