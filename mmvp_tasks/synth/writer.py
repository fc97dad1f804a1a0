"""Writing the synthetic MMVP / MMVP-VLM layouts, and deleting only what an earlier run wrote.

    mmvp synth --out DIR [--seed 0] [--image-size 224]

Ownership: a run writes ``.synthetic-in-progress`` before it touches anything and removes it after
``SYNTHETIC.json``, which it writes last; at every moment one of the two proves that the directory
holds this generator's output. Without that proof a non-empty ``mmvp/`` or ``mmvp_vlm/`` is refused;
with it, only the files of the layout (:func:`generated_files`) are deleted, and anything else found
there is refused too. Both refusals are a ``FileExistsError`` naming the directory and its content.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from mmvp_tasks.answers import answer_label, parse_options
from mmvp_tasks.patterns import PATTERNS
from mmvp_tasks.prompts import LETTER_POST_PROMPT, choice_prompt
from mmvp_tasks.synth.canvas import DrawContext
from mmvp_tasks.synth.templates import TemplatePicker

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

GENERATOR = "mmvp_tasks.synth"
VERSION = 2  # 2: adds mmvp/train.json (all other files as in 1)
MARKER_NAME = "SYNTHETIC.json"
IN_PROGRESS_NAME = ".synthetic-in-progress"
MMVP_SUBDIR, VLM_SUBDIR = "mmvp", "mmvp_vlm"
MMVP_PAIRS = 150
VLM_PAIRS_PER_TYPE = 15
MMVP_HEADER = ("Index", "Question", "Options", "Correct Answer")
PATTERNS_HEADER = ("Index", "Pattern")
VLM_HEADER = ("Question ID", "Type", "Statement")
MMVP_IMAGE_DIR = "MMVP Images"
VLM_IMAGE_DIR = "MLLM_VLM Images"
TRAIN_JSON = "train.json"
IMAGE_TOKEN = "<image>"  # LLaVA's image placeholder in conversation records

_JPEG_QUALITY = 90  # fixed so output bytes depend only on seed and size
_SHOWN_ENTRIES = 6  # entries named in a refusal


@dataclass(frozen=True)
class SyntheticPaths:
    """Roots of the two generated datasets."""

    mmvp_dir: Path
    mmvp_vlm_dir: Path


# --------------------------------------------------------------------------- files


def _save_jpeg(image: Image.Image, path: Path) -> None:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=_JPEG_QUALITY)
    path.write_bytes(buf.getvalue())


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_csv(path: Path, header: Sequence[str], rows: list[list[str]]) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    _write_atomic(path, buf.getvalue().encode("utf-8"))


def _write_json(path: Path, data: Any) -> None:
    _write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))


# --------------------------------------------------------------------------- layouts


def _llava_record(index: str, question: str, options: str, correct: str) -> dict[str, Any]:
    """One MMVP row as a LLaVA conversation: the ``mmvp`` letter prompt, the answer letter."""
    prompt = choice_prompt(question, parse_options(options), post_prompt=LETTER_POST_PROMPT)
    return {
        "id": index,
        "image": f"{MMVP_IMAGE_DIR}/{index}.jpg",
        "conversations": [
            {"from": "human", "value": f"{IMAGE_TOKEN}\n{prompt}"},
            {"from": "gpt", "value": answer_label(correct).upper()},
        ],
    }


def _write_mmvp(ctx: DrawContext, root: Path) -> None:
    images = root / MMVP_IMAGE_DIR
    images.mkdir(parents=True)
    rows: list[list[str]] = []
    codes: list[list[str]] = []
    picker = TemplatePicker(ctx)
    for k in range(1, MMVP_PAIRS + 1):
        pattern = PATTERNS[(k - 1) % len(PATTERNS)]
        pair = picker.pair(ctx, pattern.code)
        options = pair.answers[::-1] if ctx.coin() else pair.answers
        option_str = f"(a) {options[0]} (b) {options[1]}"
        first = ctx.integer(0, 2)  # which state the odd row shows
        for index, state in ((2 * k - 1, first), (2 * k, 1 - first)):
            letter = "(a)" if pair.answers[state] == options[0] else "(b)"
            _save_jpeg(pair.images[state], images / f"{index}.jpg")
            rows.append([str(index), pair.question, option_str, letter])
            codes.append([str(index), pattern.code])
    _write_csv(root / "Questions.csv", MMVP_HEADER, rows)
    _write_csv(root / "patterns.csv", PATTERNS_HEADER, codes)
    _write_json(root / TRAIN_JSON, [_llava_record(*row) for row in rows])


def _write_vlm(ctx: DrawContext, root: Path) -> None:
    rows: list[list[str]] = []
    picker = TemplatePicker(ctx)
    for t, pattern in enumerate(PATTERNS):
        folder = root / VLM_IMAGE_DIR / pattern.vlm_type
        folder.mkdir(parents=True)
        for j in range(1, VLM_PAIRS_PER_TYPE + 1):
            pair = picker.pair(ctx, pattern.code)
            first = ctx.integer(0, 2)
            odd = t * 2 * VLM_PAIRS_PER_TYPE + 2 * j - 1
            for qid, state in ((odd, first), (odd + 1, 1 - first)):
                _save_jpeg(pair.images[state], folder / f"{qid}.jpg")
                rows.append([str(qid), pattern.vlm_type, pair.statements[state].lower()])
    _write_csv(root / "Questions.csv", VLM_HEADER, rows)


def generated_files() -> list[str]:
    """Every file a run writes under ``mmvp/`` and ``mmvp_vlm/`` (POSIX, relative to the output
    directory), whatever the seed and size; without the temporary names of atomic writes."""
    tables = [f"{MMVP_SUBDIR}/{name}" for name in ("Questions.csv", "patterns.csv", TRAIN_JSON)]
    tables.append(f"{VLM_SUBDIR}/Questions.csv")
    mmvp_images = [f"{MMVP_SUBDIR}/{MMVP_IMAGE_DIR}/{i}.jpg" for i in range(1, 2 * MMVP_PAIRS + 1)]
    per_type = 2 * VLM_PAIRS_PER_TYPE
    vlm_images = [
        f"{VLM_SUBDIR}/{VLM_IMAGE_DIR}/{pattern.vlm_type}/{t * per_type + i}.jpg"
        for t, pattern in enumerate(PATTERNS)
        for i in range(1, per_type + 1)
    ]
    return tables + mmvp_images + vlm_images


# --------------------------------------------------------------------------- ownership


def _marker(seed: int, image_size: int) -> dict[str, Any]:
    return {"generator": GENERATOR, "version": VERSION, "seed": seed, "image_size": image_size}


def _read_marker(out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _paths(out: Path) -> SyntheticPaths:
    return SyntheticPaths(mmvp_dir=out / MMVP_SUBDIR, mmvp_vlm_dir=out / VLM_SUBDIR)


def _our_entries() -> dict[str, str]:
    """What a run (possibly interrupted) may leave in ``mmvp/`` and ``mmvp_vlm/``: path -> kind."""
    files = generated_files()
    tables = [f for f in files if not f.endswith(".jpg")]
    entries = {f: "file" for f in files + [f"{t}.tmp" for t in tables]}
    for f in files:
        for parent in PurePosixPath(f).parents:
            if str(parent) not in (".", MMVP_SUBDIR, VLM_SUBDIR):
                entries[str(parent)] = "dir"
    return entries


def _found_entries(out: Path) -> dict[str, str]:
    """Everything inside ``out/mmvp`` and ``out/mmvp_vlm``: POSIX path -> file, dir or other.

    A root that is not a plain directory counts as an entry itself; links are never followed.
    """
    found: dict[str, str] = {}
    for sub in (MMVP_SUBDIR, VLM_SUBDIR):
        root = out / sub
        if root.is_symlink() or (root.exists() and not root.is_dir()):
            found[sub] = "other"
            continue
        for dirpath, dirnames, filenames in os.walk(root):  # no such root: nothing
            for name in dirnames + filenames:
                path = Path(dirpath, name)
                kind = "other" if path.is_symlink() else "dir" if path.is_dir() else "file"
                found[path.relative_to(out).as_posix()] = kind
    return found


def _describe(entries: dict[str, str]) -> str:
    """The outermost of `entries`, a folder with the number of entries it holds."""
    outer = [p for p in sorted(entries) if not any(a in entries for a in _ancestors(p))]
    shown = []
    for path in outer[:_SHOWN_ENTRIES]:
        inside = sum(1 for p in entries if p.startswith(path + "/"))
        count = f"{inside} entr{'y' if inside == 1 else 'ies'}"
        shown.append(f"{path}/ ({count})" if entries[path] == "dir" else path)
    more = len(outer) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _ancestors(path: str) -> list[str]:
    return [str(p) for p in PurePosixPath(path).parents if str(p) != "."]


def _claim(out: Path, seed: int, image_size: int) -> None:
    """Make `out` ready for a new run, deleting only what an earlier run of this generator wrote.

    Raises FileExistsError, before deleting anything, if `out` holds data not written here.
    """
    found = _found_entries(out)
    marker = _read_marker(out)
    ours = (out / IN_PROGRESS_NAME).is_file() or (marker or {}).get("generator") == GENERATOR
    if not ours and found:
        raise FileExistsError(
            f"refusing to write synthetic data into {out}: it holds {_describe(found)}, and no "
            f"{MARKER_NAME} or {IN_PROGRESS_NAME} shows that {GENERATOR} wrote them. "
            "Choose an empty or new output directory."
        )
    if not ours and (out / MARKER_NAME).exists():
        raise FileExistsError(
            f"{out / MARKER_NAME} was not written by {GENERATOR}; not replacing it"
        )
    allowed = _our_entries()
    foreign = {p: kind for p, kind in found.items() if allowed.get(p) != kind}
    if foreign:
        raise FileExistsError(
            f"refusing to clear the synthetic data in {out}: it also holds {_describe(foreign)}, "
            f"which {GENERATOR} did not write. Move them away or choose another output directory."
        )
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / IN_PROGRESS_NAME, _marker(seed, image_size))
    (out / MARKER_NAME).unlink(missing_ok=True)  # from here on the directory reads as incomplete
    for path in sorted(found, reverse=True):  # a folder's entries sort after the folder itself
        if found[path] == "dir":
            (out / path).rmdir()
        else:
            (out / path).unlink()


# --------------------------------------------------------------------------- public API


def write_synthetic_data(
    out_dir: str | os.PathLike[str], *, seed: int = 0, image_size: int = 224
) -> SyntheticPaths:
    """(Re)generate the synthetic MMVP and MMVP-VLM sets under `out_dir` (see the package doc).

    Raises FileExistsError if `out_dir` holds data that an earlier run did not write; a
    previous (complete or interrupted) synthetic set there is replaced.
    """
    if image_size < 32:
        raise ValueError(f"image_size must be at least 32, got {image_size}")
    out = Path(out_dir)
    paths = _paths(out)
    _claim(out, seed, image_size)
    ctx = DrawContext(seed, image_size)
    _write_mmvp(ctx, paths.mmvp_dir)
    _write_vlm(ctx, paths.mmvp_vlm_dir)
    _write_json(out / MARKER_NAME, _marker(seed, image_size))  # last: marks the set complete
    (out / IN_PROGRESS_NAME).unlink()
    logger.info("wrote synthetic MMVP data (seed=%d, size=%d) to %s", seed, image_size, out)
    return paths


def ensure_synthetic_data(
    out_dir: str | os.PathLike[str], *, seed: int = 0, image_size: int = 224
) -> SyntheticPaths:
    """Return the synthetic set under `out_dir`, generating it unless a matching one is complete."""
    out = Path(out_dir)
    complete = not (out / IN_PROGRESS_NAME).exists() and all(
        (out / f).is_file() for f in generated_files()
    )
    if complete and _read_marker(out) == _marker(seed, image_size):
        return _paths(out)
    return write_synthetic_data(out, seed=seed, image_size=image_size)
