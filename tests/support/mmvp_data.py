"""The real MMVP questions (../shared/data/mmvp) and MMVP-layout folders with stand-in images."""

from __future__ import annotations

import csv
from pathlib import Path

SHARED_MMVP = Path(__file__).resolve().parents[3] / "shared" / "data" / "mmvp"
REAL_QUESTIONS = SHARED_MMVP / "Questions.csv"
AMVICC_PATTERNS = SHARED_MMVP / "patterns_amvicc.csv"


def real_rows() -> list[dict[str, str]]:
    with REAL_QUESTIONS.open(newline="") as f:
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
