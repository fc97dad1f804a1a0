"""Shared fixtures: the real MMVP questions (../shared/data/mmvp) with stand-in images, synthetic
data, and tiny random checkpoints, each built once per test session."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

SHARED_MMVP = Path(__file__).resolve().parents[2] / "shared" / "data" / "mmvp"
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


@pytest.fixture(scope="session")
def real_mmvp_dir(tmp_path_factory) -> Path:
    """The 300 real questions (original key) with stand-in images; read-only for tests."""
    return write_mmvp_dir(tmp_path_factory.mktemp("real_mmvp"), real_rows())


@pytest.fixture
def copy_of_real_mmvp(real_mmvp_dir, tmp_path) -> Path:
    """A writable copy, for tests that break the data on purpose."""
    return Path(shutil.copytree(real_mmvp_dir, tmp_path / "mmvp"))


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory):
    from mmvp_tasks.synth import write_synthetic_data

    return write_synthetic_data(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory) -> Path:
    from model_adapters.tiny import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("tiny_llava"))


@pytest.fixture(scope="session")
def tiny_instructblip(tmp_path_factory) -> Path:
    from model_adapters.tiny import build_tiny_instructblip

    return build_tiny_instructblip(tmp_path_factory.mktemp("tiny_instructblip"))
