"""Uncertainty of MMVP scores: bootstrap confidence intervals over pairs and the exact McNemar test.

MMVP has only 150 pairs, so a pair accuracy carries a standard error of about 4 points: a 5-point
gap between two models is often noise. The unit of resampling is the pair (the unit the metric
scores), and every resampling is seeded so a leaderboard is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOOTSTRAP_SAMPLES = 10_000
DEFAULT_SEED = 0
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class PairedComparison:
    """Model A against model B on the same pairs (accuracies as fractions)."""

    difference: float  # accuracy of A minus accuracy of B
    interval: Interval  # bootstrap CI of the difference
    only_a: int  # pairs A gets right and B does not
    only_b: int  # pairs B gets right and A does not
    mcnemar_p: float  # exact two-sided McNemar test over the discordant pairs


def bootstrap_interval(
    outcomes, *, seed: int = DEFAULT_SEED, samples: int = BOOTSTRAP_SAMPLES
) -> Interval:
    """Percentile bootstrap CI of the mean of per-pair values (1 right, 0 wrong; or differences)."""
    values = np.asarray(outcomes, dtype=float)
    if values.size == 0:
        return Interval(float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, values.size, size=(samples, values.size))
    means = values[draws].mean(axis=1)
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(low), float(high))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value: the discordant pairs as a fair coin (binomial test)."""
    from scipy.stats import binomtest

    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    return float(binomtest(only_a, discordant, 0.5).pvalue)


def compare_pairs(a: dict[int, bool], b: dict[int, bool], *, seed: int = DEFAULT_SEED):
    """Paired comparison over the pairs both runs scored (``{pair_id: both questions right}``)."""
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ValueError("the two runs share no scored pair")
    differences = [int(a[p]) - int(b[p]) for p in shared]
    only_a = sum(d == 1 for d in differences)
    only_b = sum(d == -1 for d in differences)
    return PairedComparison(
        difference=float(np.mean(differences)),
        interval=bootstrap_interval(differences, seed=seed),
        only_a=only_a,
        only_b=only_b,
        mcnemar_p=mcnemar_exact(only_a, only_b),
    )
