"""The real MMVP questions (shipped as package data, mmvp_tasks/questions) and MMVP-layout folders
with stand-in images."""

from __future__ import annotations

import csv
from pathlib import Path

from mmvp_tasks.data import AMVICC_PATTERNS, SHIPPED_QUESTIONS

__all__ = ["AMVICC_PATTERNS", "real_rows", "write_mmvp_dir"]


def real_rows() -> list[dict[str, str]]:
    with SHIPPED_QUESTIONS.open(newline="") as f:
        return list(csv.DictReader(f))


def write_mmvp_dir(root: Path, rows: list[dict[str, str]], header=None) -> Path:
    """An MMVP layout with ``rows`` and a small JPEG per row."""
    from PIL import Image

    images = root / "MMVP Images"
    images.mkdir(parents=True, exist_ok=True)
    header = header or ["Index", "Question", "Options", "Correct Answer"]
    with (root / "Questions.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row["Index"], row["Question"], row["Options"], row["Correct Answer"]])
    for row in rows:
        shade = int(row["Index"]) % 256
        Image.new("RGB", (16, 16), (shade, 255 - shade, 128)).save(images / f"{row['Index']}.jpg")
    return root
