"""CLIP-blind pair search at scale: ``mmvp mine``'s FAISS search vs a NumPy all-pairs baseline.

    python benchmarks/bench_mining.py                              # N = 1e4, 1e5, 1e6
    python benchmarks/bench_mining.py --sizes 10000 100000 --sweep 100000   # + nprobe sweep

Synthetic embeddings, float32, generated in chunks from a seeded RNG: random Gaussian background
rows (768-d "CLIP", 1024-d "DINOv2"; in high dimension these are nearly orthogonal, cosines around
0 +- 0.04) and planted CLIP-blind pairs whose CLIP rows are rotated copies of each other (cosine
uniform in 0.955-0.99) and whose DINOv2 rows are independent (cosine about 0). The planted pairs
are therefore exactly the pairs an exact search must report.

Each measurement runs in its own child process, so its peak RSS (``ru_maxrss``) is its own; the
RSS after generating the data is reported too (the embeddings themselves: N x 1792 x 4 bytes).
Wall and CPU time (user + system, all threads) cover the search only (index build, queries,
DINOv2 rescoring), not the generation; ``load`` is the 1-minute load average at the end (the 2
cores are shared: wall time on a busy machine overstates the search's own cost).
Methods: ``numpy`` (both N x N similarity matrices, thresholded: the straightforward baseline, run
only up to ``--baseline-max``), ``flat`` (exact FAISS search, up to ``--flat-max``), ``ivf`` (the
default above 50k vectors). Recall = planted pairs found / planted pairs; ``extra`` = reported
pairs that were not planted (must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lmms_mmvp.mining.search import (  # noqa: E402
    SearchConfig,
    find_clip_blind_pairs,
    index_kind,
    normalised,
)
from tests.support.mining import planted_embeddings  # noqa: E402


def numpy_all_pairs(clip: np.ndarray, dino: np.ndarray, config: SearchConfig) -> np.ndarray:
    """The straightforward baseline: both N x N cosine matrices, thresholded, upper triangle."""
    clip_sim = normalised(clip) @ normalised(clip).T
    dino_sim = normalised(dino) @ normalised(dino).T
    mask = (clip_sim > config.clip_threshold) & (dino_sim < config.dino_threshold)
    first, second = np.nonzero(np.triu(mask, k=1))
    return np.stack([first, second], axis=1)


def measure(n: int, method: str, nprobe: int, projection: int, seed: int) -> dict:
    clip, dino, planted = planted_embeddings(n, planted_count(n), seed=seed)
    data_rss = _rss_mib()
    config = SearchConfig(
        index=method if method != "numpy" else "flat",
        nprobe=nprobe,
        projection_dim=projection or None,
    )
    start, cpu_start = time.perf_counter(), _cpu_s()
    if method == "numpy":
        found = numpy_all_pairs(clip, dino, config)
    else:
        result = find_clip_blind_pairs(clip, dino, config)
        found = np.stack([result.first, result.second], axis=1)
    wall, cpu = time.perf_counter() - start, _cpu_s() - cpu_start
    planted_keys, found_keys = set(map(tuple, planted.tolist())), set(map(tuple, found.tolist()))
    return {
        "n": n,
        "method": method if method == "numpy" else index_kind(n, config),
        "nprobe": nprobe if method == "ivf" else "",
        "dims": (projection or clip.shape[1]) if method == "ivf" else clip.shape[1],
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 1),
        "load": round(os.getloadavg()[0], 1),  # other processes share the 2 cores
        "data_mib": round(data_rss),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "planted": len(planted_keys),
        "recall": len(planted_keys & found_keys) / len(planted_keys),
        "extra": len(found_keys - planted_keys),
    }


def planted_count(n: int) -> int:
    return max(100, min(1000, n // 20))


def _cpu_s() -> float:
    """User + system CPU seconds of this process (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def run_child(n: int, method: str, nprobe: int, projection: int, seed: int) -> dict:
    command = [sys.executable, __file__, "--child"] + [
        str(v) for v in (n, method, nprobe, projection, seed)
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def plan(args) -> list[tuple[int, str, int]]:
    runs = []
    for n in args.sizes:
        if n <= args.baseline_max:
            runs.append((n, "numpy", 0))
        if n <= args.flat_max:
            runs.append((n, "flat", 0))
        if n > 50_000 or n in args.sweep:
            runs.append((n, "ivf", args.nprobe))
    for n in args.sweep:
        runs += [(n, "ivf", p) for p in (2, 4, 8, 16, 32) if p != args.nprobe]
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--baseline-max", type=int, default=20_000, help="largest NumPy run")
    parser.add_argument("--flat-max", type=int, default=100_000, help="largest exact FAISS run")
    parser.add_argument("--nprobe", type=int, default=SearchConfig.nprobe)
    parser.add_argument("--sweep", type=int, nargs="*", default=[], help="sizes for nprobe 1-16")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--projection-dim", type=int, default=SearchConfig.projection_dim,
                        help="IVF random rotation dims (0: none)")  # fmt: skip
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        n, method, nprobe, projection, seed = args.child
        print(json.dumps(measure(int(n), method, int(nprobe), int(projection), int(seed))))
        return
    columns = "n method nprobe dims wall_s cpu_s load data_mib peak_mib planted recall extra"
    columns = columns.split()
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for n, method, nprobe in plan(args):
        row = run_child(n, method, nprobe, args.projection_dim, args.seed)
        print("| " + " | ".join(str(row[c]) for c in columns) + " |", flush=True)


if __name__ == "__main__":
    main()
