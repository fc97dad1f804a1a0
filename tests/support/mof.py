"""Helpers of the MoF tests and benchmarks (their fixtures are in tests/conftest.py)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from transformers import TrainerCallback

from mof_models.processing_mof import needs_special_tokens

MIXINGS = ("interleave", "additive", "clip_only", "dino_only")
REPO = Path(__file__).resolve().parents[2]
TINY_DEBUG = REPO / "mof_models" / "configs" / "tiny_debug.yaml"


def images(n: int, size: int = 40):
    from PIL import Image

    return [Image.new("RGB", (size, size - 8), (30 * i % 256, 90, 200 - 20 * i)) for i in range(n)]


def chat_inputs(processor, prompts: list[str], n_images: int | None = None):
    """Left-padded batch: each prompt with one image, through the chat template."""
    texts = [
        processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": p}]}],
            add_generation_prompt=True,
            tokenize=False,
        )
        for p in prompts
    ]
    pics = images(n_images if n_images is not None else len(prompts))
    return processor(
        images=pics,
        text=texts,
        padding=True,
        add_special_tokens=needs_special_tokens(processor.tokenizer, texts[0]),
        return_tensors="pt",
    )


def tiny_train_overrides(tmp: Path, data_dir: Path, **extra) -> dict:
    """Overrides of the debug config for a fast, deterministic test run under ``tmp``."""
    overrides = {
        "training.output_dir": str(tmp / "run"),
        "data.json": str(data_dir / "mmvp" / "train.json"),  # written by mmvp_tasks.synth
        "data.image_folder": str(data_dir / "mmvp"),
        "training.max_steps": 4,
        "training.save_steps": 2,
        "training.logging_steps": 1,
        "training.per_device_train_batch_size": 4,
        "training.disable_tqdm": True,
    }
    return {**overrides, **extra}


class KillAfterCommit(TrainerCallback):
    """SIGKILL this process right after checkpoint ``step`` is committed (a deterministic kill)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        from mof_models.checkpoints import COMMIT_FILE

        marker = Path(args.output_dir) / f"checkpoint-{state.global_step}" / COMMIT_FILE
        if state.global_step == self.step and marker.is_file():
            os.kill(os.getpid(), signal.SIGKILL)
