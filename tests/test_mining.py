"""``mmvp mine``: every pair found inside large near-duplicate groups, the output cap, unreadable
images skipped, the CLI end to end with tiny random encoders, resume after a kill, the Ray path
on a local runtime, and clear errors for bad input."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lmms_mmvp.cli import main
from lmms_mmvp.mining import embeddings, output, sources
from lmms_mmvp.mining.search import (
    ClipPairs,
    EmbeddingMismatchError,
    SearchConfig,
    find_clip_blind_pairs,
    normalised,
    pair_cosines,
)
from mmvp_tasks.data import read_questions
from tests.support.mining import (
    build_tiny_encoders,
    clustered_embeddings,
    planted_embeddings,
    rotated_copies,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_encoders(tmp_path_factory) -> tuple[Path, Path]:
    return build_tiny_encoders(tmp_path_factory.mktemp("tiny_encoders"))


@pytest.fixture(scope="session")
def spec(tiny_encoders) -> embeddings.EncoderSpec:
    clip, dino = tiny_encoders
    return embeddings.EncoderSpec(str(clip), str(dino), device="cpu", dtype="float32", batch_size=3)


def write_images(folder: Path, n: int, suffix: str = ".png") -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n)
    paths = [folder / f"img{i:03d}{suffix}" for i in range(n)]
    for path in paths:
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(path)
    return paths


def encoder_args(spec) -> list[str]:
    return ["--clip-model", spec.clip_model, "--dino-model", spec.dino_model, "--device", "cpu",
            "--dtype", "float32", "--batch-size", "3"]  # fmt: skip


# ----------------------------------------------------------------------------- search


def with_decoys(clip_dim: int, seed: int = 1):
    """Planted pairs plus pairs that must not be reported: near-identical images (both cosines
    high), an exact duplicate, and a pair just below the CLIP threshold."""
    rng = np.random.default_rng(seed)
    clip, dino, planted = planted_embeddings(3000, 25, clip_dim=clip_dim, dino_dim=96, seed=seed)
    free = np.setdiff1d(np.arange(len(clip)), planted.ravel())[:8]
    near_identical, duplicate, below = free[0:2], free[2:4], free[4:6]
    for pair, clip_cos, dino_cos in ((near_identical, 0.99, 0.99), (below, 0.93, None)):
        unit = normalised(clip[pair[:1]])
        clip[pair[1]] = rotated_copies(unit, np.float32(clip_cos), rng)[0]
        if dino_cos:
            dino[pair[1]] = rotated_copies(normalised(dino[pair[:1]]), np.float32(dino_cos), rng)[0]
    clip[duplicate[1]], dino[duplicate[1]] = clip[duplicate[0]], dino[duplicate[0]]
    return clip, dino, planted


@pytest.mark.parametrize(
    "config",
    [
        SearchConfig(index="flat"),
        SearchConfig(index="flat", block=64 * 64),
        SearchConfig(index="ivf", nlist=8, nprobe=8),
    ],
    ids=["flat", "flat-small-blocks", "ivf"],
)
def test_planted_pairs_are_found_exactly_and_nothing_else(config):
    clip, dino, planted = with_decoys(clip_dim=64)
    pairs = find_clip_blind_pairs(clip, dino, config)
    found = sorted(zip(pairs.first.tolist(), pairs.second.tolist(), strict=True))
    assert found == sorted(map(tuple, planted.tolist()))
    assert pairs.counts.near_duplicates == 2  # the near-identical pair and the exact duplicate
    assert pairs.counts.clip_pairs == len(planted) + 2
    np.testing.assert_array_equal(pairs.clip, pair_cosines(clip, pairs.first, pairs.second, "CLIP"))
    np.testing.assert_array_equal(pairs.dino, pair_cosines(dino, pairs.first, pairs.second, "DINO"))
    assert np.all(pairs.clip > 0.95) and np.all(pairs.dino < 0.6)
    assert np.all(np.diff(pairs.clip - pairs.dino) <= 0)  # most CLIP-blind first


def test_thresholds_are_configurable():
    clip, dino, planted = with_decoys(clip_dim=64)
    lenient = find_clip_blind_pairs(clip, dino, SearchConfig(clip_threshold=0.9))
    assert len(lenient) == len(planted) + 1  # + the pair at CLIP cosine 0.93
    assert len(find_clip_blind_pairs(clip, dino, SearchConfig(dino_threshold=-1.0))) == 0


def exact_pairs(clip, dino):
    """Every pair's keys ``first * n + second`` by brute force: all N^2 cosines, then the exact
    row-wise cosine where the product lands near a threshold."""
    n, config = len(clip), SearchConfig()
    first, second = np.nonzero(np.triu(normalised(clip) @ normalised(clip).T > 0.9, 1))
    clip_cos = pair_cosines(clip, first, second, "CLIP")
    above = clip_cos > config.clip_threshold
    first, second, clip_cos = first[above], second[above], clip_cos[above]
    dino_cos = pair_cosines(dino, first, second, "DINOv2")
    duplicate = (clip_cos >= 0.98) & (dino_cos >= 0.98)
    blind = (dino_cos < config.dino_threshold) & ~duplicate
    keys = first.astype(np.int64) * n + second
    return keys, keys[blind]


@pytest.fixture(scope="module")
def web_like():
    """6,000 images, 20 % of them in near-duplicate groups of up to 300 (three of 300)."""
    clip, dino, groups = clustered_embeddings(6000, clip_dim=256, dino_dim=256, seed=3)
    return clip, dino, groups, *exact_pairs(clip, dino)


@pytest.mark.parametrize("index", ["auto", "ivf"])
def test_every_pair_inside_large_near_duplicate_groups_is_found_with_the_defaults(web_like, index):
    """Groups of 300 images all above the CLIP threshold: a k-nearest-neighbour search sees a
    handful of each image's pairs; the range search sees them all, with no setting to raise."""
    clip, dino, groups, clip_keys, blind_keys = web_like
    n = len(clip)
    neighbours = np.bincount(np.r_[clip_keys // n, clip_keys % n], minlength=n)
    assert max(map(len, groups)) == 300 and neighbours.max() > 250  # far above any usual k
    assert len(blind_keys) > 5000  # CLIP-blind pairs inside the groups (DINOv2 sub-groups)
    found = []
    pairs = find_clip_blind_pairs(
        clip,
        dino,
        SearchConfig(index=index),
        on_block=lambda b: found.append(b.first * n + b.second),
    )
    found = np.concatenate(found)
    assert len(np.unique(found)) == len(found) == pairs.counts.found  # each pair once
    assert not np.setdiff1d(found, blind_keys).size  # nothing false
    if index == "auto":  # exact below 50,000 images
        assert pairs.index == "flat"
        assert pairs.counts.clip_pairs == len(clip_keys)
        np.testing.assert_array_equal(np.sort(found), blind_keys)
    else:  # IVF may lose pairs at cell boundaries: few with the defaults
        assert (pairs.nlist, pairs.nprobe) == (128, SearchConfig.nprobe)
        assert np.isin(blind_keys, found).mean() >= 0.99
        assert pairs.counts.clip_pairs >= 0.99 * len(clip_keys)


def test_blocks_bound_the_pairs_in_memory_and_lose_none(web_like):
    """A block of a x b products yields at most a x b pairs, whatever the density; small blocks
    find the same pairs as large ones, each once."""
    clip, _, _, clip_keys, _ = web_like

    def keys(blocks):
        return np.sort(np.concatenate([first * len(clip) + second for first, second, _ in blocks]))

    for index in ("flat", "ivf"):
        small = list(ClipPairs(clip, SearchConfig(index=index, block=32 * 32)))
        assert max(len(first) for first, _, _ in small) <= 32 * 32
        found = keys(small)
        np.testing.assert_array_equal(found, keys(ClipPairs(clip, SearchConfig(index=index))))
        assert len(np.unique(found)) == len(found)
        if index == "flat":
            np.testing.assert_array_equal(found, clip_keys)


def split_group(size: int = 200, background: int = 800, seed: int = 5):
    """One near-duplicate group of ``size`` images (CLIP cosines 0.97-0.99) whose DINOv2 rows
    form two halves about orthogonal centres: size^2 / 4 CLIP-blind pairs, all between halves."""
    rng = np.random.default_rng(seed)
    clip = normalised(rng.standard_normal((size + background, 256), dtype=np.float32))
    dino = normalised(rng.standard_normal((size + background, 256), dtype=np.float32))
    members = rng.choice(size + background, size, replace=False)
    centre = np.repeat(clip[members[:1]], size, axis=0)
    clip[members] = rotated_copies(centre, rng.uniform(0.985, 0.995, (size, 1)), rng)
    for half in (members[: size // 2], members[size // 2 :]):
        centre = np.repeat(dino[half[:1]], len(half), axis=0)  # random 256-d: about orthogonal
        dino[half] = rotated_copies(centre, rng.uniform(0.95, 0.99, (len(half), 1)), rng)
    return clip, dino, members


def test_output_keeps_each_images_most_clip_blind_pairs_and_counts_the_rest():
    clip, dino, members = split_group()
    every = find_clip_blind_pairs(clip, dino, SearchConfig(pairs_per_image=0))
    assert len(every) == every.counts.found == 100 * 100 and every.capped == 0
    capped = find_clip_blind_pairs(clip, dino)  # the default cap, 3 per image
    assert capped.counts.found == 100 * 100 and capped.capped == 100 * 100 - len(capped)
    np.testing.assert_array_equal(capped.pairs_per_image, every.pairs_per_image)
    assert set(capped.pairs_per_image[members]) == {100}
    gap = every.clip - every.dino
    expected = set()
    for image in members:  # each image's 3 most CLIP-blind pairs (ties: lower partner first)
        mine = np.flatnonzero((every.first == image) | (every.second == image))
        partner = np.where(every.first[mine] == image, every.second[mine], every.first[mine])
        best = mine[np.lexsort((partner, -gap[mine]))[:3]]
        expected |= set(zip(every.first[best].tolist(), every.second[best].tolist(), strict=True))
    assert set(zip(capped.first.tolist(), capped.second.tolist(), strict=True)) == expected
    assert len(capped) <= 3 * len(members)
    assert set(np.r_[capped.first, capped.second]) == set(members)  # every image represented
    assert np.all(np.diff(capped.clip - capped.dino) <= 0)


def test_pairs_per_image_through_the_cli(tmp_path):
    clip, dino, members = split_group()
    np.save(tmp_path / "clip.npy", clip)
    np.save(tmp_path / "dino.npy", dino)
    argv = ["mine", "--clip-embeddings", str(tmp_path / "clip.npy"), "--dino-embeddings",
            str(tmp_path / "dino.npy"), "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv + ["--pairs-per-image", "1"]) == 0
    with (tmp_path / "out" / "pairs.csv").open() as f:
        rows = list(csv.DictReader(f))
    summary = json.loads((tmp_path / "out" / "search.json").read_text())
    assert summary["pairs_found"] == 100 * 100 and summary["pairs_written"] == len(rows)
    assert summary["pairs_capped"] == 100 * 100 - len(rows) and len(rows) <= 200
    assert summary["images_with_pairs"] == 200 and summary["skipped_images"] == 0
    assert (
        {r["first_pairs_found"] for r in rows} == {r["second_pairs_found"] for r in rows} == {"100"}
    )
    chosen = {(int(r["first"]), int(r["second"])) for r in rows}
    assert {image for pair in chosen for image in pair} == set(members.tolist())


# ----------------------------------------------------------------------------- bad input


def test_mismatched_embedding_files_are_named(tmp_path):
    np.save(tmp_path / "clip.npy", np.ones((5, 8), np.float32))
    np.save(tmp_path / "dino.npy", np.ones((4, 6), np.float32))
    np.save(tmp_path / "flat.npy", np.ones(5, np.float32))
    with pytest.raises(EmbeddingMismatchError, match=r"clip\.npy.*5 rows.*dino\.npy.*4"):
        embeddings.load_precomputed(tmp_path / "clip.npy", tmp_path / "dino.npy")
    with pytest.raises(EmbeddingMismatchError, match=r"flat\.npy: expected a 2-D float array"):
        embeddings.load_precomputed(tmp_path / "flat.npy", tmp_path / "dino.npy")
    with pytest.raises(EmbeddingMismatchError, match=r"paths\.txt: 2 paths for 5"):
        (tmp_path / "paths.txt").write_text("a.jpg\nb.jpg\n")
        embeddings.read_ids(tmp_path / "paths.txt", 5)
    broken = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    broken[3, 2] = np.nan
    with pytest.raises(EmbeddingMismatchError, match="CLIP embeddings: row 3 is not finite"):
        find_clip_blind_pairs(broken, broken)
    with pytest.raises(SystemExit, match="--dino-embeddings"):
        main(["mine", "--clip-embeddings", str(tmp_path / "clip.npy"), "--out", str(tmp_path)])


def test_parquet_embeddings(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    pq.write_table(
        pa.table({"path": list("abcdef"), "embedding": rows.tolist()}), tmp_path / "c.parquet"
    )
    np.save(tmp_path / "d.npy", rows)
    clip, _ = embeddings.load_precomputed(tmp_path / "c.parquet", tmp_path / "d.npy")
    np.testing.assert_array_equal(clip, rows)
    pq.write_table(pa.table({"a": [[1.0]], "b": [[2.0]]}), tmp_path / "two.parquet")
    with pytest.raises(EmbeddingMismatchError, match=r"two\.parquet: expected exactly one list"):
        embeddings.load_precomputed(tmp_path / "two.parquet", tmp_path / "d.npy")


def test_empty_input(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(sources.EmptyInputError, match="empty.*no images"):
        sources.folder_source(tmp_path / "empty")
    (tmp_path / "list.txt").write_text("\n\n")
    with pytest.raises(sources.EmptyInputError, match=r"list\.txt: no images"):
        sources.path_list_source(tmp_path / "list.txt")
    (tmp_path / "list.txt").write_text("missing.png\n")
    with pytest.raises(sources.UnreadableImageError, match=r"missing\.png: image not found"):
        sources.path_list_source(tmp_path / "list.txt").load(0)


def write_broken_images(folder: Path) -> dict[str, str]:
    """The files a scraped folder holds beside images: file name -> what must be reported."""
    from PIL import Image

    jpeg = folder / "truncated.jpg"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(jpeg, quality=95)
    jpeg.write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("<html>404 Not Found</html>\n")
    return {
        "truncated.jpg": "truncated",
        "empty.jpg": "cannot identify",
        "notes.jpg": "cannot identify",
    }


def test_unreadable_images_are_skipped_listed_and_counted(tmp_path, spec, monkeypatch, capsys):
    """A truncated JPEG, a zero-byte file and a text file named .jpg among 7 images: the 7 are
    encoded and searched, the 3 listed with their reason; also when another library told PIL to
    pad truncated files (lmms-eval's task module does)."""
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    good = write_images(tmp_path / "pool", 7, suffix=".jpg")
    broken = write_broken_images(tmp_path / "pool")
    out = tmp_path / "out"
    thresholds = ["--clip-threshold", "-1", "--dino-threshold", "2", "--duplicate-threshold", "2"]
    argv = ["mine", "--images", str(tmp_path / "pool"), "--out", str(out), "--shard-size", "4"]
    argv += thresholds
    assert main(argv + encoder_args(spec)) == 0
    assert ImageFile.LOAD_TRUNCATED_IMAGES  # restored after encoding
    with (out / "embeddings" / "skipped.csv").open() as f:
        skipped = {Path(r["image"]).name: r for r in csv.DictReader(f)}
    assert skipped.keys() == broken.keys()
    for name, reason in broken.items():
        assert reason in skipped[name]["reason"]
    ids = (out / "embeddings" / "ids.txt").read_text().splitlines()
    assert ids == [str(p) for p in good]
    assert np.load(out / "embeddings" / "clip.npy").shape[0] == len(good)
    summary = json.loads((out / "search.json").read_text())
    assert summary["images"] == 7 and summary["skipped_images"] == 3
    assert summary["skipped_list"] == "embeddings/skipped.csv"
    with (out / "pairs.csv").open() as f:
        named = {r["first"] for r in csv.DictReader(f)}
    assert named <= set(ids)
    assert "3 unreadable images skipped" in capsys.readouterr().out
    assert main(argv + encoder_args(spec)) == 0  # rerun: reuses the embeddings, same listing
    assert json.loads((out / "search.json").read_text())["skipped_images"] == 3


def test_a_folder_with_no_readable_image_is_an_error(tmp_path, spec):
    (tmp_path / "pool").mkdir()
    write_broken_images(tmp_path / "pool")
    with pytest.raises(sources.EmptyInputError, match="none of the 3 images could be read"):
        embeddings.encode_source(sources.folder_source(tmp_path / "pool"), tmp_path / "out", spec)


# ----------------------------------------------------------------------------- end to end


def test_cli_end_to_end_on_an_image_folder(tmp_path, spec, tiny_encoders):
    """Encode a folder with tiny random encoders, search, write CSV, sheet and skeleton; the
    skeleton, once filled, is a valid MMVP data set."""
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModel

    paths = write_images(tmp_path / "pool", 10, suffix=".jpg")
    out = tmp_path / "out"
    # Random encoders give no real CLIP-blind pairs: open the thresholds so every neighbour counts.
    thresholds = ["--clip-threshold", "-1", "--dino-threshold", "2", "--duplicate-threshold", "2"]
    argv = ["mine", "--images", str(tmp_path / "pool"), "--out", str(out), "--annotate"]
    assert main(argv + thresholds + encoder_args(spec) + ["--shard-size", "4", "--top", "5"]) == 0

    clip = np.load(out / "embeddings" / "clip.npy")
    with torch.inference_mode():  # row 3 is what the checkpoint itself gives for image 3
        model = AutoModel.from_pretrained(tiny_encoders[0])
        pixels = AutoImageProcessor.from_pretrained(tiny_encoders[0])(
            images=[Image.open(paths[3]).convert("RGB")], return_tensors="pt"
        )["pixel_values"]
        np.testing.assert_allclose(
            clip[3], model.get_image_features(pixel_values=pixels).pooler_output[0], atol=1e-5
        )
    assert not list((out / "embeddings" / "shards").iterdir())

    with (out / "pairs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows and {(r["first"], r["second"]) for r in rows} <= {
        (str(a), str(b)) for a in paths for b in paths if a < b
    }
    row = rows[0]
    expected = (
        normalised(clip[[int(row["first_row"])]]) @ normalised(clip[[int(row["second_row"])]]).T
    )
    assert float(row["clip_cosine"]) == pytest.approx(float(expected[0, 0]), abs=1e-4)
    assert Image.open(out / "contact_sheet.png").size[0] > 0
    summary = json.loads((out / "search.json").read_text())
    assert summary["pairs_found"] == 45 and summary["pairs_written"] == len(rows)  # 10 images
    assert summary["config"]["pairs_per_image"] == 3

    skeleton = out / "mmvp"
    with (skeleton / "Questions.csv").open() as f:
        blank = list(csv.DictReader(f))
    with (skeleton / "sources.csv").open() as f:
        shown = [r["image"] for r in csv.DictReader(f)]
    assert len(blank) == len(shown) == len(set(shown)) and 2 <= len(blank) <= 10  # no image twice
    assert [r["Index"] for r in blank] == [str(i) for i in range(1, len(blank) + 1)]
    assert all(r["Question"] == r["Options"] == r["Correct Answer"] == "" for r in blank)
    assert (skeleton / "MMVP Images" / "1.jpg").read_bytes() == Path(rows[0]["first"]).read_bytes()
    fill_skeleton(skeleton / "Questions.csv")
    questions = read_questions(skeleton)
    assert [q.index for q in questions] == list(range(1, len(blank) + 1))
    with pytest.raises(FileExistsError, match="already holds written questions"):
        main(argv + thresholds + encoder_args(spec) + ["--shard-size", "4"])  # a rerun keeps them


def fill_skeleton(path: Path) -> None:
    """What a question writer does: one question and its options per pair, an answer per row."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["Question"] = "Is the dog facing left or right?"
        row["Options"] = "(a) Left (b) Right"
        row["Correct Answer"] = "(a)" if int(row["Index"]) % 2 else "(b)"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_precomputed_embeddings_through_the_cli(tmp_path):
    clip, dino, planted = planted_embeddings(500, 5, clip_dim=32, dino_dim=48)
    np.save(tmp_path / "clip.npy", clip)
    np.save(tmp_path / "dino.npy", dino)
    argv = ["mine", "--clip-embeddings", str(tmp_path / "clip.npy"), "--dino-embeddings",
            str(tmp_path / "dino.npy"), "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 0
    with (tmp_path / "out" / "pairs.csv").open() as f:
        found = {(int(r["first"]), int(r["second"])) for r in csv.DictReader(f)}
    assert found == set(map(tuple, planted.tolist()))
    assert not (tmp_path / "out" / "contact_sheet.png").exists()  # no image paths given


def test_dataset_source_reads_a_local_image_dataset(tmp_path):
    write_images(tmp_path / "ds" / "train", 4)
    source = sources.DatasetSource(str(tmp_path / "ds"), split="train")
    assert len(source) == 4 and source.ids[0].endswith(":train:0")
    assert source.load(2).mode == "RGB"
    with pytest.raises(ValueError, match="no column 'picture'"):
        sources.DatasetSource(str(tmp_path / "ds"), column="picture")


# ----------------------------------------------------------------------------- resume, Ray


@pytest.mark.slow
def test_killed_run_resumes_without_recomputing(tmp_path, spec):
    """SIGKILL once the first shard is on disk; the rerun encodes only the other shards and keeps
    the first shard's unreadable image listed. Image 5 is a FIFO, so the first run blocks in shard
    1 until it is killed: no timing involved."""
    paths = write_images(tmp_path / "pool", 10)
    paths[1].write_bytes(b"")  # unreadable, in shard 0
    os.unlink(paths[5])
    os.mkfifo(paths[5])
    (tmp_path / "pool" / "list.txt").write_text("\n".join(p.name for p in paths))
    out = tmp_path / "out"
    argv = ["mine", "--image-list", str(tmp_path / "pool" / "list.txt"), "--out", str(out),
            "--shard-size", "4"] + encoder_args(spec)  # fmt: skip
    first_shard = out / "embeddings" / "shards" / "clip-00000.npy"
    process = subprocess.Popen([sys.executable, "-m", "lmms_mmvp.cli", *argv], cwd=REPO)
    try:
        deadline = time.monotonic() + 300
        while not first_shard.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert first_shard.exists(), "the first shard was never written"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not (out / "embeddings" / "shards" / "clip-00001.npy").exists()
    shard_zero = np.load(first_shard)

    os.unlink(paths[5])
    write_images(tmp_path / "again", 10)  # same seed: image 5 as the others were written
    os.replace(tmp_path / "again" / paths[5].name, paths[5])
    source = sources.path_list_source(tmp_path / "pool" / "list.txt")
    run = embeddings.encode_source(source, out / "embeddings", spec, shard_size=4)
    assert (run.reused_shards, run.encoded_shards) == (1, 2)
    assert len(shard_zero) == 3 and [row for row, _ in run.skipped] == [1]
    np.testing.assert_array_equal(np.load(run.clip_path)[:3], shard_zero)
    assert run.rows.tolist() == [0, 2, 3, 4, 5, 6, 7, 8, 9]
    again = embeddings.encode_source(source, out / "embeddings", spec, shard_size=4)
    assert again.encoded_shards == 0
    with pytest.raises(ValueError, match="another run.*shard_size"):
        embeddings.encode_source(source, out / "embeddings", spec, shard_size=5)


@pytest.mark.slow
def test_ray_encoding_on_a_local_runtime_matches_local_encoding(tmp_path, spec):
    from lmms_mmvp.mining.ray_encode import ray_runner

    write_images(tmp_path / "pool", 9)
    write_broken_images(tmp_path / "pool")
    source = sources.folder_source(tmp_path / "pool")
    local = embeddings.encode_source(source, tmp_path / "local", spec, shard_size=3)
    on_ray = embeddings.encode_source(
        source, tmp_path / "ray", spec, shard_size=3, runner=ray_runner(workers=2)
    )
    assert on_ray.encoded_shards == 4
    assert on_ray.skipped == local.skipped and len(local.skipped) == 3  # read on the workers
    np.testing.assert_array_equal(on_ray.rows, local.rows)
    for a, b in ((local.clip_path, on_ray.clip_path), (local.dino_path, on_ray.dino_path)):
        np.testing.assert_allclose(np.load(a), np.load(b), atol=1e-5)


def test_contact_sheet_has_one_tile_per_pair(tmp_path):
    from PIL import Image

    paths = write_images(tmp_path / "pool", 4)
    pairs = find_clip_blind_pairs(*with_decoys(clip_dim=64)[:2])
    sheet = output.write_contact_sheet(
        tmp_path / "sheet.png", pairs, lambda row: Image.open(paths[row % 4]), top=4
    )
    width, height = Image.open(sheet).size
    assert width == output.SHEET_COLUMNS * (2 * output.THUMB + 12)
    assert height == 2 * (output.THUMB + output.CAPTION + 8)  # 4 pairs, 3 per row
