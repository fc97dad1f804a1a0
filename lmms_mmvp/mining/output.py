"""What ``mmvp mine`` writes: the pairs CSV, the search summary, a contact sheet of the top pairs,
and (``--annotate``) a ``Questions.csv`` skeleton in the MMVP layout for the people who write the
questions. The sheet and the skeleton show the most CLIP-blind pairs with no image twice.

The skeleton is the layout ``mmvp_tasks.data.read_questions`` reads (``Questions.csv`` +
``MMVP Images/<Index>.jpg``): pair k is rows 2k-1 and 2k with Question, Options and Correct Answer
left blank. Once filled (the same question and ``(a) X (b) Y`` options on both rows, an answer per
row) the folder is an MMVP data set: ``MMVP_DATA_DIR=OUT/mmvp lmms-eval --tasks mmvp ...``.
``sources.csv`` beside it records where each image came from.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from lmms_mmvp.mining.search import PairSearchResult, SearchConfig
from mmvp_tasks.data import COLUMNS, IMAGES_DIR, QUESTIONS_FILE

PAIR_COLUMNS = ("rank", "first_row", "second_row", "first", "second", "clip_cosine", "dino_cosine",
                "first_pairs_found", "second_pairs_found")  # fmt: skip
THUMB = 160  # contact-sheet thumbnail side, pixels
CAPTION = 18  # caption strip height, pixels
SHEET_COLUMNS = 3  # pairs per contact-sheet row


def write_pairs_csv(path: Path, pairs: PairSearchResult, ids: list[str]) -> Path:
    """One line per pair written, most CLIP-blind first (largest CLIP minus DINOv2 cosine), with
    the number of CLIP-blind pairs found for each of its images (more than written when capped)."""
    found = pairs.pairs_per_image
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(PAIR_COLUMNS)
        for rank, (a, b, clip, dino) in enumerate(_rows(pairs), start=1):
            cosines = f"{clip:.4f}", f"{dino:.4f}"
            writer.writerow([rank, a, b, ids[a], ids[b], *cosines, found[a], found[b]])
    return path


def write_summary(
    path: Path,
    pairs: PairSearchResult,
    config: SearchConfig,
    skipped: int = 0,
    skipped_list: str | None = None,
) -> Path:
    """The search settings and counts, next to the pairs they produced."""
    summary = {
        "images": len(pairs.pairs_per_image),  # searched (readable) images
        "skipped_images": skipped,  # unreadable, not searched
        "skipped_list": skipped_list,
        "index": pairs.index,
        "nlist": pairs.nlist,
        "nprobe": pairs.nprobe,
        "clip_pairs": pairs.counts.clip_pairs,  # above the CLIP threshold
        "near_duplicates": pairs.counts.near_duplicates,  # of those, dropped
        "pairs_found": pairs.counts.found,  # CLIP-blind
        "pairs_written": len(pairs),
        "pairs_capped": pairs.capped,  # found, left out by --pairs-per-image
        "images_with_pairs": int((pairs.pairs_per_image > 0).sum()),
        "config": asdict(config),
    }
    path.write_text(json.dumps(summary, indent=1))
    return path


def write_contact_sheet(
    path: Path, pairs: PairSearchResult, load_image: Callable[[int], object], top: int
) -> Path | None:
    """A PNG grid of the ``top`` pairs: both images side by side, captioned with the cosines."""
    from PIL import Image, ImageDraw, ImageOps

    rows = _distinct_top(pairs, top)
    if not rows:
        return None
    tile_w, tile_h = 2 * THUMB + 12, THUMB + CAPTION + 8
    grid_rows = -(-len(rows) // SHEET_COLUMNS)
    sheet = Image.new("RGB", (SHEET_COLUMNS * tile_w, grid_rows * tile_h), "white")
    draw = ImageDraw.Draw(sheet)
    for rank, (a, b, clip, dino) in enumerate(rows):
        x, y = (rank % SHEET_COLUMNS) * tile_w, (rank // SHEET_COLUMNS) * tile_h
        for offset, row in ((0, a), (THUMB + 4, b)):
            image = ImageOps.contain(load_image(row), (THUMB, THUMB))  # small images grow too
            sheet.paste(image, (x + 4 + offset, y + 4))
        caption = f"#{rank + 1}  rows {a}/{b}  CLIP {clip:.3f}  DINOv2 {dino:.3f}"
        draw.text((x + 4, y + THUMB + 6), caption, fill="black")
    sheet.save(path)
    return path


def write_annotation_skeleton(
    out_dir: Path, pairs: PairSearchResult, ids: list[str], load_image, top: int
) -> Path:
    """``out_dir/Questions.csv`` (blank questions) and ``MMVP Images/<Index>.jpg``, top pairs."""
    questions = out_dir / QUESTIONS_FILE
    if _has_answers(questions):
        raise FileExistsError(f"{questions} already holds written questions; move it away first")
    images = out_dir / IMAGES_DIR
    images.mkdir(parents=True, exist_ok=True)
    with (
        questions.open("w", newline="", encoding="utf-8") as q,
        (out_dir / "sources.csv").open("w", newline="", encoding="utf-8") as s,
    ):
        blank, sources = csv.writer(q), csv.writer(s)
        blank.writerow(COLUMNS)
        sources.writerow(["Index", "image", "clip_cosine", "dino_cosine"])
        for pair, (a, b, clip, dino) in enumerate(_distinct_top(pairs, top)):
            for index, row in ((2 * pair + 1, a), (2 * pair + 2, b)):
                _save_jpeg(ids[row], load_image, row, images / f"{index}.jpg")
                blank.writerow([index, "", "", ""])
                sources.writerow([index, ids[row], f"{clip:.4f}", f"{dino:.4f}"])
    return questions


def _has_answers(questions: Path) -> bool:
    if not questions.is_file():
        return False
    with questions.open(newline="", encoding="utf-8") as f:
        return any(
            any(v.strip() for k, v in row.items() if k != "Index") for row in csv.DictReader(f)
        )


def _save_jpeg(image_id: str, load_image, row: int, target: Path) -> None:
    """Copy JPEG files as they are; anything else is decoded and saved as JPEG."""
    if Path(image_id).suffix.lower() in (".jpg", ".jpeg") and Path(image_id).is_file():
        shutil.copyfile(image_id, target)
    else:
        load_image(row).save(target, "JPEG", quality=95)


def _rows(pairs: PairSearchResult) -> list[tuple[int, int, float, float]]:
    return list(
        zip(
            pairs.first.tolist(),
            pairs.second.tolist(),
            pairs.clip.tolist(),
            pairs.dino.tolist(),
            strict=True,
        )
    )


def _distinct_top(pairs: PairSearchResult, top: int) -> list[tuple[int, int, float, float]]:
    """The ``top`` most CLIP-blind pairs whose images appear in no pair above them."""
    shown, seen = [], set()
    for row in _rows(pairs):
        if len(shown) == top:
            break
        if not seen.intersection(row[:2]):
            shown.append(row)
            seen.update(row[:2])
    return shown
