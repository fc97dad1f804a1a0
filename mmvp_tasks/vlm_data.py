"""MMVP-VLM data card and loader.

MMVP-VLM (Tong et al., CVPR 2024, Sec. 4) tests image-text encoders (CLIP and its successors) on
the nine visual patterns of MMVP: 9 patterns x 15 image pairs = 270 images, one statement per image.
Hub dataset ``MMVP/MMVP_VLM`` (MIT): ``Questions.csv`` with columns ``Question ID,Type,Statement``
and ``MLLM_VLM Images/<Type>/<Question ID>.jpg`` (the hub README's ``MMVP_VLM_Images`` is wrong).
``Type`` is the pattern's folder name (``Orientation``, ``Presence``, ... ``Camera Perspective``,
see :mod:`mmvp_tasks.patterns`). IDs are global; IDs ``2k-1`` and ``2k`` form pair ``k``, the odd
ID being the pair's first image. Every statement describes its own image.

Pairs are grouped by ID and their pattern read from ``Type``, unlike evaluate_vlm.py, which assigns
patterns by row order (``num_pairs // 15``) and loads both images from the first row's folder.

``MMVP_VLM_DATA_DIR=/path`` reads a local copy in the same layout (e.g. ``mmvp synth`` output's
``mmvp_vlm`` folder) instead of the hub.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mmvp_tasks.data import DataValidationError, check_image, hub_snapshot, read_csv_rows
from mmvp_tasks.patterns import PATTERN_BY_VLM_TYPE, PATTERNS, VisualPattern

HUB_REPO = "MMVP/MMVP_VLM"
QUESTIONS_FILE = "Questions.csv"
IMAGES_DIR = "MLLM_VLM Images"
COLUMNS = ("Question ID", "Type", "Statement")
PAIRS_PER_TYPE = 15


@dataclass(frozen=True)
class Statement:
    question_id: int
    vlm_type: str  # the ``Type`` column: folder name of the pattern
    statement: str  # without the "a photo of " prefix the scorer adds
    image_path: Path

    @property
    def pattern(self) -> VisualPattern:
        return PATTERN_BY_VLM_TYPE[self.vlm_type]

    @property
    def pair_id(self) -> int:
        return (self.question_id + 1) // 2

    @property
    def image_slot(self) -> int:
        """1 for the pair's first (odd ID) image, 2 for its second."""
        return 1 if self.question_id % 2 else 2

    @property
    def partner_id(self) -> int:
        return self.question_id + 1 if self.image_slot == 1 else self.question_id - 1


def resolve_vlm_data_dir() -> Path:
    """The environment's data directory: ``MMVP_VLM_DATA_DIR`` if set, else a hub snapshot
    (cached by huggingface_hub)."""
    local = os.environ.get("MMVP_VLM_DATA_DIR")
    if local:
        return Path(local).expanduser()
    return hub_snapshot(HUB_REPO, "MMVP_VLM_DATA_DIR")


def read_statements(data_dir: str | os.PathLike) -> list[Statement]:
    """Read and validate ``Questions.csv`` and its images, sorted by Question ID."""
    csv_path = Path(data_dir) / QUESTIONS_FILE
    statements = [
        _to_statement(csv_path, line, row) for line, row in read_csv_rows(csv_path, COLUMNS)
    ]
    _check_pairs(csv_path, statements)
    _check_pairs_per_type(csv_path, statements)
    return sorted(statements, key=lambda s: s.question_id)


def scoring_documents(statements: list[Statement]) -> list[dict]:
    """One document per (statement, image of its pair): 2 x 270 = 540 on the full set.

    The scorer compares each statement's two documents; ``image_slot`` says which image of the pair
    ``image`` is, ``Question ID`` which statement (the odd ID's statement belongs to image 1).
    """
    by_id = {s.question_id: s for s in statements}
    documents = []
    for s in statements:
        pair_images = (by_id[2 * s.pair_id - 1].image_path, by_id[2 * s.pair_id].image_path)
        for slot, image in enumerate(pair_images, start=1):
            documents.append(
                {
                    "Question ID": s.question_id,
                    "Type": s.vlm_type,
                    "Statement": s.statement,
                    "pattern": s.pattern.code,
                    "pair_id": s.pair_id,
                    "image_slot": slot,
                    "image": str(image),
                }
            )
    return documents


def _to_statement(path: Path, line: int, row: dict[str, str]) -> Statement:
    """The statement as written (the original prompt uses it unstripped); other fields stripped."""
    vlm_type = row["Type"].strip()
    try:
        question_id = int(row["Question ID"])
    except ValueError:
        raise DataValidationError(
            f"{path}: row {line}: field 'Question ID': {row['Question ID']!r} is not an integer"
        ) from None
    where = f"{path}: row {line} (Question ID {question_id})"
    if question_id < 1:
        raise DataValidationError(f"{where}: field 'Question ID': IDs start at 1")
    if vlm_type not in PATTERN_BY_VLM_TYPE:
        raise DataValidationError(
            f"{where}: field 'Type': unknown Type {vlm_type!r}, expected one of "
            f"{[p.vlm_type for p in PATTERNS]}"
        )
    if not row["Statement"].strip():
        raise DataValidationError(f"{where}: field 'Statement' is empty")
    image = path.parent / IMAGES_DIR / vlm_type / f"{question_id}.jpg"
    check_image(image, where)
    return Statement(question_id, vlm_type, row["Statement"], image)


def _check_pairs(path: Path, statements: list[Statement]) -> None:
    duplicates = [i for i, n in Counter(s.question_id for s in statements).items() if n > 1]
    if duplicates:
        raise DataValidationError(f"{path}: duplicate Question ID value(s) {sorted(duplicates)}")
    by_id = {s.question_id: s for s in statements}
    for s in statements:
        mate = by_id.get(s.partner_id)
        if mate is None:
            raise DataValidationError(
                f"{path}: Question ID {s.question_id} is unpaired: its pair partner "
                f"{s.partner_id} is missing (IDs 2k-1 and 2k form pair k)"
            )
        if mate.vlm_type != s.vlm_type:
            first, second = sorted((s, mate), key=lambda x: x.question_id)
            raise DataValidationError(
                f"{path}: pair {s.pair_id} (Question ID {first.question_id} and "
                f"{second.question_id}): field 'Type' differs: {first.vlm_type!r} vs "
                f"{second.vlm_type!r}"
            )


def _check_pairs_per_type(path: Path, statements: list[Statement]) -> None:
    pairs = Counter(s.vlm_type for s in statements if s.image_slot == 1)
    wrong = {p.vlm_type: pairs.get(p.vlm_type, 0) for p in PATTERNS}
    wrong = {t: n for t, n in wrong.items() if n != PAIRS_PER_TYPE}
    if wrong:
        counts = ", ".join(f"{t!r}: {n}" for t, n in wrong.items())
        raise DataValidationError(
            f"{path}: every Type needs {PAIRS_PER_TYPE} pairs (scores are out of "
            f"{PAIRS_PER_TYPE}); found {counts}"
        )
