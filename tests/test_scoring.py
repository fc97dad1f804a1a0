"""Pair accuracy and the secondary numbers, from hand-made records."""

from __future__ import annotations

import random

from mmvp_tasks import scoring
from mmvp_tasks.scoring import ANSWERED, FAILED, UNPARSEABLE, make_record


def rec(index, correct=True, status=ANSWERED, pattern="od"):
    doc = {"Index": index, "pattern": pattern, "answer_key": "corrected"}
    choice = None if status != ANSWERED else ("a" if correct else "b")
    return make_record(doc, "a", choice, status)


def test_pair_counts_only_when_both_right():
    records = [rec(1), rec(2), rec(3), rec(4, correct=False), rec(5, False), rec(6, False)]
    assert scoring.pair_accuracy(records) == 1 / 3
    assert scoring.question_accuracy(records) == 3 / 6


def test_pairs_are_grouped_by_index_not_by_order():
    records = [rec(i, correct=i in (1, 2, 5)) for i in range(1, 9)]
    random.Random(0).shuffle(records)
    # by Index: pairs (1,2) right, (3,4) wrong, (5,6) half, (7,8) wrong -> 1/4;
    # pairing shuffled neighbours would give a different number
    assert scoring.pair_accuracy(records) == 1 / 4


def test_constant_answer_model_scores_zero_pairs_and_half_questions():
    records = [rec(i, correct=i % 2 == 1) for i in range(1, 301)]
    assert scoring.pair_accuracy(records) == 0.0
    assert scoring.question_accuracy(records) == 0.5
    assert scoring.scored_pairs(records) == 150


def test_incomplete_pairs_are_reported_not_scored():
    records = [rec(1), rec(2), rec(3)]
    assert scoring.pair_accuracy(records) == 1.0
    assert scoring.incomplete_pairs(records) == 1
    assert scoring.scored_pairs(records) == 1


def test_failed_requests_are_never_scored_as_wrong():
    records = [rec(1), rec(2), rec(3), rec(4, status=FAILED)]
    assert scoring.pair_accuracy(records) == 1.0  # the failed pair is not in the denominator
    assert scoring.question_accuracy(records) == 1.0
    assert scoring.count_status(records, FAILED) == 1


def test_unparseable_answers_are_wrong_and_counted():
    records = [rec(1), rec(2, status=UNPARSEABLE)]
    assert scoring.pair_accuracy(records) == 0.0
    assert scoring.count_status(records, UNPARSEABLE) == 1


def test_pattern_pair_accuracy_and_none_when_absent():
    records = [
        rec(1, pattern="od"),
        rec(2, pattern="od"),
        rec(3, False, pattern="tx"),
        rec(4, pattern="tx"),
    ]
    assert scoring.pattern_pair_accuracy(records, "od") == 1.0
    assert scoring.pattern_pair_accuracy(records, "tx") == 0.0
    assert scoring.pattern_pair_accuracy(records, "vp") is None


def test_judged_correct_overrides_choice_comparison():
    doc = {"Index": 1, "pattern": "", "answer_key": "original"}
    assert make_record(doc, "a", None, ANSWERED, judged_correct=True)["correct"]
    assert not make_record(doc, "a", None, ANSWERED, judged_correct=False)["correct"]
    assert scoring.answer_key([make_record(doc, "a", "a", ANSWERED)]) == "original"


def test_refusals_are_scored_wrong_and_counted():
    # a refusal is the model's answer: refusing must never raise a model's score
    records = [rec(1), rec(2), rec(3), rec(4, status=scoring.REFUSED)]
    assert scoring.pair_accuracy(records) == 0.5
    assert scoring.question_accuracy(records) == 3 / 4
    assert scoring.scored_pairs(records) == 2
    assert scoring.count_status(records, scoring.REFUSED) == 1
    assert scoring.count_status(records, FAILED) == 0


def test_a_refusing_model_scores_no_better_than_an_answering_one():
    answering = [rec(1), rec(2), rec(3, correct=False), rec(4)]
    refusing = [rec(1), rec(2), rec(3, status=scoring.REFUSED), rec(4)]
    assert scoring.pair_accuracy(refusing) == scoring.pair_accuracy(answering) == 0.5
    assert scoring.question_accuracy(refusing) == scoring.question_accuracy(answering)


def test_pair_outcomes_leave_out_incomplete_and_failed_pairs():
    records = [rec(1), rec(2), rec(3), rec(5, False), rec(6), rec(7), rec(8, status=FAILED)]
    # pair 1 both right; pair 2 lacks Index 4; pair 3 one wrong; pair 4 has a failed request
    assert scoring.pair_outcomes(records) == {1: True, 3: False}
    assert scoring.pair_accuracy(records) == 1 / 2
    assert scoring.pair_outcomes([rec(1)]) == {} and scoring.pair_accuracy([rec(1)]) is None
