"""MMVP-VLM scoring: this package's batched scorer vs the original per-pair loop, on CPU.

    python benchmarks/bench_vlm_scoring.py                 # ViT-B/16-sized CLIP, 270 statements
    python benchmarks/bench_vlm_scoring.py --threads 1     # CPU time robust to a busy machine

A CLIPModel with a ViT-B/16 image tower (768 wide, 12 layers, 224 px, patch 16) and a CLIP-B text
tower (512 wide, ``--text-layers`` layers) is built from config with random weights, and the
synthetic MMVP-VLM set (``mmvp synth``, 270 statements) is scored twice in one run:

(a) ``batched``: the code path of the ``mmvp_clip`` adapter (:func:`model_adapters.clip.
    image_text_logits` over the task's (statement, image) documents, then
    :mod:`mmvp_tasks.vlm_scoring`): every image and every statement encoded once, in batches;
(b) ``original``: :func:`original_pair_loop`, a re-implementation of the paper's evaluate_vlm.py
    loop: per pair, both images preprocessed, then two forward calls (one per statement, padded
    to 77 tokens), each re-encoding both images.

The two alternate pattern block by pattern block (30 statements each), so that other processes'
load on a shared machine hits both alike; wall and CPU time are summed per scorer. The per-pattern
scores must be identical. Floor: one encode per image and per statement. (b) encodes every image
twice, so on image work alone the ratio is about 2x; batching (about 1.3x per image on 2 CPU
cores, much more on a GPU) and 77-token vs batch-longest text padding add the rest.

The reference loop and the tiny CLIP builder live in ``tests/support/vlm_reference.py``, shared
with ``tests/test_clip_adapter.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mmvp_tasks.patterns import PATTERNS  # noqa: E402
from tests.support.vlm_reference import (  # noqa: E402
    batched_logits,
    build_clip,
    original_choices,
    original_tally,
    read_rows,
)

# ----------------------------------------------------------------------------- benchmark


def timed_runs(model, image_processor, tokenizer, data_dir, batch_size: int):
    """Both scorers, alternating pattern block by pattern block (30 statements each) so that load
    from other processes on a shared machine hits both alike. Returns scores and seconds."""
    from mmvp_tasks import vlm_scoring
    from mmvp_tasks.vlm_data import read_statements, scoring_documents
    from model_adapters.clip import TransformersEncoder

    encoder = TransformersEncoder(model, image_processor, tokenizer)
    documents = scoring_documents(read_statements(data_dir))
    rows = read_rows(data_dir)
    records, chosen = [], {}
    seconds = {name: {"wall": 0.0, "cpu": 0.0} for name in ("batched", "original")}
    for block in range(len(PATTERNS)):
        block_rows = rows[30 * block : 30 * (block + 1)]
        ids = {int(row[0]) for row in block_rows}
        block_docs = [d for d in documents if d["Question ID"] in ids]
        with _clock(seconds["batched"]):
            logits = batched_logits(encoder, block_docs, batch_size)
        records += [vlm_scoring.make_record(d, s) for d, s in zip(block_docs, logits, strict=True)]
        with _clock(seconds["original"]):
            chosen |= original_choices(model, tokenizer, data_dir, block_rows)
        print(f"  block {block + 1}/9: {_fmt(seconds)}", flush=True)
    scores = {
        "batched": vlm_scoring.pattern_scores(records),
        "original": original_tally(rows, chosen),
    }
    return scores, seconds


@contextlib.contextmanager
def _clock(total: dict[str, float]):
    """Add the block's wall time and this process's CPU time (all threads) to ``total``."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    total["wall"] += time.perf_counter() - wall
    total["cpu"] += time.process_time() - cpu


def _fmt(seconds) -> str:
    return ", ".join(
        f"{k} {v['wall']:.0f} s wall / {v['cpu']:.0f} s CPU" for k, v in seconds.items()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="synthetic data dir (default: a temp dir)")
    parser.add_argument("--batch-size", type=int, default=8)  # best per image on 2 cores
    parser.add_argument("--text-layers", type=int, default=12)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from mmvp_tasks.synth import ensure_synthetic_data

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = ensure_synthetic_data(args.data or tmp).mmvp_vlm_dir
        model, image_processor, tokenizer = build_clip(vit_b16=True, text_layers=args.text_layers)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        print(f"CLIPModel ViT-B/16 image tower, {args.text_layers}-layer text tower: {params:.0f}M")
        print(f"torch threads: {torch.get_num_threads()}, batch size {args.batch_size}")
        scores, seconds = timed_runs(model, image_processor, tokenizer, data_dir, args.batch_size)

    batched, original = scores["batched"], scores["original"]
    print(f"\n{'pattern':<42} {'batched':>8} {'original':>8}")
    for p in PATTERNS:
        print(f"{p.name:<42} {batched[p.code]:8.1f} {original[p.code]:8.1f}")
    identical = batched == original
    print(f"\nidentical per-pattern scores: {identical}")
    for name, what in (
        ("batched", "each image and statement encoded once"),
        ("original", "per pair: 2 calls x 2 images + 1 text"),
    ):
        wall, cpu = seconds[name]["wall"], seconds[name]["cpu"]
        print(f"{name:<8} ({what}): {wall:7.1f} s wall, {cpu:7.1f} s CPU")
    for clock in ("wall", "cpu"):
        ratio = seconds["original"][clock] / seconds["batched"][clock]
        print(f"speed-up ({clock} time): {ratio:.2f}x")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
