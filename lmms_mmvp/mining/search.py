"""CLIP-blind pair search: FAISS top-k CLIP neighbours, then the DINOv2 test on those candidates.

The paper's rule (Tong et al., CVPR 2024, Sec. 2): keep an image pair when the CLIP cosine is
above 0.95 and the DINOv2 cosine below 0.6. Memory stays bounded at any N: CLIP vectors go into
one FAISS inner-product index (added chunk by chunk), queries run in batches of ``query_batch``
rows asking for ``k`` neighbours each, and only pairs whose CLIP score clears the threshold are
kept; DINOv2 cosines are computed for those candidate pairs alone. No N x N matrix is ever built.

Index (``index="auto"``): an exact ``IndexFlatIP`` up to ``EXACT_LIMIT`` vectors (its cost grows
as N^2), above that ``IVF{nlist},SQ8``: k-means cells (``nlist`` about 2 sqrt(N)) holding 8-bit
scalar-quantised vectors (a quarter of float32 memory); each query scans its ``nprobe`` nearest
cells. Candidate CLIP scores are recomputed exactly from the float vectors before the threshold,
so quantisation never changes a reported cosine; it can only cost recall, which
``benchmarks/bench_mining.py`` measures against exact search.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

EXACT_LIMIT = 50_000  # exact search above this takes minutes on 2 cores (N^2 d flops)
APPROXIMATE_MARGIN = 0.05  # slack on rotated, quantised IVF scores before the exact recheck
TRAIN_PER_CELL = 40  # k-means training vectors per IVF cell (FAISS warns below 39)
ADD_CHUNK = 65_536  # rows normalised and added to the index at a time
PAIR_CHUNK = 65_536  # candidate pairs rescored at a time


class EmbeddingMismatchError(ValueError):
    """The CLIP and DINOv2 arrays do not describe the same images."""


@dataclass(frozen=True)
class SearchConfig:
    clip_threshold: float = 0.95  # keep pairs with CLIP cosine above this (paper)
    dino_threshold: float = 0.6  # ... and DINOv2 cosine below this (paper)
    duplicate_threshold: float = 0.98  # both cosines at or above: the same picture, dropped
    k: int = 10  # CLIP neighbours looked at per image
    index: str = "auto"  # auto | flat | ivf
    nlist: int | None = None  # IVF cells; None: about 2 sqrt(N)
    nprobe: int = 16  # IVF cells scanned per query
    projection_dim: int | None = 256  # IVF: random rotation to this many dims first; None: off
    query_batch: int = 16_384  # queries per FAISS search call (bounds the result buffers)
    seed: int = 0  # k-means training sample


@dataclass(frozen=True)
class PairSearchResult:
    first: np.ndarray  # (pairs,) row of the first image, first < second
    second: np.ndarray  # (pairs,)
    clip: np.ndarray  # (pairs,) CLIP cosine
    dino: np.ndarray  # (pairs,) DINOv2 cosine
    near_duplicates: int  # candidate pairs dropped as the same picture
    saturated_queries: int  # images whose k-th neighbour still passed the CLIP threshold

    def __len__(self) -> int:
        return len(self.first)


def find_clip_blind_pairs(
    clip: np.ndarray, dino: np.ndarray, config: SearchConfig = SearchConfig()
) -> PairSearchResult:
    """Unordered pairs (each once) with CLIP cosine > and DINOv2 cosine < the thresholds, sorted
    by CLIP minus DINOv2 cosine, most CLIP-blind first. Arrays may be memory-mapped."""
    check_embeddings(clip, dino)
    index = build_index(clip, config)
    first, second, saturated = _clip_candidates(index, clip, config)
    clip_cos = _row_cosines(clip, first, second, "CLIP")
    passed = clip_cos > config.clip_threshold
    first, second, clip_cos = first[passed], second[passed], clip_cos[passed]
    dino_cos = _row_cosines(dino, first, second, "DINOv2")
    duplicate = (clip_cos >= config.duplicate_threshold) & (dino_cos >= config.duplicate_threshold)
    keep = (dino_cos < config.dino_threshold) & ~duplicate
    order = np.argsort(-(clip_cos[keep] - dino_cos[keep]), kind="stable")
    result = PairSearchResult(
        first[keep][order],
        second[keep][order],
        clip_cos[keep][order],
        dino_cos[keep][order],
        near_duplicates=int(duplicate.sum()),
        saturated_queries=saturated,
    )
    logger.info(
        "%d CLIP-blind pairs among %d images (%d near-duplicate pairs dropped)",
        len(result), len(clip), result.near_duplicates,
    )  # fmt: skip
    if saturated:
        logger.warning(
            "%d images had all %d CLIP neighbours above %.3f: pairs may be missed there "
            "(near-duplicate clusters); raise --k",
            saturated, config.k, config.clip_threshold,
        )  # fmt: skip
    return result


def check_embeddings(clip: np.ndarray, dino: np.ndarray, names=("CLIP", "DINOv2")) -> None:
    """Both 2-D, the same number of rows, at least two rows."""
    for array, name in zip((clip, dino), names, strict=True):
        if array.ndim != 2:
            raise EmbeddingMismatchError(
                f"{name} embeddings: expected (rows, dim), got {array.shape}"
            )
    if len(clip) != len(dino):
        raise EmbeddingMismatchError(
            f"{names[0]} embeddings have {len(clip)} rows, {names[1]} embeddings {len(dino)}: "
            "both must list the same images in the same order"
        )
    if len(clip) < 2:
        raise EmbeddingMismatchError(f"{len(clip)} image(s): pairs need at least two")


def index_kind(n: int, config: SearchConfig) -> str:
    if config.index not in ("auto", "flat", "ivf"):
        raise ValueError(f"index must be auto, flat or ivf, not {config.index!r}")
    if config.index != "auto":
        return config.index
    return "flat" if n <= EXACT_LIMIT else "ivf"


def build_index(clip: np.ndarray, config: SearchConfig):
    """A FAISS inner-product index over the L2-normalised CLIP rows."""
    import faiss

    n, dim = clip.shape
    if index_kind(n, config) == "flat":
        index = faiss.IndexFlatIP(dim)
        logger.info("exact search (IndexFlatIP) over %d CLIP vectors", n)
    else:
        factory = ivf_factory(n, dim, config)
        index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = min(config.nprobe, ivf.nlist)
        sample = _training_sample(clip, ivf.nlist * TRAIN_PER_CELL, config.seed)
        logger.info(
            "%s index (nprobe %d) over %d CLIP vectors; training on %d",
            factory, ivf.nprobe, n, len(sample),
        )  # fmt: skip
        index.train(sample)
    for start in range(0, n, ADD_CHUNK):
        rows = np.arange(start, min(start + ADD_CHUNK, n))
        index.add(_unit_rows(clip, rows, "CLIP"))
    return index


def ivf_factory(n: int, dim: int, config: SearchConfig) -> str:
    """``[RR{p},L2norm,]IVF{nlist},SQ8``: the random rotation to ``projection_dim`` dims keeps
    cosines (no centring, unlike PCA) and makes the cell scans ``dim / p`` times cheaper."""
    nlist = config.nlist or default_nlist(n)
    project = config.projection_dim and config.projection_dim < dim
    return (f"RR{config.projection_dim},L2norm," if project else "") + f"IVF{nlist},SQ8"


def default_nlist(n: int) -> int:
    """About 2 sqrt(N) cells: a few hundred vectors scanned per cell probed."""
    return max(1, min(n // TRAIN_PER_CELL, 2 ** round(math.log2(2 * math.sqrt(n)))))


def normalised(rows: np.ndarray) -> np.ndarray:
    """float32 copy with unit rows (zero rows stay zero)."""
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def _unit_rows(vectors: np.ndarray, rows: np.ndarray, name: str) -> np.ndarray:
    """``normalised(vectors[rows])``; a row with NaN or inf is an error naming it."""
    unit = normalised(vectors[rows])
    bad = np.flatnonzero(~np.isfinite(unit).all(axis=1))
    if len(bad):
        raise EmbeddingMismatchError(f"{name} embeddings: row {rows[bad[0]]} is not finite")
    return unit


def _training_sample(clip: np.ndarray, size: int, seed: int) -> np.ndarray:
    if size >= len(clip):
        return normalised(clip)
    rows = np.sort(np.random.default_rng(seed).choice(len(clip), size, replace=False))
    return normalised(clip[rows])


def _clip_candidates(index, clip: np.ndarray, config: SearchConfig):
    """Unordered row pairs (first < second, each once) among the k nearest CLIP neighbours whose
    index score clears the CLIP threshold (less a margin for quantised indexes)."""
    n = len(clip)
    k = min(config.k + 1, n)  # + 1: an image finds itself
    margin = APPROXIMATE_MARGIN if index_kind(n, config) == "ivf" else 1e-4
    keys, saturated = [], 0
    for start in range(0, n, config.query_batch):
        scores, neighbours = index.search(normalised(clip[start : start + config.query_batch]), k)
        rows = np.arange(start, start + len(scores))[:, None]
        hit = (scores > config.clip_threshold - margin) & (neighbours >= 0) & (neighbours != rows)
        saturated += int((hit.sum(axis=1) >= k - 1).sum()) if k > 1 else 0
        first = np.minimum(rows, neighbours)[hit].astype(np.int64)
        second = np.maximum(rows, neighbours)[hit].astype(np.int64)
        keys.append(np.unique(first * n + second))
    unique = np.unique(np.concatenate(keys)) if keys else np.empty(0, np.int64)
    return unique // n, unique % n, saturated


def _row_cosines(vectors: np.ndarray, first: np.ndarray, second: np.ndarray, name: str):
    """Cosine of rows ``first[i]`` and ``second[i]``, chunked so memory stays bounded."""
    out = np.empty(len(first), dtype=np.float32)
    for start in range(0, len(first), PAIR_CHUNK):
        a = _unit_rows(vectors, first[start : start + PAIR_CHUNK], name)
        b = _unit_rows(vectors, second[start : start + PAIR_CHUNK], name)
        out[start : start + PAIR_CHUNK] = np.einsum("ij,ij->i", a, b)
    return out
