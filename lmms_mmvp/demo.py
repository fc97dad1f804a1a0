"""``mmvp demo``: the whole pipeline, offline, in a few minutes on a laptop CPU.

    mmvp demo                                   # tiny I-MoF, trained briefly, then evaluated
    mmvp demo --mode clip_only --steps 1200     # compare mixing modes on the synthetic set

Synthetic MMVP evaluation data (``mmvp synth``, seed 0) -> a tiny Mixture-of-Features model trained
on *other* synthetic sets (seeds 1, 2, ...: no image or question of the evaluation set), written
as LLaVA conversation JSON and read by ``mof_models.train`` -> the real ``lmms-eval`` CLI with the
``mof_llava`` model on ``mmvp`` and its two ablations -> the results file checked and printed with
chance levels and per-pattern pair accuracy. Data and checkpoints are reused on later runs. The
synthetic set is a smoke test, not MMVP: a tiny model's scores on it say nothing about MMVP.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from lmms_mmvp import results
from mmvp_tasks.synth import ensure_synthetic_data

logger = logging.getLogger(__name__)

TRAIN_SEEDS = (1, 2, 3, 4)  # the evaluation set is seed 0
DEFAULT_STEPS = 600
IMAGE_SIZE = 64  # pixels of the generated images (the tiny model sees them at 32 px)


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


def write_training_json(workdir: Path, seeds=TRAIN_SEEDS) -> Path:
    """One LLaVA JSON over the synthetic sets of ``seeds``, image paths relative to ``workdir``."""
    records = []
    for seed in seeds:
        mmvp_dir = ensure_synthetic_data(
            workdir / f"train-data-{seed}", seed=seed, image_size=IMAGE_SIZE
        ).mmvp_dir
        for record in json.loads((mmvp_dir / "train.json").read_text()):
            image = (mmvp_dir / record["image"]).relative_to(workdir)
            records.append({**record, "id": f"{seed}-{record['id']}", "image": str(image)})
    path = workdir / "train.json"
    path.write_text(json.dumps(records))
    return path


def train_tiny_mof(workdir: Path, mode: str, steps: int) -> Path:
    from mof_models.tiny import build_trained_tiny_mof

    train_json = write_training_json(workdir)
    return build_trained_tiny_mof(
        workdir / f"tiny-mof-{mode}-{steps}",
        train_json,
        workdir,
        mixing=mode,
        steps=steps,
        **{"training.per_device_train_batch_size": 16, "training.learning_rate": 1e-3},
    )


def run_demo(
    workdir: Path,
    *,
    tasks: str = "mmvp_ablation",
    limit: int | None = None,
    mode: str = "interleave",
    steps: int = DEFAULT_STEPS,
) -> int:
    started = time.time()
    data = ensure_synthetic_data(workdir / "data", seed=0, image_size=IMAGE_SIZE)
    checkpoint = train_tiny_mof(workdir, mode, steps)
    output = workdir / "results"
    env = {**os.environ, "MMVP_DATA_DIR": str(data.mmvp_dir), "HF_HUB_OFFLINE": "1"}
    command = lmms_eval_command(checkpoint, tasks, output, limit, model="mof_llava")
    logger.info("running: %s", " ".join(command))
    evaluation_started = time.time()
    completed = subprocess.run(command, env=env)
    if completed.returncode != 0:
        logger.error("lmms-eval exited with %d", completed.returncode)
        return completed.returncode
    path = results.newest_results_file(output)
    if path.stat().st_mtime < evaluation_started:
        raise results.ResultsError(f"lmms-eval wrote no new results under {output}")
    report = results.load(path)
    requested = tasks.split(",")
    print(f"\nResults of a tiny {mode} MoF trained {steps} steps ({path}):\n")
    print(results.format_table(results.mmvp_rows(report, requested)))
    print(f"\n{results.CHANCE_LEVELS}\n")
    print(results.format_pattern_table(report, results.expand_tasks(report, requested)))
    print(f"\n{results.format_provenance(report, results.expand_tasks(report, requested)[0])}")
    print(f"\nTotal {time.time() - started:.0f} s. A smoke test on synthetic data, not MMVP.")
    return 0
