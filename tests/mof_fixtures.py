"""Fixtures and helpers of the MoF tests (tiny random models built once per session).

Fixtures are registered under their ``name=``; a test module imports the ``*_fixture`` functions
(``# noqa: F401``) and requests the fixtures by name.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from transformers import TrainerCallback

MIXINGS = ("interleave", "additive", "clip_only", "dino_only")
REPO = Path(__file__).resolve().parents[1]
TINY_DEBUG = REPO / "mof_models" / "configs" / "tiny_debug.yaml"


@pytest.fixture(scope="session", name="tiny_mof_models")
def tiny_mof_models_fixture():
    """``{mixing: (model, processor)}``, eval mode, shared: tests must not modify them."""
    from mof_models.tiny import build_tiny_mof

    return {mixing: build_tiny_mof(mixing, seed=1) for mixing in MIXINGS}


@pytest.fixture(scope="session", name="tiny_mof_dir")
def tiny_mof_dir_fixture(tmp_path_factory) -> Path:
    """A saved tiny I-MoF checkpoint (read-only for tests)."""
    from mof_models.tiny import save_tiny_mof

    return save_tiny_mof(tmp_path_factory.mktemp("tiny_mof"), "interleave")


@pytest.fixture(scope="session", name="synthetic_train_dir")
def synthetic_train_dir_fixture(tmp_path_factory) -> Path:
    """Synthetic MMVP-layout training data (seed 1, 64 px)."""
    from mmvp_tasks.synth import ensure_synthetic_data

    return ensure_synthetic_data(tmp_path_factory.mktemp("mof_train_data"), seed=1, image_size=64)


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
    return processor(images=pics, text=texts, padding=True, return_tensors="pt")


def tiny_train_overrides(tmp: Path, data_dir: Path, **extra) -> dict:
    """Overrides of the debug config for a fast, deterministic test run under ``tmp``."""
    overrides = {
        "training.output_dir": str(tmp / "run"),
        "data.synthetic.dir": str(data_dir),
        "data.synthetic.seed": 1,
        "data.synthetic.image_size": 64,
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
