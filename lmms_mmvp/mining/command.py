"""``mmvp mine``: mine CLIP-blind pairs (CLIP cosine > 0.95, DINOv2 cosine < 0.6) from images.

    mmvp mine --images /data/pool --out runs/mine                       # encode, search, write
    mmvp mine --image-list pool.txt --out runs/mine --device cuda --dtype float16 --annotate
    mmvp mine --dataset user/photos --split train --image-column image --out runs/mine
    mmvp mine --images /data/pool --out runs/mine --ray --ray-address auto --ray-workers 16
    mmvp mine --clip-embeddings clip.npy --dino-embeddings dino.npy --paths paths.txt --out runs/m

Writes ``OUT/pairs.csv`` (each image's ``--pairs-per-image`` most CLIP-blind pairs),
``OUT/search.json`` (counts: pairs found, written, left out by the cap; images skipped),
``OUT/contact_sheet.png`` and, with ``--annotate``, ``OUT/mmvp/`` (``Questions.csv`` skeleton +
``MMVP Images``). Encoded embeddings go to ``OUT/embeddings/`` (unreadable images are skipped and
listed in ``OUT/embeddings/skipped.csv``); a killed run resumes from its last complete shard when
restarted with the same arguments.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lmms_mmvp.extras import require
from lmms_mmvp.mining.embeddings import EncoderSpec
from lmms_mmvp.mining.search import SearchConfig

logger = logging.getLogger(__name__)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "mine",
        help="mine CLIP-blind image pairs (CLIP similar, DINOv2 different)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_argument_group("input (one of)").add_mutually_exclusive_group(required=True)
    source.add_argument("--images", type=Path, help="folder of images (recursive)")
    source.add_argument("--image-list", type=Path, help="file with one image path per line")
    source.add_argument("--dataset", help="hub image dataset (or local folder) for load_dataset")
    source.add_argument("--clip-embeddings", type=Path, help="precomputed CLIP rows (.npy/parquet)")
    parser.add_argument("--dino-embeddings", type=Path, help="precomputed DINOv2 rows, same order")
    parser.add_argument("--paths", type=Path, help="image path per precomputed row (optional)")
    parser.add_argument("--split", default="train", help="--dataset split")
    parser.add_argument("--image-column", default="image", help="--dataset image column")
    parser.add_argument("--out", type=Path, required=True, help="output folder")

    encode = parser.add_argument_group("encoding")
    encode.add_argument("--clip-model", default=EncoderSpec.clip_model)
    encode.add_argument("--dino-model", default=EncoderSpec.dino_model)
    encode.add_argument("--device", default=EncoderSpec.device, help="auto, cpu, cuda, cuda:1")
    encode.add_argument("--dtype", default=EncoderSpec.dtype, help="auto, float32, bfloat16, ...")
    encode.add_argument("--batch-size", type=int, default=EncoderSpec.batch_size)
    encode.add_argument("--load-threads", type=int, default=EncoderSpec.load_threads,
                        help="image decoding threads per encoder")  # fmt: skip
    encode.add_argument("--shard-size", type=int, default=1024, help="images per resumable shard")
    encode.add_argument("--ray", action="store_true", help="encode on Ray workers")
    encode.add_argument("--ray-address", help="running cluster (auto, ray://HOST:10001)")
    encode.add_argument("--ray-workers", type=int, default=2, help="encoder actors")
    encode.add_argument("--ray-gpus-per-worker", type=float, default=0)

    search = parser.add_argument_group("pair search")
    search.add_argument("--clip-threshold", type=float, default=SearchConfig.clip_threshold)
    search.add_argument("--dino-threshold", type=float, default=SearchConfig.dino_threshold)
    search.add_argument("--duplicate-threshold", type=float,
                        default=SearchConfig.duplicate_threshold,
                        help="both cosines at or above: the same picture, dropped")  # fmt: skip
    search.add_argument("--index", choices=("auto", "flat", "ivf"), default="auto",
                        help="flat: every pair; ivf: pairs within nearby k-means cells; "
                             "auto: flat to 50k images")  # fmt: skip
    search.add_argument("--nprobe", type=int, default=SearchConfig.nprobe,
                        help="IVF cells each image is compared with")  # fmt: skip
    search.add_argument("--nlist", type=int, default=None, help="IVF cells (default ~2 sqrt N)")

    output = parser.add_argument_group("output")
    output.add_argument("--pairs-per-image", type=int, default=SearchConfig.pairs_per_image,
                        help="each image's N most CLIP-blind pairs (0: all)")  # fmt: skip
    output.add_argument("--top", type=int, default=30, help="pairs on the sheet / in --annotate")
    output.add_argument("--annotate", action="store_true", help="write an MMVP skeleton, OUT/mmvp")
    parser.set_defaults(run=run)
    return parser


@dataclass
class MiningInput:
    """The embeddings to search and what the output needs to name and show their rows."""

    clip: np.ndarray
    dino: np.ndarray
    ids: list[str]  # image of each row
    load_image: Callable[[int], object] | None  # row -> PIL image; None: no image paths
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (source row, why) unreadable
    skipped_list: Path | None = None  # skipped.csv naming them


def run(args: argparse.Namespace) -> int:
    from lmms_mmvp.mining import output
    from lmms_mmvp.mining.search import find_clip_blind_pairs

    for module in ("faiss", "threadpoolctl", *(["ray"] if args.ray else [])):
        require(module, "mine")  # before anything is encoded or written
    args.out.mkdir(parents=True, exist_ok=True)
    pool = _embeddings(args)
    config = SearchConfig(
        clip_threshold=args.clip_threshold,
        dino_threshold=args.dino_threshold,
        duplicate_threshold=args.duplicate_threshold,
        pairs_per_image=args.pairs_per_image,
        index=args.index,
        nprobe=args.nprobe,
        nlist=args.nlist,
    )
    pairs = find_clip_blind_pairs(pool.clip, pool.dino, config)
    skipped_list = pool.skipped_list and str(pool.skipped_list.relative_to(args.out))
    written = [
        output.write_pairs_csv(args.out / "pairs.csv", pairs, pool.ids),
        output.write_summary(
            args.out / "search.json", pairs, config, len(pool.skipped), skipped_list
        ),
    ]
    if pool.load_image is None:
        logger.warning("no image paths (--paths): no contact sheet, no --annotate")
    else:
        sheet = output.write_contact_sheet(
            args.out / "contact_sheet.png", pairs, pool.load_image, args.top
        )
        written += [sheet] if sheet else []
        if args.annotate:
            skeleton = args.out / "mmvp"
            written.append(
                output.write_annotation_skeleton(
                    skeleton, pairs, pool.ids, pool.load_image, args.top
                )
            )
    cap = config.pairs_per_image or "all"
    print(
        f"{pairs.counts.found} CLIP-blind pairs among {len(pool.ids)} images: {len(pairs)} written "
        f"(--pairs-per-image {cap}), {pairs.capped} left out"
    )
    if pool.skipped:
        print(f"{len(pool.skipped)} unreadable images skipped: listed in {pool.skipped_list}")
    print("\n".join(f"wrote {path}" for path in written))
    return 0


def _embeddings(args: argparse.Namespace) -> MiningInput:
    """Precomputed arrays, or the images encoded into OUT."""
    from lmms_mmvp.mining import embeddings, sources

    if args.clip_embeddings:
        if not args.dino_embeddings:
            raise SystemExit("mmvp mine: --clip-embeddings needs --dino-embeddings")
        clip, dino = embeddings.load_precomputed(args.clip_embeddings, args.dino_embeddings)
        if not args.paths:
            return MiningInput(clip, dino, [str(row) for row in range(len(clip))], None)
        ids = embeddings.read_ids(args.paths, len(clip))
        return MiningInput(clip, dino, ids, sources.PathSource(ids, str(args.paths)).load)
    if args.images:
        source = sources.folder_source(args.images)
    elif args.image_list:
        source = sources.path_list_source(args.image_list)
    else:
        source = sources.DatasetSource(args.dataset, args.split, args.image_column)
    spec = EncoderSpec(
        clip_model=args.clip_model,
        dino_model=args.dino_model,
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        load_threads=args.load_threads,
    )
    runner = None
    if args.ray:
        from lmms_mmvp.mining.ray_encode import ray_runner

        runner = ray_runner(args.ray_address, args.ray_workers, args.ray_gpus_per_worker)
    run = embeddings.encode_source(
        source, args.out / "embeddings", spec, shard_size=args.shard_size, runner=runner
    )
    clip, dino = embeddings.load_precomputed(run.clip_path, run.dino_path)
    rows = run.rows.tolist()  # source row of each embedding row
    return MiningInput(
        clip,
        dino,
        [source.ids[row] for row in rows],
        lambda row: source.load(rows[row]),
        run.skipped,
        run.skipped_path,
    )
