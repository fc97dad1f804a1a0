"""Inputs for ``mmvp mine`` tests and benchmarks: synthetic embeddings (random with planted
CLIP-blind pairs, or clustered like web images), their exact pairs, and tiny random CLIP / DINOv2
checkpoints saved with ``save_pretrained``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lmms_mmvp.mining.search import SearchConfig, normalised, pair_cosines

CHUNK = 65_536


def planted_embeddings(n: int, n_pairs: int, *, clip_dim=768, dino_dim=1024, seed=0):
    """``(clip, dino, planted)``: float32 Gaussian rows generated in chunks (nearly orthogonal in
    high dimension) and ``planted``, the (n_pairs, 2) sorted rows of pairs whose CLIP rows are at
    cosine 0.955-0.99 while their DINOv2 rows stay independent (cosine about 0)."""
    rng = np.random.default_rng(seed)
    clip = np.empty((n, clip_dim), np.float32)
    dino = np.empty((n, dino_dim), np.float32)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        clip[start:stop] = rng.standard_normal((stop - start, clip_dim), dtype=np.float32)
        dino[start:stop] = rng.standard_normal((stop - start, dino_dim), dtype=np.float32)
    planted = np.sort(rng.choice(n, (n_pairs, 2), replace=False), axis=1)
    cosine = rng.uniform(0.955, 0.99, (n_pairs, 1)).astype(np.float32)
    clip[planted[:, 1]] = rotated_copies(normalised(clip[planted[:, 0]]), cosine, rng)
    return clip, dino, planted


def clustered_embeddings(
    n: int,
    *,
    clip_dim=768,
    dino_dim=1024,
    grouped=0.2,
    max_group=300,
    largest_groups=3,
    seed=0,
):
    """``(clip, dino, groups)`` shaped like web images: topics, and near-duplicate groups.

    Background: each row is a shared mean direction + one of ``n // 1000`` topic directions +
    noise (CLIP cosines about 0.35 between topics, 0.6 within one, never near 0.95; DINOv2
    about 0.1 and 0.4). ``grouped`` of the rows then form near-duplicate groups, rows scattered:
    sizes power-law distributed (P(s) ~ s^-2) from 2 to ``max_group``, plus ``largest_groups``
    groups of ``max_group``. A group's CLIP rows sit at cosine 0.97-0.995 from a centre, so its
    pairs are at about 0.94-0.99: nearly all above the 0.95 threshold, some just below. Its
    DINOv2 rows form 1 (60 %), 2 (30 %) or 3 (10 %) sub-groups (the largest groups: 2), tight
    within one (cosine 0.64 and up) and unrelated across: the pairs across sub-groups are the
    CLIP-blind pairs, thousands in a large group. ``groups``
    lists each group's rows, sorted; every CLIP pair above 0.95 lies inside a group.
    """
    rng = np.random.default_rng(seed)
    topics = max(8, n // 1000)
    clip = _topic_rows(rng, n, clip_dim, topics, mean=0.35, topic=0.25)
    dino = _topic_rows(rng, n, dino_dim, topics, mean=0.1, topic=0.3)
    sizes = np.arange(2, max_group + 1)
    drawn = rng.choice(sizes, size=max(1, n // 4), p=sizes**-2.0 / np.sum(sizes**-2.0))
    drawn = np.concatenate([np.full(largest_groups, max_group), drawn])
    drawn = drawn[: np.searchsorted(np.cumsum(drawn), grouped * n, side="right")]
    rows = rng.permutation(n)
    groups = np.split(rows[: drawn.sum()], np.cumsum(drawn)[:-1])
    for number, members in enumerate(groups):
        members.sort()
        clip[members] = _around(rng, clip[members[:1]], rng.uniform(0.97, 0.995, len(members)))
        split = 2 if number < largest_groups else rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1])
        parts = rng.integers(0, split, len(members))
        for part in np.unique(parts):
            rows_of_part = members[parts == part]
            spread = rng.uniform(0.8, 0.995, len(rows_of_part))
            dino[rows_of_part] = _around(rng, dino[rows_of_part[:1]], spread)
    return clip, dino, [g for g in groups if len(g)]


def exact_group_pairs(clip, dino, groups, config: SearchConfig | None = None):
    """``(clip_pairs, clip_blind)``: sorted keys ``first * n + second`` of every pair inside a
    group above the CLIP threshold, and of those the CLIP-blind ones (DINOv2 below its threshold,
    not a near-duplicate), with the cosines ``mmvp mine`` itself computes."""
    config, n = config or SearchConfig(), len(clip)
    clip_keys, blind_keys = [], []
    for members in groups:
        first, second = (members[i] for i in np.triu_indices(len(members), 1))
        clip_cos = pair_cosines(clip, first, second, "CLIP")
        above = clip_cos > config.clip_threshold
        first, second, clip_cos = first[above], second[above], clip_cos[above]
        dino_cos = pair_cosines(dino, first, second, "DINOv2")
        duplicate = (clip_cos >= config.duplicate_threshold) & (
            dino_cos >= config.duplicate_threshold
        )
        blind = (dino_cos < config.dino_threshold) & ~duplicate
        clip_keys.append(first.astype(np.int64) * n + second)
        blind_keys.append(first[blind].astype(np.int64) * n + second[blind])
    return np.sort(np.concatenate(clip_keys)), np.sort(np.concatenate(blind_keys))


def _topic_rows(rng, n: int, dim: int, topics: int, *, mean: float, topic: float) -> np.ndarray:
    """Unit rows ``sqrt(mean) * m + sqrt(topic) * t + noise``: pairs of rows have cosine about
    ``mean`` across topics and ``mean + topic`` within one."""
    directions = normalised(rng.standard_normal((topics + 1, dim), dtype=np.float32))
    base = np.float32(np.sqrt(mean)) * directions[0]
    topic_of = rng.integers(1, topics + 1, n)
    noise_scale = np.float32(np.sqrt((1 - mean - topic) / dim))
    rows = np.empty((n, dim), np.float32)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        chunk = rng.standard_normal((stop - start, dim), dtype=np.float32)
        chunk *= noise_scale
        chunk += base
        chunk += np.float32(np.sqrt(topic)) * directions[topic_of[start:stop]]
        rows[start:stop] = normalised(chunk)
    return rows


def _around(rng, centre: np.ndarray, cosine: np.ndarray) -> np.ndarray:
    """Unit rows at the given cosines from the unit row ``centre``, in random directions."""
    cosine = cosine.astype(np.float32)[:, None]
    return rotated_copies(np.repeat(centre, len(cosine), axis=0), cosine, rng)


def rotated_copies(unit_rows: np.ndarray, cosine, rng) -> np.ndarray:
    """Unit rows at exactly ``cosine`` to ``unit_rows``, in random directions."""
    noise = rng.standard_normal(unit_rows.shape, dtype=np.float32)
    noise -= (noise * unit_rows).sum(axis=1, keepdims=True) * unit_rows  # orthogonal part
    return cosine * unit_rows + np.sqrt(1 - np.square(cosine)) * normalised(noise)


def build_tiny_encoders(out_dir: Path, image_size: int = 32) -> tuple[Path, Path]:
    """Random ``CLIPModel`` and ``Dinov2Model`` checkpoints (+ image processors) in ``out_dir``."""
    import torch
    from transformers import (
        BitImageProcessor,
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        Dinov2Config,
        Dinov2Model,
    )

    torch.manual_seed(0)
    tower = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    clip = CLIPModel(
        CLIPConfig(
            text_config={
                **tower,
                "vocab_size": 64,
                "max_position_embeddings": 16,
                "bos_token_id": 0,
                "eos_token_id": 1,
                "pad_token_id": 2,
            },
            vision_config={**tower, "image_size": image_size, "patch_size": 8},
            projection_dim=24,
        )  # fmt: skip
    )
    dino = Dinov2Model(Dinov2Config(**tower, image_size=image_size, patch_size=8))
    crop = {"height": image_size, "width": image_size}
    processors = (
        CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size=crop),
        BitImageProcessor(size={"shortest_edge": image_size}, crop_size=crop,
                          image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]),
    )  # fmt: skip
    paths = (out_dir / "clip", out_dir / "dinov2")
    for model, processor, path in zip((clip, dino), processors, paths, strict=True):
        model.eval().save_pretrained(path)
        processor.save_pretrained(path)
    return paths
