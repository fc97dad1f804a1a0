"""Inputs for ``mmvp mine`` tests and benchmarks: synthetic embeddings with planted CLIP-blind
pairs, and tiny random CLIP / DINOv2 checkpoints saved with ``save_pretrained``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lmms_mmvp.mining.search import normalised

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
