"""Checkpoints that survive a kill: commit markers, pruning, resume point, the final model.

The Trainer writes ``checkpoint-N`` in place; once every rank is done, rank 0 writes
``mof_checkpoint_complete.json`` into it atomically (temp file + rename). Only committed
checkpoints are resumed from or count for ``save_total_limit``, and pruning runs after the
commit, so a complete checkpoint always exists. ``final`` is written to a staging directory and
renamed into place.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import torch
from transformers import TrainerCallback

logger = logging.getLogger(__name__)

COMMIT_FILE = "mof_checkpoint_complete.json"  # written last, atomically: the checkpoint is whole
FINAL_DIR = "final"


class CheckpointCommitCallback(TrainerCallback):
    """After every rank wrote ``checkpoint-N``: mark it complete, then prune old ones."""

    def __init__(self, keep: int | None) -> None:
        self.keep = keep

    def on_save(self, args, state, control, **kwargs):
        barrier()
        if state.is_world_process_zero:
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            _write_atomic(checkpoint / COMMIT_FILE, {"global_step": state.global_step})
            _prune_checkpoints(Path(args.output_dir), self.keep)
        barrier()


def barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def _write_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)


def checkpoints(output_dir: Path) -> list[tuple[int, Path, bool]]:
    """``(step, path, complete)`` of every ``checkpoint-N`` under ``output_dir``, by step."""
    found = []
    for path in output_dir.glob("checkpoint-*"):
        step = path.name.removeprefix("checkpoint-")
        if path.is_dir() and step.isdigit():
            found.append((int(step), path, (path / COMMIT_FILE).is_file()))
    return sorted(found)


def last_complete_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    complete = [path for _, path, ok in checkpoints(Path(output_dir)) if ok]
    return complete[-1] if complete else None


def _prune_checkpoints(output_dir: Path, keep: int | None) -> None:
    """Keep the newest ``keep`` complete checkpoints; never touch a newer incomplete one."""
    if not keep:
        return
    complete = [path for _, path, ok in checkpoints(output_dir) if ok]
    for path in complete[:-keep]:
        shutil.rmtree(path)


def discard_incomplete(output_dir: Path) -> None:
    """Checkpoints a killed run left half-written would be overwritten file by file: remove."""
    for _, path, ok in checkpoints(output_dir):
        if not ok:
            logger.warning("removing incomplete checkpoint %s (the run was interrupted)", path)
            shutil.rmtree(path)


def save_final(trainer, processor, output_dir: Path) -> Path:
    """Write ``final/`` (merged weights, config, processor, chat template) via a staging dir."""
    final, staging = output_dir / FINAL_DIR, output_dir / f"{FINAL_DIR}.partial"
    main = trainer.args.process_index == 0
    if main:
        shutil.rmtree(staging, ignore_errors=True)
    barrier()
    if _is_peft(trainer.model):
        if main:
            trainer.model.merge_and_unload().save_pretrained(staging)
            processor.save_pretrained(staging)
    else:
        trainer.save_model(str(staging))  # every rank: ZeRO-3 gathers the weights here
    barrier()
    if main:
        (staging / "training_args.bin").unlink(missing_ok=True)
        _write_atomic(staging / COMMIT_FILE, {"global_step": trainer.state.global_step})
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        logger.info("final model: %s", final)
    barrier()
    return final


def _is_peft(model) -> bool:
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)
