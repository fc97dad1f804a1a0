"""MofConfig: token counts derived from the towers, and clear errors for invalid combinations."""

from __future__ import annotations

import pytest
from huggingface_hub.errors import StrictDataclassClassValidationError
from transformers import CLIPVisionConfig, Dinov2Config, LlamaConfig, SiglipVisionConfig

from mof_models.configuration_mof import MofConfig


def clip_l(image_size=224, patch=14, width=1024):
    # openai/clip-vit-large-patch14(-336) layout (config only: nothing is built)
    return CLIPVisionConfig(
        hidden_size=width, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
        image_size=image_size, patch_size=patch, projection_dim=768,
    )  # fmt: skip


def dino_l(patch=14, width=1024):
    # facebook/dinov2-large: trained at 518 px, position embeddings interpolated to the input
    return Dinov2Config(
        hidden_size=width, num_hidden_layers=24, num_attention_heads=16, image_size=518,
        patch_size=patch,
    )  # fmt: skip


def config(mixing="interleave", clip=None, dino=None, **kw):
    uses_clip = mixing != "dino_only"
    uses_dino = mixing != "clip_only"
    return MofConfig(
        clip_config=(clip or clip_l()) if uses_clip else None,
        dino_config=(dino or dino_l()) if uses_dino else None,
        text_config=LlamaConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=2),
        mixing=mixing,
        **kw,
    )


@pytest.mark.parametrize(
    ("mixing", "image_size", "tokens"),
    [
        ("interleave", 224, 512),  # the paper's I-MoF rows: 256 + 256
        ("interleave", 336, 1152),  # the released scripts: 576 + 576
        ("additive", 224, 256),
        ("clip_only", 224, 256),
        ("clip_only", 336, 576),  # LLaVA-1.5
        ("dino_only", 224, 256),
    ],
)
def test_image_tokens_are_derived_from_the_towers(mixing, image_size, tokens):
    cfg = config(mixing, clip=clip_l(image_size), image_size=image_size)
    assert cfg.num_image_tokens == tokens
    assert "num_image_tokens" not in cfg.to_dict()  # derived, never stored


def test_siglip_tower_has_no_cls_to_drop():
    siglip = SiglipVisionConfig(image_size=224, patch_size=14, hidden_size=1024)
    cfg = config("clip_only", clip=siglip)
    assert cfg.clip_has_cls is False and cfg.num_image_tokens == 256
    assert config("clip_only").clip_has_cls is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # CLIP ViT-B/16 (14x14 grid) with DINOv2 /14 (16x16) at 224 px
        ({"clip": clip_l(patch=16)}, r"14x14 grid and DINOv2 \(patch 14\) a 16x16 grid"),
        ({"mixing": "additive", "dino": dino_l(width=768)}, "widths must match: CLIP 1024 vs"),
        ({"image_size": 336}, "image_size=336 but the CLIP tower was trained at 224"),
        ({"alpha": 1.5}, r"alpha must be in \[0, 1\]"),
        ({"clip_feature_layer": -30}, "outside the CLIP tower's 25 hidden states"),
        ({"dino_pos_interpolation": "nearest"}, r"dino_pos_interpolation must be one of \('hub'"),
        ({"dino_normalization": "none"}, r"dino_normalization must be one of \('clip'"),
        ({"dino_feature": "cls"}, r"dino_feature must be one of"),
    ],
)
def test_invalid_configs_say_why(kwargs, message):
    with pytest.raises(StrictDataclassClassValidationError, match=message):
        config(**kwargs)


def test_towers_must_match_the_mixing():
    text = LlamaConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=2)
    with pytest.raises(StrictDataclassClassValidationError, match="'interleave' needs dino_config"):
        MofConfig(clip_config=clip_l(), text_config=text, mixing="interleave")
    with pytest.raises(StrictDataclassClassValidationError, match="does not use dino_config"):
        MofConfig(clip_config=clip_l(), dino_config=dino_l(), text_config=text, mixing="clip_only")
    with pytest.raises(StrictDataclassClassValidationError, match="'dinov2' config"):
        MofConfig(clip_config=clip_l(), dino_config=clip_l(), text_config=text)


def test_config_json_round_trip(tmp_path):
    assert config().dino_pos_interpolation == "hub"  # the fork's torch.hub DINOv2
    cfg = config("additive", alpha=0.25, dino_normalization="imagenet")
    cfg.dino_pos_interpolation = "transformers"
    cfg.save_pretrained(tmp_path)
    loaded = MofConfig.from_pretrained(tmp_path)
    assert loaded.to_dict() == cfg.to_dict() and loaded.dino_pos_interpolation == "transformers"
    assert isinstance(loaded.dino_config, Dinov2Config) and loaded.num_image_tokens == 256
