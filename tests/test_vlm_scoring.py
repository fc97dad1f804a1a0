"""The MMVP-VLM scoring rule (evaluate_vlm.py) on hand-made scores: no model, milliseconds."""

from __future__ import annotations

import math
import random

import pytest

from mmvp_tasks import vlm_scoring
from mmvp_tasks.patterns import PATTERNS
from mmvp_tasks.vlm_scoring import chosen_image, prob_first_image


def _records(pair_scores: dict[int, tuple], pattern_of=lambda pair: PATTERNS[(pair - 1) // 15]):
    """``{pair: (s1_img1, s1_img2, s2_img1, s2_img2)}`` -> the four records of each pair."""
    records = []
    for pair, scores in pair_scores.items():
        grid = {(1, 1): scores[0], (1, 2): scores[1], (2, 1): scores[2], (2, 2): scores[3]}
        for (statement, image), score in grid.items():
            doc = {
                "Question ID": 2 * pair - 2 + statement,
                "pair_id": pair,
                "pattern": pattern_of(pair).code,
                "image_slot": image,
            }
            records.append(vlm_scoring.make_record(doc, score))
    return records


RIGHT = (2.0, 1.0, 1.0, 2.0)  # each statement scores its own image higher
WRONG = (1.0, 2.0, 1.0, 2.0)  # both statements pick image 2


def test_statement_text_is_the_original_prompt():
    assert vlm_scoring.statement_text("a dog facing left") == "a photo of a dog facing left"


def test_prob_first_image_is_the_softmax_of_two_scores():
    assert prob_first_image(1.0, 0.0) == pytest.approx(math.e / (math.e + 1))
    assert prob_first_image(0.0, 1.0) == pytest.approx(1 / (math.e + 1))
    assert prob_first_image(1000.0, -1000.0) == 1.0  # no overflow
    assert prob_first_image(-1000.0, 1000.0) == 0.0


def test_image_1_only_when_its_probability_exceeds_one_half():
    assert chosen_image(0.3, 0.2) == 1
    assert chosen_image(0.2, 0.3) == 2
    assert chosen_image(0.25, 0.25) == 2  # P = 0.5: a tie picks image 2, as in the original
    assert chosen_image(-7.5, -7.5) == 2


def test_pair_counts_only_when_both_statements_pick_their_own_image():
    assert vlm_scoring.pair_is_correct({(1, 1): 2, (1, 2): 1, (2, 1): 1, (2, 2): 2})
    assert not vlm_scoring.pair_is_correct({(1, 1): 2, (1, 2): 1, (2, 1): 2, (2, 2): 1})
    assert not vlm_scoring.pair_is_correct({(1, 1): 1, (1, 2): 2, (2, 1): 1, (2, 2): 2})


def test_the_tie_rule_decides_a_pair():
    """Statement 2 tied: it picks image 2, its own, so the pair counts; statement 1 tied: not."""
    tie_on_second = {(1, 1): 3, (1, 2): 1, (2, 1): 5, (2, 2): 5}
    tie_on_first = {(1, 1): 5, (1, 2): 5, (2, 1): 1, (2, 2): 3}
    assert vlm_scoring.pair_is_correct(tie_on_second)
    assert not vlm_scoring.pair_is_correct(tie_on_first)


def test_per_pattern_scores_are_percent_of_15_pairs_and_the_average_their_mean():
    pair_scores = {pair: WRONG for pair in range(1, 136)}
    for k in range(len(PATTERNS)):  # pattern k gets k correct pairs
        for pair in range(15 * k + 1, 15 * k + 1 + k):
            pair_scores[pair] = RIGHT
    records = _records(pair_scores)
    expected = {p.code: 100 * k / 15 for k, p in enumerate(PATTERNS)}
    assert vlm_scoring.pattern_scores(records) == pytest.approx(expected)
    assert vlm_scoring.average_score(records) == pytest.approx(sum(expected.values()) / 9)
    assert vlm_scoring.pattern_score(records, "tx") == pytest.approx(100 * 7 / 15)
    assert vlm_scoring.scored_pairs(records) == 135
    assert vlm_scoring.incomplete_pairs(records) == 0


def test_patterns_come_from_each_record_not_from_the_order():
    """Interleaved patterns and shuffled records: same scores (the original uses row order)."""
    pattern_of = lambda pair: PATTERNS[pair % 9]  # noqa: E731
    pair_scores = {pair: RIGHT if pair % 9 == 0 else WRONG for pair in range(1, 136)}
    records = _records(pair_scores, pattern_of)
    random.Random(0).shuffle(records)
    scores = vlm_scoring.pattern_scores(records)
    assert scores[PATTERNS[0].code] == 100.0
    assert all(scores[p.code] == 0.0 for p in PATTERNS[1:])


def test_incomplete_pairs_are_counted_not_scored(caplog):
    records = _records({1: RIGHT, 2: RIGHT, 3: WRONG, 16: RIGHT})
    records = [r for r in records if not (r["pair_id"] == 2 and r["image_slot"] == 2)]
    scores = vlm_scoring.pattern_scores(records)
    assert scores["od"] == 50.0  # pairs 1 and 3 complete, one right
    assert scores["pf"] == 100.0
    assert all(scores[p.code] is None for p in PATTERNS[2:])
    assert vlm_scoring.scored_pairs(records) == 3
    assert vlm_scoring.incomplete_pairs(records) == 1
    assert vlm_scoring.average_score(records) == 75.0
    assert "average over 2 of 9 patterns" in caplog.text


def test_empty_run_scores_none():
    assert vlm_scoring.average_score([]) is None
    assert vlm_scoring.scored_pairs([]) == 0


def test_rule_matches_a_direct_reading_of_the_original_on_random_scores():
    """Integer scores make ties frequent; the direct loop below restates evaluate_vlm.py."""
    rng = random.Random(1)
    pair_scores = {pair: tuple(rng.randint(0, 2) for _ in range(4)) for pair in range(1, 136)}
    correct = [0] * 9
    for pair, (a, b, c, d) in pair_scores.items():
        p1 = math.exp(a) / (math.exp(a) + math.exp(b))
        p2 = math.exp(c) / (math.exp(c) + math.exp(d))
        pred1, pred2 = ("img1" if p1 > 0.5 else "img2"), ("img1" if p2 > 0.5 else "img2")
        correct[(pair - 1) // 15] += pred1 == "img1" and pred2 == "img2"
    expected = {p.code: c / 15 * 100 for p, c in zip(PATTERNS, correct, strict=True)}
    assert vlm_scoring.pattern_scores(_records(pair_scores)) == pytest.approx(expected)


def test_per_pattern_values_are_bit_identical_to_evaluate_vlm():
    """evaluate_vlm.py writes ``(correct / 15) * 100``: 5 of 15 is 33.33333333333333, not
    ``100 * 5 / 15`` = 33.333333333333336."""
    pairs = {pair: RIGHT if (pair - 1) % 15 < 5 else WRONG for pair in range(1, 136)}
    scores = vlm_scoring.pattern_scores(_records(pairs))
    assert all(repr(scores[p.code]) == "33.33333333333333" for p in PATTERNS)
    assert scores["od"] != 100 * 5 / 15
