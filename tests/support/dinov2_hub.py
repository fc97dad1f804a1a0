"""torch.hub DINOv2's position-table resizing, restated on a bare table: the reference the MoF
tower's ``HubDinov2Embeddings`` is tested against (tests/test_mof_modeling.py).

Follows ``DinoVisionTransformer.interpolate_pos_encoding`` of facebookresearch/dinov2 step by
step: skip when the grid already matches a square input, otherwise bicubic in float32 (no
antialias) with scale factors ``(grid + interpolate_offset) / table_side`` per axis, then back to
the input dtype. Kept apart from ``mof_models`` on purpose: it shares no code with it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def hub_position_table(
    pos_embed: torch.Tensor, height: int, width: int, patch_size: int, offset: float = 0.1
) -> torch.Tensor:
    """``pos_embed`` ``(1, 1 + M*M, dim)`` (CLS first) for a ``height x width`` input."""
    rows, cols = height // patch_size, width // patch_size
    table_patches = pos_embed.shape[1] - 1
    if rows * cols == table_patches and height == width:
        return pos_embed
    side = int(math.sqrt(table_patches))
    assert side * side == table_patches
    dim = pos_embed.shape[-1]
    as_float = pos_embed.float()
    cls_row, patch_rows = as_float[:, 0], as_float[:, 1:]
    image = patch_rows.reshape(1, side, side, dim).permute(0, 3, 1, 2)
    factors = (float(rows + offset) / side, float(cols + offset) / side)
    resized = F.interpolate(image, scale_factor=factors, mode="bicubic", antialias=False)
    assert tuple(resized.shape[-2:]) == (rows, cols)
    patch_rows = resized.permute(0, 2, 3, 1).reshape(1, rows * cols, dim)
    return torch.cat((cls_row.unsqueeze(0), patch_rows), dim=1).to(pos_embed.dtype)
