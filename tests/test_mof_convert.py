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


def fork_layout(model) -> dict:
    """The tiny model's weights renamed as the fork's LlavaLlamaForCausalLM saves them."""
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


def test_full_fork_directory_converts_to_a_loadable_checkpoint(tiny_mof_models, tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model, processor = tiny_mof_models["interleave"]
    clip_dir, dino_dir, fork_dir = tmp_path / "clip", tmp_path / "dino", tmp_path / "fork"
    model.clip_tower.save_pretrained(clip_dir)
    processor.image_processor.save_pretrained(clip_dir)
    model.dino_tower.save_pretrained(dino_dir)
    fork_dir.mkdir()
    processor.tokenizer.save_pretrained(fork_dir)
    fork_config = {
        **model.config.text_config.to_dict(),
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
    fork = fork_layout(model)
    adapters = {k: v for k, v in fork.items() if "mm_projector" in k}  # stage 1's file: both
    main = {k: v for k, v in fork.items() if "dino_mm_projector" not in k}  # as released
    main["model.mm_projector.0.weight"] = main["model.mm_projector.0.weight"] + 0  # stage-2 copy
    torch.save(main, fork_dir / "pytorch_model.bin")
    adapters["model.mm_projector.0.weight"] = torch.zeros_like(
        adapters["model.mm_projector.0.weight"]
    )
    torch.save(adapters, tmp_path / "mm_projector.bin")

    with pytest.raises(ForkCheckpointError, match="lacks the dino adapter"):
        convert_fork_checkpoint(fork_dir, tmp_path / "out", dino=str(dino_dir))
    out = convert_fork_checkpoint(
        fork_dir,
        tmp_path / "out",
        dino=str(dino_dir),
        adapter_files=[tmp_path / "mm_projector.bin"],
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
