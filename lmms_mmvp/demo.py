"""``mmvp demo``: the whole pipeline, offline, in about five minutes on a 2-core CPU.

    mmvp demo                                   # tiny I-MoF, trained, then evaluated
    mmvp demo --mode clip_only                  # compare mixing modes on the synthetic set
    mmvp demo --steps 3000                      # train longer

Synthetic MMVP evaluation data (``mmvp synth``, seed 0) -> a tiny Mixture-of-Features model
trained (``mof_models.train``, config ``tiny_demo.yaml``) on synthetic sets of *other* seeds (no
image or question of the evaluation set), written as LLaVA conversation JSON -> the real
``lmms-eval`` CLI with the ``mof_llava`` model on ``mmvp`` and its two ablations -> the results
file checked and printed with chance levels, per-pattern pair accuracy and provenance. Data and
checkpoints are reused on later runs.

The training conversations ask the ``mmvp`` task's question and answer with the option's *text*
("Closed"), not its letter: choosing a letter means matching what the model sees against the
order in which the options were listed, which a 2-layer model does not learn in minutes; naming
what it sees, it does. The task's answer reader accepts option text, as a careful grader does.
The synthetic set is a smoke test, not MMVP: scores on it say nothing about MMVP.
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
from mmvp_tasks.answers import answer_label, parse_options
from mmvp_tasks.data import read_questions
from mmvp_tasks.prompts import LETTER_POST_PROMPT, choice_prompt
from mmvp_tasks.synth import ensure_synthetic_data

logger = logging.getLogger(__name__)

EVAL_SEED = 0
TRAIN_SEEDS = range(1, 21)  # 20 sets x 300 questions = 6000 training conversations
DEFAULT_STEPS = 1500
IMAGE_SIZE = 64  # pixels of the generated images
# Tiny models: one thread each; OpenMP hand-offs dominate on a busy 2-core machine otherwise.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


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


def training_conversation(question, image: Path) -> dict:
    """A LLaVA record: the ``mmvp`` task's prompt, answered with the correct option's text."""
    options = parse_options(question.options)
    answer = next(o.text for o in options if o.label == answer_label(question.correct_answer))
    prompt = choice_prompt(question.question, options, post_prompt=LETTER_POST_PROMPT)
    return {
        "image": str(image),
        "conversations": [
            {"from": "human", "value": f"<image>\n{prompt}"},
            {"from": "gpt", "value": answer},
        ],
    }


def write_training_data(workdir: Path) -> tuple[Path, Path]:
    """``(train.json, corpus.txt)`` over the synthetic sets of ``TRAIN_SEEDS``; image paths are
    relative to ``workdir``; the corpus (prompts and answers) trains the tiny tokenizer."""
    records = []
    for seed in TRAIN_SEEDS:
        paths = ensure_synthetic_data(
            workdir / f"train-data-{seed}", seed=seed, image_size=IMAGE_SIZE
        )
        for q in read_questions(paths.mmvp_dir, answer_key="original"):
            record = training_conversation(q, q.image_path.relative_to(workdir))
            records.append({"id": f"{seed}-{q.index}", **record})
    train_json, corpus = workdir / "train.json", workdir / "corpus.txt"
    train_json.write_text(json.dumps(records))
    corpus.write_text(
        "\n".join(" ".join(turn["value"] for turn in r["conversations"]) for r in records)
    )
    return train_json, corpus


def train_tiny_mof(workdir: Path, mode: str, steps: int) -> Path:
    import torch

    torch.set_num_threads(1)
    train_json, corpus = write_training_data(workdir)
    return train_tiny_checkpoint(
        workdir / f"tiny-mof-{mode}-{steps}",
        train_json,
        workdir,
        mixing=mode,
        steps=steps,
        config="tiny_demo.yaml",
        **{"model.tiny.tokenizer_corpus": str(corpus)},
    )


def train_tiny_checkpoint(
    workdir: str | Path,
    train_json: str | Path,
    image_folder: str | Path,
    *,
    mixing: str = "interleave",
    steps: int = 20,
    config: str = "tiny_debug.yaml",
    **overrides,
) -> Path:
    """Train a tiny MoF with ``config`` (of ``mof_models/configs``) on LLaVA-format data; return
    ``workdir/final`` (reused if present). ``overrides`` are extra ``--set`` style config keys."""
    from mof_models.checkpoints import FINAL_DIR
    from mof_models.train import train
    from mof_models.train_config import PACKAGE_DIR, load_config

    workdir = Path(workdir)
    final = workdir / FINAL_DIR
    if (final / "config.json").is_file():
        return final
    settings = load_config(
        PACKAGE_DIR / "configs" / config,
        overrides={
            "model.tiny.mixing": mixing,
            "data.json": str(train_json),
            "data.image_folder": str(image_folder),
            "training.output_dir": str(workdir),
            "training.max_steps": steps,
            "training.save_steps": steps,
            **overrides,
        },
    )
    return train(settings)


def run_demo(
    workdir: Path,
    *,
    tasks: str = "mmvp_ablation",
    limit: int | None = None,
    mode: str = "interleave",
    steps: int = DEFAULT_STEPS,
) -> int:
    started = time.time()
    data = ensure_synthetic_data(workdir / "data", seed=EVAL_SEED, image_size=IMAGE_SIZE)
    checkpoint = train_tiny_mof(workdir, mode, steps)
    trained = time.time()
    output = workdir / "results"
    env = {**os.environ, **ONE_THREAD, "MMVP_DATA_DIR": str(data.mmvp_dir), "HF_HUB_OFFLINE": "1"}
    command = lmms_eval_command(checkpoint, tasks, output, limit, model="mof_llava")
    logger.info("running: %s", " ".join(command))
    completed = subprocess.run(command, env=env)
    if completed.returncode != 0:
        logger.error("lmms-eval exited with %d", completed.returncode)
        return completed.returncode
    path = results.newest_results_file(output)
    if path.stat().st_mtime < trained:
        raise results.ResultsError(f"lmms-eval wrote no new results under {output}")
    print(report(results.load(path), path, tasks.split(","), mode, steps))
    print(f"\nTotal {time.time() - started:.0f} s (training and data {trained - started:.0f} s).")
    return 0


def report(data: dict, path: Path, requested: list[str], mode: str, steps: int) -> str:
    tasks = results.expand_tasks(data, requested)
    return "\n\n".join(
        (
            f"\nResults of a tiny {mode} MoF trained {steps} steps ({path}):",
            results.format_table(results.mmvp_rows(data, requested)),
            results.CHANCE_LEVELS,
            results.format_pattern_table(data, tasks),
            results.format_provenance(data, tasks[0]),
            "A smoke test on synthetic data, not MMVP: the numbers show that the path works.",
        )
    )
