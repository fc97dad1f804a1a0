"""CLIP-blind pair search: every image pair above the CLIP threshold, then the DINOv2 test.

The paper's rule (Tong et al., CVPR 2024, Sec. 2): keep an image pair when the CLIP cosine is
above 0.95 and the DINOv2 cosine below 0.6.

Which pairs are compared. Web pools hold near-duplicate groups of every size, some of hundreds of
images all above the threshold: a k-nearest-neighbour search misses most pairs of any group larger
than k (measured: recall 0.27 at k = 10 on clustered embeddings). The search is therefore a range
search at the threshold: it returns every pair above it whatever the group size, with no k to
tune. (Re-querying with a growing k would reach the same set, but repeats the search once per
doubling in exactly the dense groups where it is most expensive.)

How. CLIP rows are L2-normalised and compared by inner products in BLAS matrix products of at
most ``block`` products each; only pairs above the threshold leave a block. Their exact cosine is
the row-wise dot product of the two normalised rows (the one value that decides and is
reported), their DINOv2 cosine is computed for them alone, and they are tested, counted and
passed on block by block: memory is bounded by the block, never by the number of pairs.

- ``flat`` (``index="auto"`` up to ``EXACT_LIMIT`` images): every pair, N^2 / 2 products. Exact.
- ``ivf`` (above): FAISS k-means splits the rows into ``nlist`` cells (about 2 sqrt N) and every
  image is compared with the members of its ``nprobe`` nearest cells, as in FAISS's IVF range
  search. The queries are the indexed images themselves, so the search runs as a self-join: all
  images probing a cell meet its members in one matrix product. (``IndexIVFFlat.range_search``
  scans each query's cells vector by vector; on the benchmark's clustered 768-d embeddings it took
  5 times the CPU of the join at 10^5 images.) A pair is lost only when neither image probes the
  other's cell; ``benchmarks/bench_mining.py`` measures how often. A pair both images find is
  kept once (from the image with the smaller row), so counts are exact.

Output cap. One near-duplicate group whose DINOv2 rows split in two yields thousands of CLIP-blind
pairs, all alike. With ``pairs_per_image`` m (3) the output holds, for each image, its m most
CLIP-blind pairs: every image with a pair is represented, and one that many images keep (the
most CLIP-blind member of a group) appears as their partner. The pairs are kept while the search
streams (memory images x m); every pair found is counted, per image too, so what the cap left out
is known. m = 0 keeps every pair (memory then grows with the number of pairs).
"""

from __future__ import annotations

import logging
import math
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

EXACT_LIMIT = 50_000  # flat above this: N^2 d flops, minutes on 2 cores
TRAIN_PER_CELL = 20  # k-means training vectors per cell: cells only route, 20 lose no recall
KMEANS_ITERATIONS = 5  # cells only route the search (objective within 0.1 % of 10 rounds)
ROW_CHUNK = 4096  # rows assigned to cells at a time (a chunk x nlist score matrix)
PAIR_CHUNK = 16_384  # pairs whose rows are copied at a time to compute their exact cosines
SCORE_MARGIN = 1e-4  # BLAS vs row-wise rounding; the row-wise cosine decides


class EmbeddingMismatchError(ValueError):
    """The CLIP and DINOv2 arrays do not describe the same images."""


@dataclass(frozen=True)
class SearchConfig:
    clip_threshold: float = 0.95  # keep pairs with CLIP cosine above this (paper)
    dino_threshold: float = 0.6  # ... and DINOv2 cosine below this (paper)
    duplicate_threshold: float = 0.98  # both cosines at or above: the same picture, dropped
    pairs_per_image: int = 3  # output: each image's most CLIP-blind pairs; 0: every pair
    index: str = "auto"  # auto | flat | ivf
    nlist: int | None = None  # IVF cells; None: about 2 sqrt(N)
    nprobe: int = 8  # IVF cells each image is compared with (its own included)
    block: int = 1 << 22  # inner products per matrix product (16 MiB of float32)
    workers: int | None = None  # threads computing products; None: one per CPU core
    seed: int = 0  # k-means training sample


@dataclass(frozen=True)
class PairBlock:
    """CLIP-blind pairs found together; each unordered pair appears in one block only."""

    first: np.ndarray  # (pairs,) row of the first image, first < second
    second: np.ndarray  # (pairs,)
    clip: np.ndarray  # (pairs,) CLIP cosine
    dino: np.ndarray  # (pairs,) DINOv2 cosine

    def __len__(self) -> int:
        return len(self.first)


@dataclass
class SearchCounts:
    clip_pairs: int = 0  # pairs above the CLIP threshold
    near_duplicates: int = 0  # of those, both cosines >= duplicate_threshold: dropped
    found: int = 0  # of those, DINOv2 below its threshold: CLIP-blind pairs


@dataclass(frozen=True)
class PairSearchResult:
    first: np.ndarray  # (written,) pairs written, most CLIP-blind first
    second: np.ndarray
    clip: np.ndarray
    dino: np.ndarray
    pairs_per_image: np.ndarray  # (images,) CLIP-blind pairs found with each image, before the cap
    counts: SearchCounts
    index: str  # flat | ivf
    nlist: int | None  # IVF cells (None for flat)
    nprobe: int | None  # IVF cells compared per image

    def __len__(self) -> int:
        return len(self.first)

    @property
    def capped(self) -> int:
        """CLIP-blind pairs found but left out by the per-image cap."""
        return self.counts.found - len(self)


def find_clip_blind_pairs(
    clip: np.ndarray,
    dino: np.ndarray,
    config: SearchConfig = SearchConfig(),
    on_block: Callable[[PairBlock], None] | None = None,
) -> PairSearchResult:
    """CLIP-blind pairs (CLIP cosine > and DINOv2 cosine < the thresholds, near-duplicates
    dropped): each image's ``pairs_per_image`` most CLIP-blind ones (CLIP minus DINOv2 cosine),
    most CLIP-blind first. ``on_block`` sees every pair found, before the cap. Arrays may be
    memory-mapped."""
    check_embeddings(clip, dino)
    counts = SearchCounts()
    selection = PairSelection(len(clip), config.pairs_per_image)
    pairs = ClipPairs(clip, config)
    for block in clip_blind_blocks(pairs, dino, config, counts):
        selection.add(block)
        if on_block is not None:
            on_block(block)
    result = selection.result(counts, pairs.kind, pairs.nlist, pairs.nprobe)
    logger.info(
        "%d pairs above CLIP %.3f among %d images: %d CLIP-blind (%d written, %d left out by "
        "pairs_per_image %d), %d near-duplicates dropped",
        counts.clip_pairs, config.clip_threshold, len(clip), counts.found, len(result),
        result.capped, config.pairs_per_image, counts.near_duplicates,
    )  # fmt: skip
    return result


def clip_blind_blocks(
    pairs: ClipPairs, dino: np.ndarray, config: SearchConfig, counts: SearchCounts
) -> Iterator[PairBlock]:
    """The DINOv2 test on each block of CLIP pairs; ``counts`` is updated as blocks pass."""
    for first, second, clip_cos in pairs:
        dino_cos = pair_cosines(dino, first, second, "DINOv2")
        duplicate = (clip_cos >= config.duplicate_threshold) & (
            dino_cos >= config.duplicate_threshold
        )
        keep = (dino_cos < config.dino_threshold) & ~duplicate
        counts.clip_pairs += len(first)
        counts.near_duplicates += int(duplicate.sum())
        counts.found += int(keep.sum())
        if keep.any():
            yield PairBlock(first[keep], second[keep], clip_cos[keep], dino_cos[keep])


class ClipPairs:
    """Iterating yields ``(first, second, cosine)`` blocks: every pair of rows (first < second,
    each once) whose CLIP cosine is above the threshold, exhaustively (flat) or among the images'
    ``nprobe`` nearest k-means cells (ivf). Blocks are computed by ``workers`` threads, each with
    a single-threaded BLAS (many mid-sized products: threaded BLAS stalls on a busy machine), at
    most two blocks per thread ahead of the reader."""

    def __init__(self, clip: np.ndarray, config: SearchConfig) -> None:
        self.clip, self.config = clip, config
        self.workers = config.workers or _usable_cores()
        self.inverse_norms = np.concatenate(
            [_inverse_norms(clip, np.arange(s, min(s + ROW_CHUNK, len(clip))), "CLIP")
             for s in range(0, len(clip), ROW_CHUNK)]
        )  # fmt: skip
        self.kind = index_kind(len(clip), config)
        self.nlist = self.nprobe = self.probes = None
        if self.kind == "ivf":
            self.nlist = min(config.nlist or default_nlist(len(clip)), len(clip))
            self.nprobe = min(config.nprobe, self.nlist)
            self.probes = self._assign_cells()

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        yield from self._in_threads(self._above, self._blocks())

    def _in_threads(self, work: Callable, jobs: Iterator[tuple]) -> Iterator:
        """``work(*job)`` for each job, in order, on ``workers`` threads with single-threaded
        BLAS, at most two results per thread ahead of the reader."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(self.workers) as pool:
            pending: deque = deque()
            for job in jobs:
                pending.append(pool.submit(work, *job))
                if len(pending) > 2 * self.workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def _rows(self, rows: np.ndarray) -> np.ndarray:
        """The normalised CLIP rows ``rows``."""
        return _scaled(self.clip, rows, self.inverse_norms[rows])

    def _assign_cells(self) -> np.ndarray:
        """(rows, nprobe) nearest k-means cells of each row, its own (nearest) cell first."""
        import faiss

        n, dim = self.clip.shape
        kmeans = faiss.Kmeans(
            dim,
            self.nlist,
            niter=KMEANS_ITERATIONS,
            spherical=True,
            seed=self.config.seed,
            max_points_per_centroid=TRAIN_PER_CELL,
            min_points_per_centroid=TRAIN_PER_CELL,  # FAISS warns below this
        )
        sample = _training_sample(self.clip, self.nlist * TRAIN_PER_CELL, self.config.seed)
        logger.info(
            "IVF: %d k-means cells trained on %d of %d CLIP vectors, %d compared per image",
            self.nlist, len(sample), n, self.nprobe,
        )  # fmt: skip
        kmeans.train(sample)
        chunks = [
            (np.arange(s, min(s + ROW_CHUNK, n)), kmeans.centroids) for s in range(0, n, ROW_CHUNK)
        ]
        return np.concatenate(list(self._in_threads(self._nearest_cells, iter(chunks))))

    def _nearest_cells(self, rows: np.ndarray, centroids: np.ndarray) -> np.ndarray:
        """The ``nprobe`` cells of highest centroid cosine, nearest first (numpy's BLAS and a
        partial sort: a third of the CPU of FAISS's IndexFlat search here)."""
        scores = self._rows(rows) @ centroids.T
        nearest = np.argpartition(-scores, self.nprobe - 1, axis=1)[:, : self.nprobe]
        by_score = np.argsort(-np.take_along_axis(scores, nearest, axis=1), axis=1)
        return np.take_along_axis(nearest, by_score, axis=1).astype(np.int32)

    def _blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
        """``(a_rows, b_rows, same)`` to compare: the members of each cell with each other
        (``same``: upper triangle), and with the images of other cells that probe it."""
        if self.probes is None:
            yield from self._cell_blocks(np.arange(len(self.clip)), np.empty(0, np.int64))
            return
        by_cell = np.argsort(self.probes[:, 0], kind="stable")  # rows ascending within a cell
        member_bounds = np.searchsorted(self.probes[by_cell, 0], np.arange(self.nlist + 1))
        probed = self.probes[:, 1:].ravel()  # cells each image probes besides its own
        by_probed = np.argsort(probed, kind="stable")
        prober_bounds = np.searchsorted(probed[by_probed], np.arange(self.nlist + 1))
        for cell in range(self.nlist):
            members = by_cell[member_bounds[cell] : member_bounds[cell + 1]]
            probers = by_probed[prober_bounds[cell] : prober_bounds[cell + 1]]
            yield from self._cell_blocks(members, probers // max(1, self.nprobe - 1))

    def _cell_blocks(self, members: np.ndarray, probers: np.ndarray):
        side = math.isqrt(self.config.block)
        for start in range(0, len(members), side):
            b_rows = members[start : start + side]
            for a_start in range(0, start + 1, side):
                yield members[a_start : a_start + side], b_rows, True
            step = max(1, self.config.block // len(b_rows))
            for p_start in range(0, len(probers), step):
                yield probers[p_start : p_start + step], b_rows, False

    def _above(self, a_rows: np.ndarray, b_rows: np.ndarray, same_cell: bool):
        """Pairs of ``a_rows`` x ``b_rows`` above the threshold, first < second, each pair once
        (rows of one cell ascend, so ``a < b`` is their upper triangle)."""
        a, b = self._rows(a_rows), self._rows(b_rows)
        hit = (a @ b.T) > self.config.clip_threshold - SCORE_MARGIN
        i, j = np.divmod(np.flatnonzero(hit), len(b_rows))  # 3x faster than a 2-D nonzero
        first, second = a_rows[i], b_rows[j]
        cosine = _row_dots(a, b, i, j)
        keep = cosine > self.config.clip_threshold
        keep &= first < second if same_cell else self._first_finder(first, second)
        first, second = first[keep], second[keep]
        return np.minimum(first, second), np.maximum(first, second), cosine[keep]

    def _first_finder(self, prober: np.ndarray, member: np.ndarray) -> np.ndarray:
        """True where this comparison is the pair's only one, or the one from the smaller row:
        ``member`` also meets ``prober`` when ``prober``'s cell is among its probes."""
        own_cell = self.probes[prober, 0][:, None]
        both_find = (self.probes[member, 1:] == own_cell).any(axis=1)
        return ~both_find | (prober < member)


class PairSelection:
    """What the search writes: each image's ``per_image`` most CLIP-blind pairs (kept while the
    search streams: memory images x per_image), or with ``per_image`` 0 every pair. Every pair
    found is counted per image."""

    def __init__(self, images: int, per_image: int) -> None:
        if per_image < 0:
            raise ValueError(f"pairs_per_image must be 0 (no cap) or more, not {per_image}")
        self.per_image = per_image
        self.found = np.zeros(images, np.int64)
        self.blocks: list[PairBlock] = []
        shape = (images, per_image)
        self.partner = np.full(shape, -1, np.int64)
        self.gap = np.full(shape, -np.inf, np.float32)
        self.clip = np.zeros(shape, np.float32)
        self.dino = np.zeros(shape, np.float32)

    def add(self, block: PairBlock) -> None:
        image = np.concatenate([block.first, block.second])
        touched, times = np.unique(image, return_counts=True)
        self.found[touched] += times
        if not self.per_image:
            self.blocks.append(block)
            return
        pools = (self.partner, self.gap, self.clip, self.dino)
        held = self.partner[touched] >= 0  # (touched, per_image)
        partner = np.concatenate([self.partner[touched][held], block.second, block.first])
        clip = np.concatenate([self.clip[touched][held], block.clip, block.clip])
        dino = np.concatenate([self.dino[touched][held], block.dino, block.dino])
        image = np.concatenate([np.repeat(touched, held.sum(axis=1)), image])
        gap = clip - dino
        order = np.lexsort((partner, -gap, image))  # by image, most CLIP-blind first
        image = image[order]
        group_start = np.flatnonzero(np.r_[True, image[1:] != image[:-1]])
        rank = np.arange(len(image)) - np.repeat(
            group_start, np.diff(np.r_[group_start, len(image)])
        )
        best = rank < self.per_image
        for pool, fill in zip(pools, (-1, -np.inf, 0, 0), strict=True):
            pool[touched] = fill
        for pool, values in zip(pools, (partner, gap, clip, dino), strict=True):
            pool[image[best], rank[best]] = values[order[best]]

    def result(self, counts: SearchCounts, index: str, nlist, nprobe) -> PairSearchResult:
        """The pairs held, each once, most CLIP-blind first (ties by rows)."""
        if self.per_image:
            holder, slot = np.nonzero(self.partner >= 0)
            partner = self.partner[holder, slot]
            first, second = np.minimum(holder, partner), np.maximum(holder, partner)
            _, once = np.unique(first * len(self.found) + second, return_index=True)
            first, second = first[once], second[once]
            clip, dino = self.clip[holder, slot][once], self.dino[holder, slot][once]
        else:
            first, second, clip, dino = (
                np.concatenate([getattr(b, field) for b in self.blocks] or [np.empty(0)])
                for field in ("first", "second", "clip", "dino")
            )
        order = np.lexsort((second, first, -(clip - dino)))
        first, second = first[order].astype(np.int64), second[order].astype(np.int64)
        clip, dino = clip[order].astype(np.float32), dino[order].astype(np.float32)
        return PairSearchResult(first, second, clip, dino, self.found, counts, index, nlist, nprobe)


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


def default_nlist(n: int) -> int:
    """About 2 sqrt(N) cells: a few hundred images per cell."""
    return max(1, min(n // TRAIN_PER_CELL, 2 ** round(math.log2(2 * math.sqrt(n)))))


def normalised(rows: np.ndarray) -> np.ndarray:
    """float32 copy with unit rows (zero rows stay zero)."""
    rows = np.asarray(rows, dtype=np.float32)
    return rows * _reciprocal(np.linalg.norm(rows, axis=1))[:, None]


def pair_cosines(vectors: np.ndarray, first: np.ndarray, second: np.ndarray, name: str):
    """Cosine of rows ``first[i]`` and ``second[i]``: the row-wise dot product of the normalised
    rows. Chunked so memory stays bounded; each row is read and normalised once per chunk (pairs
    of a dense group share few rows)."""
    out = np.empty(len(first), dtype=np.float32)
    for start in range(0, len(first), PAIR_CHUNK):
        a, b = first[start : start + PAIR_CHUNK], second[start : start + PAIR_CHUNK]
        rows, position = np.unique(np.concatenate([a, b]), return_inverse=True)
        unit = _scaled(vectors, rows, _inverse_norms(vectors, rows, name))
        out[start : start + len(a)] = _row_dots(unit, unit, position[: len(a)], position[len(a) :])
    return out


def _row_dots(a: np.ndarray, b: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``a[i[k]] . b[j[k]]`` for every k, ``PAIR_CHUNK`` rows copied at a time: the one
    computation of a reported cosine."""
    out = np.empty(len(i), dtype=np.float32)
    for start in range(0, len(i), PAIR_CHUNK):
        rows = slice(start, start + PAIR_CHUNK)
        out[rows] = np.einsum("ij,ij->i", a[i[rows]], b[j[rows]])
    return out


def _inverse_norms(vectors: np.ndarray, rows: np.ndarray, name: str) -> np.ndarray:
    """1 / L2 norm of each of ``rows`` (0 for a zero row); a row with NaN or inf is an error
    naming it."""
    norms = np.linalg.norm(np.asarray(vectors[rows], dtype=np.float32), axis=1)
    bad = np.flatnonzero(~np.isfinite(norms))
    if len(bad):
        raise EmbeddingMismatchError(f"{name} embeddings: row {rows[bad[0]]} is not finite")
    return _reciprocal(norms)


def _reciprocal(norms: np.ndarray) -> np.ndarray:
    return np.divide(1, norms, out=np.zeros_like(norms), where=norms > 0)


def _scaled(vectors: np.ndarray, rows: np.ndarray, inverse_norms: np.ndarray) -> np.ndarray:
    """``vectors[rows]`` scaled to unit length: every normalised row of the search, one way."""
    return np.asarray(vectors[rows], dtype=np.float32) * inverse_norms[:, None]


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # Linux: the cores this process may run on
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _training_sample(clip: np.ndarray, size: int, seed: int) -> np.ndarray:
    if size >= len(clip):
        return normalised(clip)
    rows = np.sort(np.random.default_rng(seed).choice(len(clip), size, replace=False))
    return normalised(clip[rows])
