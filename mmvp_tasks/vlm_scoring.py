"""MMVP-VLM scores from per-(statement, image) scores: the rule of the paper's evaluate_vlm.py.

Each statement ``'a photo of ' + Statement`` is scored against both images of its pair: an
encoder's image-text logit (the scaled similarity CLIP's forward returns), or a generative model's
log-likelihood of the statement given the image. Per statement, P(image 1) = softmax over its two
scores; the statement picks image 1 iff P(image 1) > 0.5, so equal scores (P = 0.5) pick image 2.
A pair is correct iff both statements pick their own image (the odd ID's statement image 1).
Per-pattern score = correct pairs / pairs x 100 (15 pairs per pattern on the full set); the average
is the mean of the nine pattern scores. Values are on the paper's 0-100 scale, unlike the MMVP
task's fractions.

Patterns come from each statement's ``Type``, unlike the original, which uses row order. Pairs with
a document missing from the run (``--limit``) are counted, not scored.

Sigmoid-trained models (SigLIP) return ``scale * cos + bias``: the softmax of two such logits
compares them exactly as their sigmoids would, so the rule needs no change for them. For
log-likelihoods the softmax ratio is the likelihood ratio: the more likely statement-image wins.
P is computed in float64 here; the original's float32 softmax can also round P to exactly 0.5
when the two scores differ only in their last bits (a near-tie either way).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from typing import TypedDict

from mmvp_tasks.patterns import PATTERNS

logger = logging.getLogger(__name__)

PROMPT_PREFIX = "a photo of "  # evaluate_vlm.py: text = 'a photo of ' + statement


class ScoreRecord(TypedDict):
    question_id: int  # the statement's ID
    pair_id: int
    pattern: str  # pattern code, from the statement's Type
    image_slot: int  # which image of the pair was scored: 1 (odd ID) or 2
    # image-text logit or log-likelihood; higher = better match. Not named "score": lmms-eval
    # would take it for a per-document score and report std(logits)/sqrt(n) as a standard error.
    match_score: float
    data_source: str


def statement_text(statement: str) -> str:
    return PROMPT_PREFIX + statement


def make_record(doc: dict, score: float) -> ScoreRecord:
    return ScoreRecord(
        question_id=int(doc["Question ID"]),
        pair_id=int(doc["pair_id"]),
        pattern=doc["pattern"],
        image_slot=int(doc["image_slot"]),
        match_score=float(score),
        data_source=doc.get("data_source", ""),
    )


def prob_first_image(score_1: float, score_2: float) -> float:
    """Softmax over the two images' scores: P(image 1), computed without overflow."""
    diff = score_1 - score_2
    if diff >= 0:
        return 1.0 / (1.0 + math.exp(-diff))
    odds = math.exp(diff)
    return odds / (1.0 + odds)


def chosen_image(score_1: float, score_2: float) -> int:
    """Image slot a statement picks: 1 iff P(image 1) > 0.5; a tie picks image 2."""
    return 1 if prob_first_image(score_1, score_2) > 0.5 else 2


# ----------------------------------------------------------------------------- pairs


class _Pair(TypedDict):
    pattern: str
    scores: dict[tuple[int, int], float]  # (statement slot, image slot) -> score


def _pairs(records: list[ScoreRecord]) -> dict[int, _Pair]:
    pairs: dict[int, _Pair] = defaultdict(lambda: _Pair(pattern="", scores={}))
    for r in records:
        statement_slot = 1 if r["question_id"] % 2 else 2
        pair = pairs[r["pair_id"]]
        pair["pattern"] = r["pattern"]
        pair["scores"][statement_slot, r["image_slot"]] = r["match_score"]
    return pairs


def _complete(pairs: dict[int, _Pair]) -> dict[int, _Pair]:
    return {k: p for k, p in pairs.items() if len(p["scores"]) == 4}


def pair_is_correct(scores: dict[tuple[int, int], float]) -> bool:
    """Both statements pick their own image."""
    return all(
        chosen_image(scores[statement, 1], scores[statement, 2]) == statement
        for statement in (1, 2)
    )


def pattern_scores(records: list[ScoreRecord]) -> dict[str, float | None]:
    """Pattern code -> correct pairs / complete pairs x 100 (None for a pattern with none)."""
    correct: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for pair in _complete(_pairs(records)).values():
        total[pair["pattern"]] += 1
        correct[pair["pattern"]] += pair_is_correct(pair["scores"])
    return {
        # (correct / total) * 100 as evaluate_vlm.py writes it: bit-identical values
        p.code: (correct[p.code] / total[p.code]) * 100 if total[p.code] else None
        for p in PATTERNS
    }


def pattern_score(records: list[ScoreRecord], code: str) -> float | None:
    return pattern_scores(records)[code]


def average_score(records: list[ScoreRecord]) -> float | None:
    """Mean of the per-pattern scores (the paper's "Average"); patterns without pairs left out."""
    scores = [s for s in pattern_scores(records).values() if s is not None]
    if len(scores) < len(PATTERNS):
        logger.warning(
            "MMVP-VLM: average over %d of %d patterns (incomplete run)", len(scores), len(PATTERNS)
        )
    return sum(scores) / len(scores) if scores else None


def scored_pairs(records: list[ScoreRecord]) -> int:
    return len(_complete(_pairs(records)))


def incomplete_pairs(records: list[ScoreRecord]) -> int:
    """Pairs with a (statement, image) document absent from the run, e.g. cut by ``--limit``."""
    pairs = _pairs(records)
    return len(pairs) - len(_complete(pairs))
