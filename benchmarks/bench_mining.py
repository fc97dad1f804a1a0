"""CLIP-blind pair search at scale: ``mmvp mine``'s search on random and on web-shaped data.

    nice python benchmarks/bench_mining.py          # both data kinds, N = 2e4, 1e5, 1e6 (~40 min)
    nice python benchmarks/bench_mining.py --data clustered --sizes 1000000 --sweep 1000000

Data: float32 embeddings, 768-d "CLIP" (ViT-L/14's projection) and 1024-d "DINOv2" (ViT-L/14's
pooled output), from a seeded RNG (``tests/support/mining.py``):
- ``random``: Gaussian rows (cosines about 0 +- 0.04) with planted CLIP-blind pairs (CLIP cosine
  0.955-0.99, DINOv2 independent); the planted pairs are the only pairs above 0.95.
- ``clustered``: web-shaped: topics (CLIP cosine about 0.35 across, 0.6 within) and 20 % of the
  images in near-duplicate groups of 2 to 300 (power law, three of 300) whose pairs sit at CLIP
  cosine 0.94-0.99, with CLIP-blind pairs inside the groups (DINOv2 sub-groups far apart).

Ground truth, exact: for ``random`` the planted pairs; for ``clustered`` every pair inside each
group, with the cosines ``mmvp mine`` computes, plus a check that no pair outside the groups is
above the threshold (``outside``: pairs above 0.95 found by exhaustive comparison of 1,000 random
rows with all rows and absent from the truth; must be 0). Recall = CLIP-blind pairs found before
the output cap / true ones; ``clip_recall`` = pairs above the CLIP threshold found / true ones
(what IVF loses at cell boundaries); ``extra`` = reported pairs not in the truth (must be 0).
Methods: ``flat`` (exact), ``ivf`` (the default above 50k images; with ``--sweep N`` also at
nprobe 1, 2, 4, 8, 16 on clustered data of size N) and ``knn``, the top-k search ``mmvp mine``
used before (FAISS ``IndexFlatIP``, k = 10 neighbours, up to ``--baseline-max`` images).

Each data set is generated once into a temporary folder by a child process; each measurement runs
in its own child process reading it memory-mapped (as ``mmvp mine --clip-embeddings`` does), so
its peak RSS (``ru_maxrss``) is its own. ``data_mib`` is the RSS once the embeddings are read
(N x 1792 x 4 bytes), ``peak_mib`` the peak of the whole search. Wall and CPU time (user + system,
all threads) cover the search only; ``load`` is the 1-minute load average at the end (on shared
cores wall time overstates the search's own cost; CPU time less so).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lmms_mmvp.mining.search import (  # noqa: E402
    EXACT_LIMIT,
    SearchConfig,
    find_clip_blind_pairs,
    normalised,
    pair_cosines,
)
from tests.support.mining import (  # noqa: E402
    clustered_embeddings,
    exact_group_pairs,
    planted_embeddings,
)

CHECK_ROWS = 1000  # rows compared with all others to confirm the clustered truth
BASELINE_K = 10  # the former default of mmvp mine --k
COLUMNS = ("data n method nlist nprobe wall_s cpu_s load data_mib peak_mib clip_pairs "
           "clip_recall blind recall extra written capped").split()  # fmt: skip


def prepare(data: str, n: int, seed: int, folder: Path) -> dict:
    """Write ``clip.npy``, ``dino.npy`` and the true pairs (``first * n + second`` keys)."""
    config = SearchConfig()
    if data == "random":
        clip, dino, planted = planted_embeddings(n, max(100, min(1000, n // 20)), seed=seed)
        blind = np.sort(planted[:, 0].astype(np.int64) * n + planted[:, 1])
        clip_keys, outside = blind, 0
    else:
        clip, dino, groups = clustered_embeddings(n, seed=seed)
        clip_keys, blind = exact_group_pairs(clip, dino, groups, config)
        outside = _pairs_outside(clip, clip_keys, config.clip_threshold, seed)
    for name, array in (("clip", clip), ("dino", dino), ("clip_keys", clip_keys), ("blind", blind)):
        np.save(folder / f"{name}.npy", array)
    return {"clip_pairs": len(clip_keys), "blind": len(blind), "outside": outside}


def _pairs_outside(clip, clip_keys, threshold: float, seed: int) -> int:
    """Pairs above the threshold between ``CHECK_ROWS`` random rows and all rows, not in the
    truth."""
    n = len(clip)
    rows = np.sort(np.random.default_rng(seed + 1).choice(n, min(CHECK_ROWS, n), replace=False))
    sample, missing = normalised(clip[rows]), 0
    for start in range(0, n, 65_536):
        scores = sample @ normalised(clip[start : start + 65_536]).T
        i, j = np.nonzero(scores > threshold - 1e-3)
        first, second = rows[i], start + j
        keep = (first != second) & (pair_cosines(clip, first, second, "CLIP") > threshold)
        a, b = np.minimum(first, second)[keep], np.maximum(first, second)[keep]
        missing += int((~np.isin(a.astype(np.int64) * n + b, clip_keys)).sum())
    return missing


def measure(folder: Path, method: str, nprobe: int, seed: int) -> dict:
    clip, dino = (np.load(folder / f"{name}.npy", mmap_mode="r") for name in ("clip", "dino"))
    clip_keys, blind = (np.load(folder / f"{name}.npy") for name in ("clip_keys", "blind"))
    np.asarray(clip).sum(), np.asarray(dino).sum()  # read the embeddings before timing
    data_rss, n = _rss_mib(), len(clip)
    config = SearchConfig(index="flat" if method == "knn" else method, nprobe=nprobe, seed=seed)
    found: list[np.ndarray] = []
    start, cpu_start = time.perf_counter(), _cpu_s()
    if method == "knn":
        found_clip = knn_baseline(clip, dino, config, found)
        index, nlist, used_nprobe, written, capped = "knn", "", "", "", ""
    else:
        result = find_clip_blind_pairs(
            clip, dino, config, on_block=lambda b: found.append(b.first * n + b.second)
        )
        found_clip, written, capped = result.counts.clip_pairs, len(result), result.capped
        index, nlist, used_nprobe = result.index, result.nlist or "", result.nprobe or ""
    wall, cpu = time.perf_counter() - start, _cpu_s() - cpu_start
    keys = np.concatenate(found) if found else np.empty(0, np.int64)
    return {
        "n": n,
        "method": index,
        "nlist": nlist,
        "nprobe": used_nprobe,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "load": round(os.getloadavg()[0], 1),  # other processes share the cores
        "data_mib": round(data_rss),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "clip_pairs": len(clip_keys),
        "clip_recall": round(found_clip / max(1, len(clip_keys)), 5),
        "blind": len(blind),
        "recall": round(np.isin(blind, keys).mean(), 5) if len(blind) else 1.0,
        "extra": int((~np.isin(keys, blind)).sum()),
        "written": written,
        "capped": capped,
    }


def knn_baseline(clip, dino, config: SearchConfig, found: list) -> int:
    """The former search: each image's ``BASELINE_K`` nearest CLIP neighbours (exact FAISS
    ``IndexFlatIP``), then the same tests; returns the pairs above the CLIP threshold found."""
    import faiss

    n = len(clip)
    index = faiss.IndexFlatIP(clip.shape[1])
    for start in range(0, n, 65_536):
        index.add(normalised(clip[start : start + 65_536]))
    keys = []
    for start in range(0, n, 16_384):
        _, neighbours = index.search(normalised(clip[start : start + 16_384]), BASELINE_K + 1)
        rows = np.arange(start, start + len(neighbours))[:, None]
        ok = (neighbours >= 0) & (neighbours != rows)
        a, b = np.minimum(rows, neighbours)[ok], np.maximum(rows, neighbours)[ok]
        keys.append(np.unique(a.astype(np.int64) * n + b))
    keys = np.unique(np.concatenate(keys))
    first, second = keys // n, keys % n
    clip_cos = pair_cosines(clip, first, second, "CLIP")
    above = clip_cos > config.clip_threshold
    first, second, clip_cos = first[above], second[above], clip_cos[above]
    dino_cos = pair_cosines(dino, first, second, "DINOv2")
    duplicate = (clip_cos >= config.duplicate_threshold) & (dino_cos >= config.duplicate_threshold)
    blind = (dino_cos < config.dino_threshold) & ~duplicate
    found.append(first[blind] * n + second[blind])
    return int(above.sum())


def _cpu_s() -> float:
    """User + system CPU seconds of this process (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def run_child(*args) -> dict:
    command = [sys.executable, __file__, "--child", *map(str, args)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def plan(args, n: int) -> list[tuple[str, int]]:
    runs = [("knn", 0)] if n <= args.baseline_max else []
    runs += [("flat", 0)] if n <= args.flat_max else []
    if n > EXACT_LIMIT or n in args.sweep:
        runs.append(("ivf", args.nprobe))
    if n in args.sweep:
        runs += [("ivf", p) for p in (1, 2, 4, 8, 16) if p != args.nprobe]
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", choices=("random", "clustered"),
                        default=["random", "clustered"])  # fmt: skip
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000, 1_000_000])
    parser.add_argument("--baseline-max", type=int, default=100_000, help="largest knn run")
    parser.add_argument("--flat-max", type=int, default=100_000, help="largest exact run")
    parser.add_argument("--nprobe", type=int, default=SearchConfig.nprobe)
    parser.add_argument("--sweep", type=int, nargs="*", default=[100_000],
                        help="sizes measured at nprobe 1-16 (clustered data)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="for the generated data")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "prepare":
            data, n, seed, folder = rest
            print(json.dumps(prepare(data, int(n), int(seed), Path(folder))))
        else:
            folder, method, nprobe, seed = rest
            print(json.dumps(measure(Path(folder), method, int(nprobe), int(seed))))
        return
    print("| " + " | ".join(COLUMNS) + " | outside |")
    print("|" + "---|" * (len(COLUMNS) + 1))
    for data in args.data:
        for n in args.sizes:
            folder = Path(tempfile.mkdtemp(prefix=f"bench_mining_{data}_{n}_", dir=args.workdir))
            try:
                truth = run_child("prepare", data, n, args.seed, folder)
                sweep = args.sweep if data == "clustered" else []
                for method, nprobe in plan(argparse.Namespace(**{**vars(args), "sweep": sweep}), n):
                    row = {"data": data, **run_child("measure", folder, method, nprobe, args.seed)}
                    cells = [str(row[c]) for c in COLUMNS] + [str(truth["outside"])]
                    print("| " + " | ".join(cells) + " |", flush=True)
            finally:
                shutil.rmtree(folder)


if __name__ == "__main__":
    main()
