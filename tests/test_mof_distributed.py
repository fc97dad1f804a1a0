"""Kill-and-resume and a 2-process data-parallel run (CPU, gloo). Marked slow: subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from mof_models.checkpoints import COMMIT_FILE
from mof_models.train import train
from mof_models.train_config import load_config
from tests.support.mof import (
    REPO,
    TINY_DEBUG,
    tiny_train_overrides,
)

pytestmark = pytest.mark.slow

_KILLED_RUN = """
import sys
from mof_models.train import train
from mof_models.train_config import load_config
from tests.support.mof import KillAfterCommit, TINY_DEBUG
overrides = dict(a.split("=", 1) for a in sys.argv[1:])
overrides = {k: int(v) if v.isdigit() else v for k, v in overrides.items()}
train(load_config(TINY_DEBUG, overrides), callbacks=[KillAfterCommit(4)])
"""


def _cli(overrides: dict) -> list[str]:
    return [f"{k}={v}" for k, v in overrides.items()]


def _log_steps(checkpoint) -> list[int]:
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return [entry["step"] for entry in state["log_history"] if "loss" in entry]


def test_kill_and_resume_continues_from_the_last_complete_checkpoint(tmp_path, synthetic_train_dir):
    data = synthetic_train_dir.mmvp_dir.parent
    steps = {"training.max_steps": 6}
    reference = train(
        load_config(TINY_DEBUG, tiny_train_overrides(tmp_path / "ref", data, **steps))
    )

    overrides = tiny_train_overrides(tmp_path / "killed", data, **steps)
    run = tmp_path / "killed" / "run"
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, *_cli(overrides)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr[-3000:]  # SIGKILL right after checkpoint-4
    assert (run / "checkpoint-4" / COMMIT_FILE).is_file() and not (run / "final").exists()
    half_written = run / "checkpoint-6"  # what a kill during the next save leaves behind
    half_written.mkdir()
    (half_written / "model.safetensors").write_bytes(b"truncated")

    final = train(load_config(TINY_DEBUG, overrides))
    assert (run / "checkpoint-6" / "model.safetensors").read_bytes() != b"truncated"
    assert _log_steps(run / "checkpoint-6") == [1, 2, 3, 4, 5, 6]  # 1-4 before the kill
    assert json.loads((final / COMMIT_FILE).read_text())["global_step"] == 6
    resumed, uninterrupted = (
        load_file(final / "model.safetensors"),
        load_file(reference / "model.safetensors"),
    )
    assert resumed.keys() == uninterrupted.keys()
    for key in resumed:  # same data order, RNG and optimizer state as the uninterrupted run
        torch.testing.assert_close(resumed[key], uninterrupted[key], rtol=1e-5, atol=1e-6)


def test_two_process_data_parallel_smoke(tmp_path, synthetic_train_dir):
    out = tmp_path / "ddp"
    overrides = {
        "training.output_dir": str(out),
        "data.json": str(synthetic_train_dir.mmvp_dir / "train.json"),
        "data.image_folder": str(synthetic_train_dir.mmvp_dir),
        "training.max_steps": 2,
        "training.save_steps": 2,
        "training.ddp_backend": "gloo",
    }
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "-m", "mof_models.train", "--config", str(TINY_DEBUG),
        *(arg for pair in _cli(overrides) for arg in ("--set", pair)),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    # 300 records, 8 per device: 19 steps per epoch with 2 processes (38 with one)
    assert state["global_step"] == 2 and state["epoch"] == pytest.approx(2 / 19)
    assert (out / "checkpoint-2" / COMMIT_FILE).is_file()
    assert (out / "final" / "model.safetensors").is_file()


_ZERO3_MIXED_RUN = """
import os, sys
import deepspeed
import torch
from mof_models.data import MofDataCollator, build_dataset
from mof_models.tiny import build_tiny_mof
from mof_models.train import configure_trainable

deepspeed.init_distributed(dist_backend="gloo")
rank, folder = int(os.environ["RANK"]), sys.argv[1]
model, processor = build_tiny_mof("interleave", seed=2)
model = configure_trainable(model, 2)
question = "<image>\\nUp?" if rank == 0 else "Up?"  # rank 1: a text-only micro-batch
record = {"conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": "No"}]}
if rank == 0:
    record["image"] = "a.jpg"
dataset = build_dataset([record], processor, image_folder=folder, conversation_format="chat",
                        max_length=64)
batch = MofDataCollator(processor.tokenizer.pad_token_id)([dataset[0]])
config = {"train_micro_batch_size_per_gpu": 1, "zero_optimization": {"stage": 3},
          "optimizer": {"type": "AdamW", "params": {"lr": 1e-3, "torch_adam": True}}}
trainable = [p for p in model.parameters() if p.requires_grad]
engine, *_ = deepspeed.initialize(model=model, model_parameters=trainable, config=config)
engine.train()
for step in range(2):
    engine.backward(engine(**batch).loss)
    engine.step()
print(f"rank {rank}: 2 steps", flush=True)
engine.destroy()  # an orderly teardown: gloo aborts at exit when its group is left alive
torch.distributed.destroy_process_group()
"""


def test_zero3_with_a_text_only_rank(tmp_path):
    """ZeRO-3 gathers each module's weights collectively: a rank whose micro-batch has no image
    must run the towers and adapters too, or the ranks' collectives differ (a hang on GPUs; a
    size-mismatch abort with gloo on CPU)."""
    from tests.support.mof import images

    images(1)[0].save(tmp_path / "a.jpg")
    script = tmp_path / "zero3_mixed.py"
    script.write_text(_ZERO3_MIXED_RUN)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        str(script), str(tmp_path),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "rank 0: 2 steps" in done.stdout and "rank 1: 2 steps" in done.stdout
