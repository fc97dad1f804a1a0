"""CLIP and DINOv2 image embeddings: encoding into resumable shards, or loading precomputed ones.

Paper setting (Tong et al., CVPR 2024): CLIP ViT-L/14's projected image embedding
(``get_image_features``) and DINOv2 ViT-L/14's pooled output (``pooler_output``). Any transformers
checkpoint with ``get_image_features`` (CLIP, SigLIP, ...) and any ``AutoModel`` with a pooled
output (DINOv2, ...) works.

Encoding writes ``OUT/embeddings/``: ``manifest.json`` (models, dtype, shard size, digest of the
image ids) and, while running, ``shards/{skipped,dino,clip}-NNNNN`` for ``shard_size`` images
each, each written to a temporary name and renamed, so a shard on disk is complete. A killed run
restarted with the same arguments encodes only the missing shards. An image that cannot be read
or decoded (missing, truncated, not an image) is skipped, and the rest goes on. At the end the
shards are joined into ``clip.npy`` and ``dino.npy`` (float32, one row per encoded image),
``ids.txt`` (the image of each row) and ``skipped.csv`` (``row,image,reason``: source row, image
and why), and removed. ``clip.npy``, ``dino.npy`` and ``ids.txt`` are valid precomputed input:

    mmvp mine --clip-embeddings OUT/embeddings/clip.npy --dino-embeddings OUT/embeddings/dino.npy \
        --paths OUT/embeddings/ids.txt --out OUT2
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmms_mmvp.mining.search import EmbeddingMismatchError, check_embeddings
from lmms_mmvp.mining.sources import EmptyInputError, UnreadableImageError, strict_decoding

logger = logging.getLogger(__name__)

MANIFEST, IDS, SKIPPED, SHARDS = "manifest.json", "ids.txt", "skipped.csv", "shards"
CLIP_FILE, DINO_FILE = "clip.npy", "dino.npy"
Skipped = list[tuple[int, str]]  # (source row, why) of each image that could not be read
ShardResults = Iterator[tuple[int, np.ndarray, np.ndarray, Skipped]]  # (shard, clip, dino, ...)
Shards = list[tuple[int, range]]  # (shard number, image rows)


@dataclass(frozen=True)
class EncoderSpec:
    """What to encode with; picklable, so Ray workers build their own encoders from it."""

    clip_model: str = "openai/clip-vit-large-patch14"  # paper: CLIP ViT-L/14
    dino_model: str = "facebook/dinov2-large"  # paper: DINOv2 ViT-L/14
    device: str = "auto"  # auto: GPU if any, else CPU
    dtype: str = "auto"  # auto: checkpoint dtype on GPU, float32 on CPU
    batch_size: int = 32
    load_threads: int = 4  # images decoded in parallel while a shard is read


@dataclass(frozen=True)
class EncodingRun:
    clip_path: Path
    dino_path: Path
    rows: np.ndarray  # source row of each embedding row (skipped images have none)
    skipped: Skipped  # images that could not be read, listed in skipped_path
    skipped_path: Path
    encoded_shards: int  # shards encoded by this run
    reused_shards: int  # shards found complete on disk from an earlier run


class ImageEncoders:
    """The two image towers, loaded with ``from_pretrained``; ``encode`` returns float32 rows."""

    def __init__(self, spec: EncoderSpec) -> None:
        from transformers import AutoImageProcessor, AutoModel

        from model_adapters.hf_generation import resolve_device, resolve_dtype

        self.device = resolve_device(spec.device)
        dtype = resolve_dtype(spec.dtype, self.device)
        self.clip = AutoModel.from_pretrained(spec.clip_model, dtype=dtype).to(self.device).eval()
        if not hasattr(self.clip, "get_image_features"):
            raise ValueError(
                f"{spec.clip_model}: {type(self.clip).__name__} has no get_image_features; "
                "--clip-model needs a CLIP-family checkpoint"
            )
        self.dino = AutoModel.from_pretrained(spec.dino_model, dtype=dtype).to(self.device).eval()
        self.clip_processor = AutoImageProcessor.from_pretrained(spec.clip_model)
        self.dino_processor = AutoImageProcessor.from_pretrained(spec.dino_model)
        self.batch_size, self.load_threads = spec.batch_size, spec.load_threads

    def encode(self, images: list) -> tuple[np.ndarray, np.ndarray]:
        """(CLIP projected embeddings, DINOv2 pooled outputs) of ``images``, batch by batch."""
        import torch

        clip, dino = [], []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = images[start : start + self.batch_size]
                clip_inputs = self._inputs(self.clip_processor, batch, self.clip)
                dino_inputs = self._inputs(self.dino_processor, batch, self.dino)
                clip.append(self.clip.get_image_features(**clip_inputs).pooler_output)
                dino.append(self.dino(**dino_inputs).pooler_output)
        return tuple(torch.cat(rows).float().cpu().numpy() for rows in (clip, dino))

    def _inputs(self, processor, images: list, model) -> dict:
        inputs = processor(images=images, return_tensors="pt")
        return {"pixel_values": inputs["pixel_values"].to(self.device, model.dtype)}


def encode_source(
    source,
    out_dir: str | os.PathLike,
    spec: EncoderSpec,
    *,
    shard_size: int = 1024,
    runner: Callable[[object, EncoderSpec, Shards], ShardResults] | None = None,
) -> EncodingRun:
    """Encode every image of ``source`` into ``out_dir`` (resuming an earlier run there).

    ``runner(source, spec, shards)`` yields ``(shard, clip, dino, skipped)`` for each
    ``(shard, rows)`` in any order; the default encodes in this process (``ray_encode.ray_runner``
    spreads shards over a Ray cluster). Shards are written here as they arrive.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    manifest = _start_or_resume(out_dir, source.ids, spec, shard_size)
    if manifest.get("complete"):
        logger.info("%s: embeddings of all %d images already there", out_dir, len(source))
        return _finished_run(out_dir, len(source), 0, manifest["shards"])
    shards = [(s, range(s * shard_size, min((s + 1) * shard_size, len(source))))
              for s in range(manifest["shards"])]  # fmt: skip
    pending = [(s, rows) for s, rows in shards if not _shard_done(out_dir, s)]
    reused = len(shards) - len(pending)
    logger.info("%d shards of %d images: %d to encode, %d on disk from an earlier run",
                len(shards), shard_size, len(pending), reused)  # fmt: skip
    done_images = len(source) - sum(len(rows) for _, rows in pending)
    with tqdm(total=len(source), initial=done_images, desc="Encoding images", unit="img") as bar:
        for shard, clip, dino, skipped in (runner or local_runner)(source, spec, pending):
            _write_shard(out_dir, shard, clip, dino, skipped, len(shards[shard][1]))
            bar.update(len(shards[shard][1]))
    _join_shards(out_dir, source.ids, len(shards), manifest)
    return _finished_run(out_dir, len(source), len(pending), reused)


def local_runner(source, spec: EncoderSpec, shards: Shards) -> ShardResults:
    """Encode the shards one after the other in this process."""
    if not shards:
        return
    encoders = ImageEncoders(spec)
    for shard, rows in shards:
        yield encode_shard(encoders, source, shard, rows)


def encode_shard(encoders: ImageEncoders, source, shard: int, rows: Iterable[int]):
    """One shard's ``(shard, clip, dino, skipped)``: the unit of work of every runner. Images
    that cannot be read are skipped (and logged); ``clip`` and ``dino`` hold the others."""
    rows = list(rows)
    with strict_decoding(), ThreadPoolExecutor(encoders.load_threads) as pool:  # PIL frees the GIL
        loaded = list(pool.map(lambda row: _load(source, row), rows))
    skipped = [(row, why) for row, (image, why) in zip(rows, loaded, strict=True) if image is None]
    images = [image for image, _ in loaded if image is not None]
    if not images:
        return shard, np.empty((0, 0), np.float32), np.empty((0, 0), np.float32), skipped
    return (shard, *encoders.encode(images), skipped)


def _load(source, row: int):
    """``(image, None)``, or ``(None, why)`` for an image that cannot be read."""
    try:
        return source.load(row), None
    except UnreadableImageError as err:
        logger.warning("skipped %s", err)
        return None, err.reason


def load_precomputed(clip_path: str | os.PathLike, dino_path: str | os.PathLike):
    """``(clip, dino)`` arrays from ``.npy`` (memory-mapped) or parquet files, validated."""
    clip, dino = (_read_embeddings(Path(p)) for p in (clip_path, dino_path))
    check_embeddings(clip, dino, names=(f"CLIP ({clip_path})", f"DINOv2 ({dino_path})"))
    return clip, dino


def _read_embeddings(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: embeddings file not found")
    if path.suffix == ".npy":
        try:
            array = np.load(path, mmap_mode="r")
        except ValueError as err:
            raise EmbeddingMismatchError(f"{path}: not a readable .npy array: {err}") from None
    elif path.suffix == ".parquet":
        array = _read_parquet(path)
    else:
        raise EmbeddingMismatchError(f"{path}: expected a .npy or .parquet file")
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise EmbeddingMismatchError(
            f"{path}: expected a 2-D float array (rows, dim), got {array.dtype} {array.shape}"
        )
    return array


def _read_parquet(path: Path) -> np.ndarray:
    """The file's single list-of-floats column (e.g. ``embedding``), one row per image."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    lists = [f.name for f in table.schema if pa.types.is_list(f.type) or
             pa.types.is_fixed_size_list(f.type) or pa.types.is_large_list(f.type)]  # fmt: skip
    if len(lists) != 1:
        raise EmbeddingMismatchError(
            f"{path}: expected exactly one list column of embeddings, found {lists or 'none'} "
            f"among {table.column_names}"
        )
    column = table.column(lists[0]).combine_chunks()
    lengths = set(column.value_lengths().to_pylist()) if len(column) else {0}
    if len(lengths) != 1 or column.null_count:
        raise EmbeddingMismatchError(
            f"{path}: column {lists[0]!r}: rows have different lengths {sorted(lengths)[:5]} "
            f"or nulls ({column.null_count})"
        )
    return column.flatten().to_numpy().reshape(len(column), lengths.pop()).astype(np.float32)


def read_ids(path: str | os.PathLike, rows: int) -> list[str]:
    """One id (image path) per line; as many lines as embedding rows."""
    ids = Path(path).read_text(encoding="utf-8").splitlines()
    if len(ids) != rows:
        raise EmbeddingMismatchError(f"{path}: {len(ids)} paths for {rows} embedding rows")
    return ids


def _start_or_resume(out_dir: Path, ids: list[str], spec: EncoderSpec, shard_size: int) -> dict:
    expected = {
        "images": len(ids),
        "shards": -(-len(ids) // shard_size),
        "shard_size": shard_size,
        "ids_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
        "clip_model": spec.clip_model,
        "dino_model": spec.dino_model,
        "dtype": spec.dtype,
    }
    manifest_path = out_dir / MANIFEST
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        changed = [k for k, v in expected.items() if manifest.get(k) != v]
        if changed:
            raise ValueError(
                f"{out_dir}: holds embeddings of another run (differs in {', '.join(changed)}); "
                "use another --out or delete that folder"
            )
        return manifest
    (out_dir / SHARDS).mkdir(parents=True, exist_ok=True)
    _write_atomically(manifest_path, lambda f: f.write(json.dumps(expected, indent=1).encode()))
    return expected


def _shard_path(out_dir: Path, kind: str, shard: int) -> Path:
    return out_dir / SHARDS / f"{kind}-{shard:05d}.{'json' if kind == 'skipped' else 'npy'}"


def _shard_done(out_dir: Path, shard: int) -> bool:
    return all(_shard_path(out_dir, kind, shard).is_file() for kind in ("clip", "dino"))


def _write_shard(out_dir: Path, shard: int, clip, dino, skipped: Skipped, rows: int) -> None:
    if len(clip) != rows - len(skipped) or len(dino) != len(clip):
        raise RuntimeError(
            f"shard {shard}: {len(clip)}/{len(dino)} embeddings for {rows} images, "
            f"{len(skipped)} skipped"
        )
    listing = json.dumps(skipped).encode()
    _write_atomically(_shard_path(out_dir, "skipped", shard), lambda f: f.write(listing))
    for kind, array in (("dino", dino), ("clip", clip)):  # clip last: all present = complete
        _write_atomically(_shard_path(out_dir, kind, shard), lambda f, a=array: np.save(f, a))


def _join_shards(out_dir: Path, ids: list[str], shards: int, manifest: dict) -> None:
    """Concatenate the shards into clip.npy / dino.npy with bounded memory, list the images
    (ids.txt) and the skipped ones (skipped.csv), then drop the shards."""
    skipped = [(row, why) for shard in range(shards) for row, why in _shard_skipped(out_dir, shard)]
    encoded = len(ids) - len(skipped)
    if not encoded:
        raise EmptyInputError(f"none of the {len(ids)} images could be read: see the log")
    for kind, name in (("clip", CLIP_FILE), ("dino", DINO_FILE)):
        arrays = (np.load(_shard_path(out_dir, kind, shard)) for shard in range(shards))
        dim = next(a.shape[1] for a in arrays if len(a))
        tmp = out_dir / f"{name}.tmp"
        joined = np.lib.format.open_memmap(tmp, "w+", np.float32, (encoded, dim))
        start = 0
        for shard in range(shards):
            rows = np.load(_shard_path(out_dir, kind, shard))
            if len(rows):  # a shard of unreadable images only is empty
                joined[start : start + len(rows)] = rows
                start += len(rows)
        joined.flush()
        del joined
        os.replace(tmp, out_dir / name)
    unreadable = {row for row, _ in skipped}
    kept = "".join(f"{image}\n" for row, image in enumerate(ids) if row not in unreadable)
    _write_atomically(out_dir / IDS, lambda f: f.write(kept.encode()))
    _write_atomically(out_dir / SKIPPED, lambda f: f.write(_skipped_csv(skipped, ids).encode()))
    done = {**manifest, "complete": True, "encoded": encoded, "skipped": len(skipped)}
    _write_atomically(out_dir / MANIFEST, lambda f: f.write(json.dumps(done).encode()))
    for shard in range(shards):
        for kind in ("clip", "dino", "skipped"):
            _shard_path(out_dir, kind, shard).unlink(missing_ok=True)


def _shard_skipped(out_dir: Path, shard: int) -> Skipped:
    path = _shard_path(out_dir, "skipped", shard)
    return [tuple(item) for item in json.loads(path.read_text())] if path.is_file() else []


def _skipped_csv(skipped: Skipped, ids: list[str]) -> str:
    lines = io.StringIO()
    writer = csv.writer(lines)
    writer.writerow(["row", "image", "reason"])
    writer.writerows([row, ids[row], why] for row, why in skipped)
    return lines.getvalue()


def _finished_run(out_dir: Path, images: int, encoded: int, reused: int) -> EncodingRun:
    """The joined embeddings of a complete run, with the images it skipped."""
    skipped: Skipped = []
    if (out_dir / SKIPPED).is_file():  # absent in folders written before images were skipped
        with (out_dir / SKIPPED).open(newline="", encoding="utf-8") as f:
            skipped = [(int(r["row"]), r["reason"]) for r in csv.DictReader(f)]
    rows = np.setdiff1d(np.arange(images), [row for row, _ in skipped])
    return EncodingRun(
        out_dir / CLIP_FILE, out_dir / DINO_FILE, rows, skipped, out_dir / SKIPPED, encoded, reused
    )


def _write_atomically(path: Path, write: Callable) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        write(f)
    os.replace(tmp, path)
