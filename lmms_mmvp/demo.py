"""``mmvp demo``: the whole pipeline, offline, in a few minutes on a laptop CPU.

Synthetic MMVP data (``mmvp synth``) -> a tiny Mixture-of-Features checkpoint trained for a few
steps on other synthetic data (``mof_models.train``) -> the real ``lmms-eval`` CLI with the
``mof_llava`` model on ``mmvp`` and its two ablations -> the results file checked and printed as a
table. Data and checkpoint are reused on later runs. A tiny model's answers say nothing about MoF:
the point is the path.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from lmms_mmvp import results
from mmvp_tasks.synth import ensure_synthetic_data

logger = logging.getLogger(__name__)


def lmms_eval_command(
    checkpoint: Path, tasks: str, output: Path, limit: int | None, model: str = "mmvp_llava"
) -> list[str]:
    command = [
        sys.executable, "-m", "lmms_eval",
        "--model", model,
        "--model_args", f"pretrained={checkpoint},device=cpu,dtype=float32",
        "--tasks", tasks,
        "--batch_size", "16",
        "--output_path", str(output),
        "--log_samples",
    ]  # fmt: skip
    return command + (["--limit", str(limit)] if limit else [])


def run_demo(workdir: Path, *, tasks: str = "mmvp_ablation", limit: int | None = None) -> int:
    from mof_models.tiny import build_trained_tiny_mof

    data = ensure_synthetic_data(workdir / "data")
    checkpoint = build_trained_tiny_mof(workdir / "tiny-mof")
    output = workdir / "results"
    env = {**os.environ, "MMVP_DATA_DIR": str(data.mmvp_dir), "HF_HUB_OFFLINE": "1"}
    command = lmms_eval_command(checkpoint, tasks, output, limit, model="mof_llava")
    logger.info("running: %s", " ".join(command))
    started = time.time()
    completed = subprocess.run(command, env=env)
    if completed.returncode != 0:
        logger.error("lmms-eval exited with %d", completed.returncode)
        return completed.returncode
    path = results.newest_results_file(output)
    if path.stat().st_mtime < started:
        raise results.ResultsError(f"lmms-eval wrote no new results under {output}")
    rows = results.mmvp_rows(results.load(path), tasks.split(","))
    print(f"\nResults ({path}):\n\n{results.format_table(rows)}\n")
    return 0
