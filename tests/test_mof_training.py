"""Training: what each stage trains, loss going down, the Trainer run, configs, NaN stop."""

from __future__ import annotations

import json
import math

import pytest
import torch

from mof_models.checkpoints import COMMIT_FILE
from mof_models.data import MofDataCollator, build_dataset, load_records
from mof_models.train import NonFiniteLossError, configure_trainable, train
from mof_models.train_config import ConfigError, LoraSettings, load_config
from tests.support.mof import (
    MIXINGS,
    REPO,
    TINY_DEBUG,
    images,
    tiny_train_overrides,
)

CONFIGS = REPO / "mof_models" / "configs"


def fixed_batch(processor, data_dir, n=4):
    records = load_records(data_dir.mmvp_dir / "train.json")[:n]
    dataset = build_dataset(
        records,
        processor,
        image_folder=data_dir.mmvp_dir,
        conversation_format="chat",
        max_length=256,
    )
    return MofDataCollator(processor.tokenizer.pad_token_id)([dataset[i] for i in range(n)])


def fit(model, batch, steps, lr):
    """A few AdamW steps over *all* parameters: frozen ones must stay put by themselves."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        loss = model(**batch).loss
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return losses


def trainable_prefixes(model) -> set[str]:
    return {name.split(".")[0] for name, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize(
    ("mixing", "stage", "trained"),
    [
        ("interleave", 1, {"clip_projector", "dino_projector"}),
        ("additive", 1, {"mixed_projector"}),
        ("clip_only", 1, {"clip_projector"}),
        ("dino_only", 1, {"dino_projector"}),
        ("interleave", 2, {"clip_projector", "dino_projector", "language_model"}),
    ],
)
def test_stage_trains_the_right_parameters_and_lowers_the_loss(
    synthetic_train_dir, mixing, stage, trained
):
    from mof_models.tiny import build_tiny_mof

    model, processor = build_tiny_mof(mixing, seed=2)
    model = configure_trainable(model, stage)
    assert trainable_prefixes(model) == trained
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = fit(model, fixed_batch(processor, synthetic_train_dir), steps=6, lr=3e-3)
    assert losses[-1] < losses[0] - 0.5, losses
    for name, param in model.named_parameters():
        changed = not torch.equal(param, before[name])
        assert changed == param.requires_grad, name  # frozen: untouched; trainable: moved


def grads_of(model, batch) -> dict[str, torch.Tensor]:
    """Gradients of a training step on ``batch``, by parameter name (None: not in the graph)."""
    model.zero_grad(set_to_none=True)
    model.train()
    model(**batch).loss.backward()
    return {name: param.grad for name, param in model.named_parameters()}


@pytest.mark.parametrize("mixing", MIXINGS)
def test_text_only_batch_keeps_towers_and_adapters_in_the_graph(mixing, tmp_path):
    """ZeRO-3 hangs when ranks run different parameter sets: a text-only micro-batch runs the
    towers and adapters on a dummy image, so the parameters an image batch reaches get a grad
    (zero) too. Inference on text runs no image path."""
    from mof_models.tiny import build_tiny_mof

    model, processor = build_tiny_mof(mixing, seed=2)
    model.requires_grad_(True)  # towers too: each rank must also gather their weights
    images(1)[0].save(tmp_path / "a.jpg")
    answer = {"from": "gpt", "value": "No"}
    records = [
        {"image": "a.jpg", "conversations": [{"from": "human", "value": "<image>\nUp?"}, answer]},
        {"conversations": [{"from": "human", "value": "Up?"}, answer]},
    ]
    dataset = build_dataset(
        records, processor, image_folder=tmp_path, conversation_format="chat", max_length=64
    )
    collate = MofDataCollator(processor.tokenizer.pad_token_id)
    with_image, text_only = collate([dataset[0]]), collate([dataset[1]])
    assert "pixel_values" not in text_only
    image_grads, text_grads = grads_of(model, with_image), grads_of(model, text_only)
    image_parts = ("clip_tower.", "dino_tower.", "clip_projector.", "dino_projector.", "mixed_")
    reached = {name for name, grad in image_grads.items() if grad is not None}
    assert any(name.startswith(image_parts) for name in reached)
    for name, grad in text_grads.items():
        assert (grad is not None) == (name in reached), name
        if grad is not None and name.startswith(image_parts):
            assert not grad.any(), name
    calls = []
    model.eval()
    for part in [*model.towers(), *model.projectors()]:
        part.register_forward_hook(lambda *args: calls.append(1))
    with torch.no_grad():
        model(**text_only)
    assert not calls


def test_lora_stage_2_trains_lora_and_adapters_only(synthetic_train_dir):
    from mof_models.tiny import build_tiny_mof

    model, processor = build_tiny_mof("interleave", seed=2)
    peft_model = configure_trainable(model, 2, LoraSettings(r=4, alpha=8, dropout=0.0))
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all(("lora_" in n) or ("projector" in n) for n in trainable)
    assert not any("tower" in n for n in trainable)
    assert any("language_model" in n and "lora_" in n for n in trainable)
    base_lm = {k: v.clone() for k, v in model.language_model.state_dict().items()}
    losses = fit(peft_model, fixed_batch(processor, synthetic_train_dir), steps=6, lr=3e-3)
    assert losses[-1] < losses[0] - 0.5, losses
    for key, value in model.language_model.state_dict().items():
        if "lora_" not in key:  # base weights frozen under the LoRA wrappers
            assert torch.equal(value, base_lm[key]), key


def test_trainer_run_writes_committed_checkpoints_and_a_loadable_final(
    tmp_path, synthetic_train_dir
):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    config = load_config(
        TINY_DEBUG, tiny_train_overrides(tmp_path, synthetic_train_dir.mmvp_dir.parent)
    )
    final = train(config)
    run = tmp_path / "run"
    assert final == run / "final"
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert all((p / COMMIT_FILE).is_file() for p in run.glob("checkpoint-*"))
    state = json.loads((run / "checkpoint-4" / "trainer_state.json").read_text())
    logs = [entry for entry in state["log_history"] if "loss" in entry]
    assert [entry["step"] for entry in logs] == [1, 2, 3, 4]
    assert all(entry["samples_per_second"] > 0 and "learning_rate" in entry for entry in logs)
    for name in (
        "model.safetensors",
        "config.json",
        "processor_config.json",
        "chat_template.jinja",
    ):
        assert (final / name).is_file(), name
    model = AutoModelForImageTextToText.from_pretrained(final)
    processor = AutoProcessor.from_pretrained(final)
    assert model.config.mixing == "interleave" and processor.num_image_tokens == 32


def test_lora_run_ends_with_a_merged_plain_checkpoint(tmp_path, synthetic_train_dir, tiny_mof_dir):
    from safetensors.torch import load_file

    lora = {"lora": {"r": 4, "alpha": 8, "dropout": 0.0}, "training.activation_checkpointing": True}
    data = synthetic_train_dir.mmvp_dir.parent
    final = train(load_config(TINY_DEBUG, tiny_train_overrides(tmp_path, data, **lora)))
    assert (tmp_path / "run" / "checkpoint-2" / "adapter_model.safetensors").is_file()
    merged = load_file(final / "model.safetensors")
    plain = load_file(tiny_mof_dir / "model.safetensors")  # a checkpoint saved without LoRA
    assert merged.keys() == plain.keys()


def test_nan_loss_stops_the_run(tmp_path, synthetic_train_dir):
    from transformers import TrainerCallback

    class PoisonAdapter(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            model.clip_projector.register_forward_hook(lambda m, i, out: out * math.nan)

    config = load_config(
        TINY_DEBUG, tiny_train_overrides(tmp_path, synthetic_train_dir.mmvp_dir.parent)
    )
    with pytest.raises(NonFiniteLossError, match="training loss is nan at step 1"):
        train(config, callbacks=[PoisonAdapter()])


@pytest.mark.parametrize(
    "name", sorted(p.name for p in CONFIGS.glob("*.yaml") if not p.name.startswith("_"))
)
def test_every_shipped_config_is_valid(name):
    import dataclasses

    from transformers import TrainingArguments

    config = load_config(CONFIGS / name)
    assert config.stage in (1, 2)
    known = {field.name for field in dataclasses.fields(TrainingArguments)}
    assert set(config.training) <= known, set(config.training) - known  # e.g. no warmup_ratio
    if name.startswith("amof_dino"):
        share = float(name.removeprefix("amof_dino").split("_")[0])
        if config.stage == 1:
            assert config.model.build["mixing"] == "additive"
            assert config.model.build["alpha"] == pytest.approx(1 - share)
        assert f"dino{share}" in config.training["output_dir"]
    if "stage2" in name:
        assert config.model.pretrained.endswith("stage1/final")
    if config.training.get("deepspeed"):
        assert config.training["bf16"] is True


def test_deepspeed_configs_match_the_paper_stages():
    from mof_models.train_config import deepspeed_stage

    assert deepspeed_stage(load_config(CONFIGS / "imof224_stage1.yaml").training) == 2
    assert deepspeed_stage(load_config(CONFIGS / "imof224_stage2.yaml").training) == 3


def test_config_includes_overrides_and_errors(tmp_path):
    config = load_config(
        CONFIGS / "imof336_stage1.yaml", {"training.max_steps": 3, "model.build.alpha": 0.2}
    )
    assert config.model.build["clip"] == "openai/clip-vit-large-patch14-336"  # this file
    assert config.model.build["dino"] == "facebook/dinov2-large"  # its include
    assert config.training["max_steps"] == 3 and config.model.build["alpha"] == 0.2
    bad = tmp_path / "bad.yaml"
    bad.write_text("include: " + str(TINY_DEBUG) + "\nmodel:\n  tinny: {}\n")
    with pytest.raises(ConfigError, match=r"model: unknown key\(s\) \['tinny'\]"):
        load_config(bad)
    with pytest.raises(ConfigError, match="exactly one of pretrained, build, tiny"):
        load_config(TINY_DEBUG, {"model.pretrained": "x"})
    with pytest.raises(ConfigError, match="LoRA adapts the LM, which only stage 2 trains"):
        load_config(TINY_DEBUG, {"stage": 1, "lora": {"r": 4}})
    with pytest.raises(ConfigError, match="lora with ZeRO-3 is not supported"):
        load_config(CONFIGS / "imof224_stage2_lora.yaml", {"training.deepspeed": "zero3"})
