"""Tests for the synthetic MMVP / MMVP-VLM generator (mmvp_tasks.synth)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import string
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lmms_mmvp.cli import main as mmvp_main
from mmvp_tasks.answers import parse_options
from mmvp_tasks.data import AMVICC_PATTERNS
from mmvp_tasks.patterns import PATTERN_BY_CODE, PATTERNS
from mmvp_tasks.prompts import LETTER_POST_PROMPT, choice_prompt
from mmvp_tasks.synth import (
    IN_PROGRESS_NAME,
    MARKER_NAME,
    SyntheticPaths,
    ensure_synthetic_data,
    generated_files,
    write_synthetic_data,
)

SIZE = 224
OPTIONS_RE = re.compile(r"^\(a\) (.+) \(b\) (.+)$")


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _norm(text: str) -> str:
    return text.lower().translate(str.maketrans("", "", string.punctuation)).strip()


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SyntheticPaths:
    return write_synthetic_data(tmp_path_factory.mktemp("synth0"), seed=0, image_size=SIZE)


@pytest.fixture(scope="module")
def mmvp(synth: SyntheticPaths) -> list[dict[str, str]]:
    header, rows = _rows(synth.mmvp_dir / "Questions.csv")
    assert header == ["Index", "Question", "Options", "Correct Answer"]
    return rows


@pytest.fixture(scope="module")
def vlm(synth: SyntheticPaths) -> list[dict[str, str]]:
    header, rows = _rows(synth.mmvp_vlm_dir / "Questions.csv")
    assert header == ["Question ID", "Type", "Statement"]
    return rows


def test_import_is_light() -> None:
    code = (
        "import sys, mmvp_tasks.synth; print(sorted({'torch', 'PIL', 'numpy'} & set(sys.modules)))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "[]"


def test_paths_and_marker(synth: SyntheticPaths) -> None:
    root = synth.mmvp_dir.parent
    assert synth.mmvp_dir == root / "mmvp" and synth.mmvp_vlm_dir == root / "mmvp_vlm"
    marker = json.loads((root / MARKER_NAME).read_text())
    assert marker == {"generator": "mmvp_tasks.synth", "version": 2, "seed": 0, "image_size": SIZE}
    assert sorted(p.name for p in root.iterdir()) == [MARKER_NAME, "mmvp", "mmvp_vlm"]


def test_mmvp_rows_and_images(synth: SyntheticPaths, mmvp: list[dict[str, str]]) -> None:
    assert [r["Index"] for r in mmvp] == [str(i) for i in range(1, 301)]
    image_dir = synth.mmvp_dir / "MMVP Images"
    assert sorted(p.name for p in image_dir.iterdir()) == sorted(f"{i}.jpg" for i in range(1, 301))
    for row in mmvp:
        with Image.open(image_dir / f"{row['Index']}.jpg") as img:
            assert (img.format, img.mode, img.size) == ("JPEG", "RGB", (SIZE, SIZE))


def test_mmvp_pairs(synth: SyntheticPaths, mmvp: list[dict[str, str]]) -> None:
    image_dir = synth.mmvp_dir / "MMVP Images"
    for odd, even in zip(mmvp[::2], mmvp[1::2], strict=True):
        assert odd["Question"] == even["Question"] and odd["Question"].endswith("?")
        assert odd["Options"] == even["Options"]
        assert {odd["Correct Answer"], even["Correct Answer"]} == {"(a)", "(b)"}
        match = OPTIONS_RE.match(odd["Options"])
        assert match, odd["Options"]
        a, b = match.groups()
        assert "(" not in a + b and _norm(a) and _norm(b) and _norm(a) != _norm(b)
        pixels = [_pixels(image_dir / f"{r['Index']}.jpg") for r in (odd, even)]
        assert not np.array_equal(*pixels), odd["Index"]


def test_mmvp_randomised(mmvp: list[dict[str, str]]) -> None:
    odd_answers = Counter(r["Correct Answer"] for r in mmvp[::2])
    assert odd_answers["(a)"] > 20 and odd_answers["(b)"] > 20
    first_options = Counter(OPTIONS_RE.match(r["Options"]).group(1) for r in mmvp[::2])  # type: ignore[union-attr]
    assert first_options["Yes"] and first_options["No"]  # which text is (a) varies too


def test_mmvp_variety(mmvp: list[dict[str, str]]) -> None:
    codes = [PATTERNS[(k - 1) % 9].code for k in range(1, 151)]
    questions: dict[str, set[str]] = {}
    for code, row in zip(codes, mmvp[::2], strict=True):
        # Shape nouns vary within a template, so count templates by their first three words.
        questions.setdefault(code, set()).add(" ".join(row["Question"].split()[:3]))
    assert all(len(q) >= 3 for q in questions.values()), questions


def test_patterns_csv(synth: SyntheticPaths, mmvp: list[dict[str, str]]) -> None:
    header, rows = _rows(synth.mmvp_dir / "patterns.csv")
    assert header == ["Index", "Pattern"]
    assert [r["Index"] for r in rows] == [r["Index"] for r in mmvp]
    codes = [r["Pattern"] for r in rows]
    assert set(codes) == set(PATTERN_BY_CODE)
    assert codes[::2] == codes[1::2]
    assert codes[::2] == [PATTERNS[(k - 1) % 9].code for k in range(1, 151)]


def test_train_json_is_the_mmvp_letter_prompt_as_llava_conversations(
    synth: SyntheticPaths, mmvp: list[dict[str, str]]
) -> None:
    records = json.loads((synth.mmvp_dir / "train.json").read_text())
    assert len(records) == len(mmvp) == 300
    for record, row in zip(records, mmvp, strict=True):
        options = parse_options(row["Options"])
        prompt = choice_prompt(row["Question"], options, post_prompt=LETTER_POST_PROMPT)
        assert record == {
            "id": row["Index"],
            "image": f"MMVP Images/{row['Index']}.jpg",
            "conversations": [
                {"from": "human", "value": "<image>\n" + prompt},
                {"from": "gpt", "value": row["Correct Answer"].strip("()").upper()},
            ],
        }
        assert (synth.mmvp_dir / record["image"]).is_file()


def test_generated_files_lists_every_file_of_a_run(synth: SyntheticPaths) -> None:
    written = set(_files(synth.mmvp_dir.parent)) - {MARKER_NAME}
    assert written == set(generated_files())


def test_vlm_layout(synth: SyntheticPaths, vlm: list[dict[str, str]]) -> None:
    assert len(vlm) == 270
    assert [int(r["Question ID"]) for r in vlm] == list(range(1, 271))
    for t, pattern in enumerate(PATTERNS):
        block = vlm[30 * t : 30 * (t + 1)]
        assert {r["Type"] for r in block} == {pattern.vlm_type}
        for row in block:
            path = (
                synth.mmvp_vlm_dir
                / "MLLM_VLM Images"
                / pattern.vlm_type
                / f"{row['Question ID']}.jpg"
            )
            with Image.open(path) as img:
                assert (img.mode, img.size) == ("RGB", (SIZE, SIZE))
    folders = sorted(p.name for p in (synth.mmvp_vlm_dir / "MLLM_VLM Images").iterdir())
    assert folders == sorted(p.vlm_type for p in PATTERNS)


def test_vlm_pairs(synth: SyntheticPaths, vlm: list[dict[str, str]]) -> None:
    assert Counter(r["Type"] for r in vlm[::2]) == {p.vlm_type: 15 for p in PATTERNS}
    for odd, even in zip(vlm[::2], vlm[1::2], strict=True):
        assert odd["Type"] == even["Type"]
        for row in (odd, even):
            text = row["Statement"]
            assert text == text.lower() and text.strip() == text and text
            assert not text.startswith("a photo of")
        assert odd["Statement"] != even["Statement"]
        folder = synth.mmvp_vlm_dir / "MLLM_VLM Images" / odd["Type"]
        pixels = [_pixels(folder / f"{r['Question ID']}.jpg") for r in (odd, even)]
        assert not np.array_equal(*pixels), odd["Question ID"]


def test_deterministic(synth: SyntheticPaths, tmp_path: Path) -> None:
    root = synth.mmvp_dir.parent
    again = write_synthetic_data(tmp_path / "again", seed=0, image_size=SIZE)
    assert _files(again.mmvp_dir.parent) == _files(root)
    other = write_synthetic_data(tmp_path / "other", seed=1, image_size=SIZE)
    other_files, base_files = _files(other.mmvp_dir.parent), _files(root)
    assert other_files.keys() == base_files.keys()
    assert other_files["mmvp/Questions.csv"] != base_files["mmvp/Questions.csv"]
    assert other_files["mmvp/MMVP Images/1.jpg"] != base_files["mmvp/MMVP Images/1.jpg"]


def test_other_size(tmp_path: Path) -> None:
    paths = write_synthetic_data(tmp_path, seed=3, image_size=64)
    for path in list((paths.mmvp_dir / "MMVP Images").iterdir())[:20]:
        with Image.open(path) as img:
            assert img.size == (64, 64)


def test_ensure_reuses_complete_dir(tmp_path: Path) -> None:
    paths = ensure_synthetic_data(tmp_path, seed=2, image_size=64)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    before = {p: p.stat().st_mtime_ns for p in files}
    assert ensure_synthetic_data(tmp_path, seed=2, image_size=64) == paths
    assert {p: p.stat().st_mtime_ns for p in files} == before


def test_ensure_regenerates_incomplete_set(tmp_path: Path) -> None:
    write_synthetic_data(tmp_path, seed=2, image_size=64)
    reference = _files(tmp_path)
    (tmp_path / "mmvp" / "MMVP Images" / "7.jpg").unlink()
    ensure_synthetic_data(tmp_path, seed=2, image_size=64)
    assert _files(tmp_path) == reference


def test_ensure_replaces_an_older_version(tmp_path: Path) -> None:
    write_synthetic_data(tmp_path, seed=2, image_size=64)
    reference = _files(tmp_path)
    (tmp_path / "mmvp" / "train.json").unlink()  # what version 1 wrote
    marker = json.loads((tmp_path / MARKER_NAME).read_text())
    (tmp_path / MARKER_NAME).write_text(json.dumps({**marker, "version": 1}))
    ensure_synthetic_data(tmp_path, seed=2, image_size=64)
    assert _files(tmp_path) == reference


def test_ensure_regenerates_interrupted_run(tmp_path: Path) -> None:
    write_synthetic_data(tmp_path, seed=2, image_size=64)
    reference = _files(tmp_path)
    # What a run killed after clearing the old output and writing part of the images leaves.
    (tmp_path / MARKER_NAME).unlink()
    (tmp_path / IN_PROGRESS_NAME).touch()  # version 1 left it empty
    (tmp_path / "mmvp" / "patterns.csv").unlink()
    (tmp_path / "mmvp" / "Questions.csv").rename(tmp_path / "mmvp" / "Questions.csv.tmp")
    shutil.rmtree(tmp_path / "mmvp_vlm" / "MLLM_VLM Images" / "Text")
    ensure_synthetic_data(tmp_path, seed=2, image_size=64)
    assert _files(tmp_path) == reference


def test_ensure_regenerates_other_seed(tmp_path: Path) -> None:
    write_synthetic_data(tmp_path, seed=2, image_size=64)
    before = _files(tmp_path)
    ensure_synthetic_data(tmp_path, seed=5, image_size=64)
    assert json.loads((tmp_path / MARKER_NAME).read_text())["seed"] == 5
    assert _files(tmp_path)["mmvp/Questions.csv"] != before["mmvp/Questions.csv"]


def test_refuses_foreign_data(tmp_path: Path) -> None:
    (tmp_path / "mmvp").mkdir()
    (tmp_path / "mmvp" / "Questions.csv").write_text("real data\n")
    with pytest.raises(FileExistsError, match="mmvp/Questions.csv"):
        ensure_synthetic_data(tmp_path, seed=0, image_size=64)
    assert (tmp_path / "mmvp" / "Questions.csv").read_text() == "real data\n"


def test_synth_command_leaves_a_real_mmvp_copy_untouched(
    copy_of_real_mmvp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real MMVP layout with a patterns.csv beside it (as a user keeps it) under --out."""
    out = copy_of_real_mmvp.parent
    shutil.copy(
        AMVICC_PATTERNS,
        out / "mmvp" / "patterns.csv",
    )
    before = _files(out)
    assert mmvp_main(["synth", "--out", str(out), "--image-size", "64"]) == 2
    error = capsys.readouterr().err
    assert str(out) in error and "mmvp/MMVP Images/ (300 entries)" in error
    assert "mmvp/Questions.csv" in error and "mmvp/patterns.csv" in error
    assert _files(out) == before
    assert sorted(p.name for p in out.iterdir()) == ["mmvp"]


def test_refuses_a_synthetic_set_without_its_marker(tmp_path: Path) -> None:
    write_synthetic_data(tmp_path, seed=2, image_size=64)
    (tmp_path / MARKER_NAME).unlink()  # nothing proves any more that the files are generated
    before = _files(tmp_path)
    with pytest.raises(FileExistsError, match=f"no {MARKER_NAME} or {IN_PROGRESS_NAME}"):
        ensure_synthetic_data(tmp_path, seed=2, image_size=64)
    assert _files(tmp_path) == before


@pytest.mark.parametrize("proof", [MARKER_NAME, IN_PROGRESS_NAME])
def test_refuses_foreign_files_in_a_synthetic_set(tmp_path: Path, proof: str) -> None:
    write_synthetic_data(tmp_path, seed=2, image_size=64)
    if proof == IN_PROGRESS_NAME:
        (tmp_path / MARKER_NAME).unlink()
        (tmp_path / IN_PROGRESS_NAME).touch()
    (tmp_path / "mmvp" / "notes.txt").write_text("mine\n")
    (tmp_path / "mmvp_vlm" / "results").mkdir()
    (tmp_path / "mmvp_vlm" / "results" / "run.json").write_text("{}")
    before = _files(tmp_path)
    with pytest.raises(FileExistsError) as err:
        write_synthetic_data(tmp_path, seed=3, image_size=64)
    assert "mmvp/notes.txt" in str(err.value) and "mmvp_vlm/results/ (1 entry)" in str(err.value)
    assert _files(tmp_path) == before  # nothing deleted, the synthetic files included


def test_never_follows_a_link_out_of_the_output(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "1.jpg").write_bytes(b"a real image")
    out = tmp_path / "out"
    write_synthetic_data(out, seed=2, image_size=64)
    shutil.rmtree(out / "mmvp" / "MMVP Images")
    (out / "mmvp" / "MMVP Images").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(FileExistsError, match="mmvp/MMVP Images"):
        write_synthetic_data(out, seed=2, image_size=64)
    assert (elsewhere / "1.jpg").read_bytes() == b"a real image"


def test_refuses_to_replace_a_foreign_marker(tmp_path: Path) -> None:
    (tmp_path / MARKER_NAME).write_text('{"generator": "someone else"}')
    with pytest.raises(FileExistsError, match=MARKER_NAME):
        write_synthetic_data(tmp_path, seed=0, image_size=64)
    assert (tmp_path / MARKER_NAME).read_text() == '{"generator": "someone else"}'


def test_without_scikit_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "skimage.data", None)  # makes the import raise ImportError
    paths = write_synthetic_data(tmp_path, seed=0, image_size=64)
    _, rows = _rows(paths.mmvp_dir / "Questions.csv")
    assert len(rows) == 300
    assert any("a house" in r["Question"] for r in rows)
