"""Train MoF models in the paper's two stages with ``transformers.Trainer``.

    python -m mof_models.train --config mof_models/configs/tiny_debug.yaml
    torchrun --nproc_per_node 8 -m mof_models.train --config mof_models/configs/imof224_stage1.yaml
    python -m mof_models.train --config ... --set training.max_steps=10 --set model.build.alpha=0.25

Stage 1 trains only the adapters; stage 2 the adapters and the LM (or LoRA on the LM); the towers
stay frozen (Tong et al. 2024, Sec. 5, following LLaVA-1.5). :func:`configure_trainable` is the
one place that decides this. A run resumes from its newest *complete* checkpoint (each one is
committed by a marker file written after every rank finished writing it) and ends with
``<output_dir>/final``: a complete model directory (weights, config, processor, chat template)
that ``AutoModelForImageTextToText`` / ``AutoProcessor`` load directly. A NaN/inf loss stops the
run with an error. Configs: ``mof_models/configs/*.yaml``, read by :mod:`mof_models.train_config`;
checkpoint handling: :mod:`mof_models.checkpoints`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch
from transformers import Trainer, TrainingArguments, set_seed

from mof_models.checkpoints import (
    CheckpointCommitCallback,
    barrier,
    discard_incomplete,
    last_complete_checkpoint,
    save_final,
)
from mof_models.train_config import (
    ConfigError,
    DataSettings,
    LoraSettings,
    ModelSource,
    TrainConfig,
    deepspeed_path,
    load_config,
    parse_overrides,
)

logger = logging.getLogger(__name__)


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


# ----------------------------------------------------------------------------- what trains


def configure_trainable(model, stage: int, lora: LoraSettings | None = None):
    """Freeze for ``stage`` and return the model to train (a peft model with ``lora``).

    Stage 1: the adapters only. Stage 2: adapters + LM (full, or LoRA). Towers: always frozen.
    """
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage!r}")
    model.requires_grad_(False)
    for projector in model.projectors():
        projector.requires_grad_(True)
    if stage == 1:
        return model
    if lora is None:
        model.language_model.requires_grad_(True)
        return model
    return _with_lora(model, lora)


def _with_lora(model, lora: LoraSettings):
    from peft import LoraConfig, get_peft_model
    from torch import nn

    head = model.get_output_embeddings()
    targets = [
        f"language_model.{name}"
        for name, module in model.language_model.named_modules()
        if isinstance(module, nn.Linear) and module is not head
    ]
    projectors = ("clip_projector", "dino_projector", "mixed_projector")
    peft_config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        modules_to_save=[name for name in projectors if getattr(model, name) is not None],
    )
    return get_peft_model(model, peft_config)


def trainable_summary(model) -> str:
    trainable = sum(_numel(p) for p in model.parameters() if p.requires_grad)
    total = sum(_numel(p) for p in model.parameters())
    return f"{trainable:,} of {total:,} parameters trainable ({100 * trainable / total:.2f} %)"


def _numel(param) -> int:
    """Under ZeRO-3 a parameter is a partitioned stub; DeepSpeed keeps its size in ds_numel."""
    return param.ds_numel if hasattr(param, "ds_numel") else param.numel()


# ----------------------------------------------------------------------------- model, data


def load_model(source: ModelSource):
    """``(model, processor)`` from the config's model source."""
    dtype = getattr(torch, source.dtype)
    if source.pretrained is not None:
        from transformers import AutoProcessor

        from mof_models.modeling_mof import MofForConditionalGeneration

        model = MofForConditionalGeneration.from_pretrained(source.pretrained, dtype=dtype)
        return model, AutoProcessor.from_pretrained(source.pretrained)
    if source.build is not None:
        from mof_models.assembly import assemble_mof

        return assemble_mof(**source.build, dtype=dtype)
    from mof_models.tiny import build_tiny_mof

    model, processor = build_tiny_mof(**source.tiny)
    return model.to(dtype), processor


def load_training_data(settings: DataSettings, processor):
    from mof_models import data

    if settings.json is not None:
        records = data.load_records(settings.json)
    else:
        records = _hub_records(settings.hub)
    return data.build_dataset(
        records,
        processor,
        image_folder=settings.image_folder,
        conversation_format=settings.format,
        max_length=settings.max_length,
        image_aspect_ratio=settings.image_aspect_ratio,
    )


def _hub_records(hub: dict):
    import datasets

    if "split" not in hub:
        raise ConfigError("data.hub: 'split' is required (e.g. split: train)")
    dataset = datasets.load_dataset(**hub)
    if isinstance(dataset.features.get("image"), datasets.Image):
        dataset = dataset.cast_column("image", datasets.Image(decode=False))  # decode lazily
    return dataset


# ----------------------------------------------------------------------------- trainer


class MofTrainer(Trainer):
    """Trainer + a NaN/inf stop and throughput in every training log."""

    def train(self, *args, **kwargs):
        self._window = _ThroughputWindow()
        return super().train(*args, **kwargs)

    def training_step(self, model, inputs, num_items_in_batch=None):
        self._window.add(inputs["input_ids"])
        inputs = {**inputs, "use_cache": False}  # no KV cache while training
        loss = super().training_step(model, inputs, num_items_in_batch)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"training loss is {loss.item()} at step {self.state.global_step + 1}: "
                "stopping (lower the learning rate, check the data, prefer bf16 to fp16)"
            )
        return loss

    def log(self, logs: dict, start_time: float | None = None) -> None:
        if "loss" in logs:
            logs.update(self._window.rates(self.args.world_size))
        super().log(logs, start_time)


class _ThroughputWindow:
    """Samples and (padded, image-inclusive) tokens per second since the last training log."""

    def __init__(self) -> None:
        self.start = None
        self.samples = self.tokens = 0

    def add(self, input_ids) -> None:
        if self.start is None:
            self.start = time.perf_counter()
        self.samples += input_ids.shape[0]
        self.tokens += input_ids.numel()

    def rates(self, world_size: int) -> dict[str, float]:
        if self.start is None:
            return {}
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rates = {
            "samples_per_second": round(world_size * self.samples / elapsed, 3),
            "tokens_per_second": round(world_size * self.tokens / elapsed, 1),
        }
        self.start, self.samples, self.tokens = time.perf_counter(), 0, 0
        return rates


def training_arguments(training: dict):
    """``TrainingArguments`` with this pipeline's fixed choices; returns it and the checkpoint
    limit (pruning is done after the commit marker, so a complete checkpoint always remains)."""
    kwargs = dict(training)
    keep = kwargs.pop("save_total_limit", None)
    if isinstance(kwargs.get("deepspeed"), str):
        kwargs["deepspeed"] = str(deepspeed_path(kwargs["deepspeed"]))
    if kwargs.get("activation_checkpointing"):  # non-reentrant: the frozen embeddings need no grad
        kwargs.setdefault("activation_checkpointing_kwargs", {"use_reentrant": False})
    kwargs.setdefault("report_to", "none")
    kwargs["remove_unused_columns"] = False  # the collator builds the model inputs
    return TrainingArguments(**kwargs), keep


# ----------------------------------------------------------------------------- run


def train(config: TrainConfig, callbacks: list | None = None) -> Path:
    """Run (or resume) training; return the final model directory."""
    from mof_models.data import MofDataCollator

    # Arguments first: with ZeRO-3 they make from_pretrained load the weights sharded.
    args, keep = training_arguments(config.training)
    output_dir = Path(args.output_dir)
    set_seed(args.seed)
    model, processor = load_model(config.model)
    model = configure_trainable(model, config.stage, config.lora)
    logger.info("stage %d: %s", config.stage, trainable_summary(model))
    with args.main_process_first(desc="preparing the training data"):
        dataset = load_training_data(config.data, processor)
    trainer = MofTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=MofDataCollator(pad_token_id=processor.tokenizer.pad_token_id),
        processing_class=processor,
        callbacks=[CheckpointCommitCallback(keep), *(callbacks or [])],
    )
    if args.process_index == 0 and output_dir.is_dir():
        discard_incomplete(output_dir)
    barrier()
    resume = last_complete_checkpoint(output_dir)
    if resume is not None:
        logger.info("resuming from %s", resume)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    return save_final(trainer, processor, output_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mof_models.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, type=Path, help="YAML training config")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = load_config(args.config, parse_overrides(args.set))
    final = train(config)
    logger.info("done: %s", final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
