"""Conversion of MMVP-fork checkpoints: exact-prefix key matching, missing adapters, full dir."""

from __future__ import annotations

import json

import pytest
import torch

from mof_models.convert_fork_checkpoint import (
    ForkCheckpointError,
    _grow_vocab,
    convert_fork_checkpoint,
    convert_fork_state_dict,
)
from tests.support.mof import (
    chat_inputs,
)


def fork_layout(model, *, rotary_buffers: bool = False) -> dict:
    """The tiny model's weights renamed as the fork's LlavaLlamaForCausalLM saves them;
    ``rotary_buffers``: with the per-layer ``inv_freq`` buffers transformers 4.31 saved."""
    fork = {}
    for key, value in model.state_dict().items():
        if key.startswith("language_model."):
            fork[key.removeprefix("language_model.")] = value  # model.* and lm_head.*
        elif key.startswith("clip_tower."):
            fork[key.replace("clip_tower.", "model.vision_tower.vision_tower.", 1)] = value
    for ours, theirs in (
        ("clip_projector", "mm_projector"),
        ("dino_projector", "dino_mm_projector"),
    ):
        for layer, index in (("linear_1", 0), ("linear_2", 2)):
            for param in ("weight", "bias"):
                fork[f"model.{theirs}.{index}.{param}"] = model.state_dict()[
                    f"{ours}.{layer}.{param}"
                ]
    fork["model.dino_tower.vision_tower.blocks.0.attn.qkv.weight"] = torch.zeros(3, 3)  # torch.hub
    if rotary_buffers:
        for layer in range(model.config.text_config.num_hidden_layers):
            fork[f"model.layers.{layer}.self_attn.rotary_emb.inv_freq"] = torch.ones(32)
    return fork


def test_exact_prefixes_keep_each_adapter_in_its_place(tiny_mof_models):
    model, _ = tiny_mof_models["interleave"]
    fork = fork_layout(model)
    converted = convert_fork_state_dict(fork)
    ours = {k: v for k, v in model.state_dict().items() if not k.startswith(("clip_", "dino_t"))}
    ours.update({k: v for k, v in model.state_dict().items() if "projector" in k})
    assert converted.keys() == ours.keys()
    assert all(torch.equal(converted[k], ours[k]) for k in ours)
    # The fork's loader (`keyword in key`, then split on it) maps the DINOv2 adapter onto the
    # CLIP adapter's names too; with both in one file, the last one wins: the swap bug.
    fork_pick = {k.split("mm_projector.")[1]: v for k, v in fork.items() if "mm_projector" in k}
    assert torch.equal(fork_pick["0.weight"], fork["model.dino_mm_projector.0.weight"])
    assert torch.equal(
        converted["clip_projector.linear_1.weight"], fork["model.mm_projector.0.weight"]
    )
    assert not torch.equal(converted["clip_projector.linear_1.weight"], fork_pick["0.weight"])


def test_missing_dino_adapter_and_unknown_keys_are_errors(tiny_mof_models):
    model, _ = tiny_mof_models["interleave"]
    fork = fork_layout(model)
    released = {k: v for k, v in fork.items() if "dino_mm_projector" not in k}
    with pytest.raises(ForkCheckpointError, match=r"lacks the dino adapter .*--adapter"):
        convert_fork_state_dict(released)
    with pytest.raises(ForkCheckpointError, match="not an mlp2x_gelu adapter weight"):
        convert_fork_state_dict({**fork, "model.mm_projector.1.weight": torch.zeros(1)})
    with pytest.raises(
        ForkCheckpointError, match="extra_head.weight: unknown key in a fork checkpoint"
    ):
        convert_fork_state_dict({**fork, "extra_head.weight": torch.zeros(1)})
    # plain LLaVA (clip_only) has a place for mm_projector only
    clip_only = {k: v for k, v in fork.items() if "dino_mm" not in k}
    assert "clip_projector.linear_2.bias" in convert_fork_state_dict(clip_only, mixing="clip_only")


def test_rotary_buffers_of_transformers_4_31_are_dropped(tiny_mof_models, caplog):
    model, _ = tiny_mof_models["interleave"]
    with caplog.at_level("INFO", logger="mof_models.convert_fork_checkpoint"):
        converted = convert_fork_state_dict(fork_layout(model, rotary_buffers=True))
    assert converted.keys() == convert_fork_state_dict(fork_layout(model)).keys()
    assert "dropped 2 rotary_emb.inv_freq buffers" in caplog.text
    # only those: any other rotary key is still an error when it meets the model
    other = {**fork_layout(model), "model.layers.0.self_attn.rotary_emb.cos_cached": torch.ones(1)}
    assert "language_model.model.layers.0.self_attn.rotary_emb.cos_cached" in (
        convert_fork_state_dict(other)
    )
    assert not any("inv_freq" in k for k in converted)


def test_grow_vocab_adds_mean_rows_for_new_tokens():
    from transformers import LlamaConfig

    weight = torch.randn(5, 4)
    converted = {
        "language_model.model.embed_tokens.weight": weight,
        "language_model.lm_head.weight": weight.clone(),
    }
    text = LlamaConfig(vocab_size=5, hidden_size=4, num_attention_heads=1, num_hidden_layers=1)
    _grow_vocab(converted, 6, text)
    grown = converted["language_model.model.embed_tokens.weight"]
    assert grown.shape == (6, 4) and torch.equal(grown[:5], weight)
    torch.testing.assert_close(grown[5], weight.mean(0))
    assert text.vocab_size == 6


def write_fork_dir(model, processor, tmp_path, dtype=torch.float32):
    """``(fork dir, DINOv2 dir, stage-1 adapter file)`` laid out as the fork saves them: weights
    in ``dtype`` with per-layer rotary buffers (transformers 4.31), the release without the
    DINOv2 adapter; CLIP and DINOv2 towers saved in float32 beside it."""
    clip_dir, dino_dir, fork_dir = tmp_path / "clip", tmp_path / "dino", tmp_path / "fork"
    model.clip_tower.save_pretrained(clip_dir)
    processor.image_processor.save_pretrained(clip_dir)
    model.dino_tower.save_pretrained(dino_dir)
    fork_dir.mkdir()
    processor.tokenizer.save_pretrained(fork_dir)
    text_config = model.config.text_config.to_dict()
    text_config.pop("dtype", None)
    fork_config = {
        **text_config,
        "torch_dtype": str(dtype).removeprefix("torch."),  # as transformers 4.31 writes it
        "model_type": "llava",  # the fork's LlavaConfig(LlamaConfig)
        "architectures": ["LlavaLlamaForCausalLM"],
        "mm_vision_tower": str(clip_dir),
        "mm_projector_type": "mlp2x_gelu",
        "mm_vision_select_layer": -2,
        "mm_vision_select_feature": "patch",
        "mm_hidden_size": 32,
        "mm_use_im_start_end": False,
        "tune_mm_mlp_adapter": False,
    }
    (fork_dir / "config.json").write_text(json.dumps(fork_config))
    fork = {k: v.to(dtype) for k, v in fork_layout(model, rotary_buffers=True).items()}
    adapters = {k: v for k, v in fork.items() if "mm_projector" in k}  # stage 1's file: both
    main = {k: v for k, v in fork.items() if "dino_mm_projector" not in k}  # as released
    main["model.mm_projector.0.weight"] = main["model.mm_projector.0.weight"] + 0  # stage-2 copy
    torch.save(main, fork_dir / "pytorch_model.bin")
    adapters["model.mm_projector.0.weight"] = torch.zeros_like(
        adapters["model.mm_projector.0.weight"]
    )
    torch.save(adapters, tmp_path / "mm_projector.bin")
    return fork_dir, dino_dir, tmp_path / "mm_projector.bin"


def test_full_fork_directory_converts_to_a_loadable_checkpoint(tiny_mof_models, tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model, processor = tiny_mof_models["interleave"]
    fork_dir, dino_dir, adapter_file = write_fork_dir(model, processor, tmp_path)
    with pytest.raises(ForkCheckpointError, match="lacks the dino adapter"):
        convert_fork_checkpoint(fork_dir, tmp_path / "out", dino=str(dino_dir))
    out = convert_fork_checkpoint(
        fork_dir,
        tmp_path / "out",
        dino=str(dino_dir),
        adapter_files=[adapter_file],
    )
    converted = AutoModelForImageTextToText.from_pretrained(out).eval()
    converted_processor = AutoProcessor.from_pretrained(out)
    original, loaded = model.state_dict(), converted.state_dict()
    assert original.keys() == loaded.keys()
    for key in original:  # the stage-2 CLIP adapter survives the stage-1 adapter file
        assert torch.equal(original[key], loaded[key]), key
    inputs = chat_inputs(converted_processor, ["Is it up?"])
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, converted(**inputs).logits)


def test_conversion_keeps_the_forks_dtype_everywhere(tiny_mof_models, tmp_path):
    """Fork weights in float16, towers saved in float32: one dtype in the output, the fork's."""
    from safetensors.torch import load_file
    from transformers import AutoConfig

    model, processor = tiny_mof_models["interleave"]
    fork_dir, dino_dir, adapter_file = write_fork_dir(model, processor, tmp_path, torch.float16)
    out = convert_fork_checkpoint(
        fork_dir, tmp_path / "out", dino=str(dino_dir), adapter_files=[adapter_file]
    )
    saved = load_file(out / "model.safetensors")
    assert {v.dtype for v in saved.values()} == {torch.float16}
    assert any(k.startswith("dino_tower.") for k in saved) and any(
        "clip_tower." in k for k in saved
    )
    assert AutoConfig.from_pretrained(out).dtype == torch.float16
    explicit = convert_fork_checkpoint(
        fork_dir, tmp_path / "bf16", dino=str(dino_dir), adapter_files=[adapter_file],
        dtype=torch.bfloat16,
    )  # fmt: skip
    assert {v.dtype for v in load_file(explicit / "model.safetensors").values()} == {torch.bfloat16}
