"""Assembling a MoF model from component checkpoints (the hub loading path, on tiny local dirs)."""

from __future__ import annotations

import pytest
import torch

from tests.support.mof import (
    chat_inputs,
)


@pytest.fixture(scope="module")
def component_dirs(tiny_mof_models, tmp_path_factory):
    """A full CLIPModel checkpoint (as openai/clip-*), a Dinov2Model and a Llama with tokenizer."""
    from transformers import CLIPConfig, CLIPModel

    model, processor = tiny_mof_models["interleave"]
    root = tmp_path_factory.mktemp("components")
    vision = model.config.clip_config.to_dict()
    clip = CLIPModel(
        CLIPConfig(
            vision_config=vision,
            text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                         "num_attention_heads": 2, "vocab_size": 99},
            projection_dim=32,
        )
    )  # fmt: skip
    clip.save_pretrained(root / "clip")
    processor.image_processor.save_pretrained(root / "clip")
    model.dino_tower.save_pretrained(root / "dino")
    model.language_model.save_pretrained(root / "lm")
    processor.tokenizer.save_pretrained(root / "lm")
    return root, clip


@pytest.mark.parametrize("mixing", ["interleave", "clip_only"])
def test_assembled_model_keeps_pretrained_parts(component_dirs, tiny_mof_models, mixing):
    from mof_models.assembly import assemble_mof

    root, clip = component_dirs
    reference, _ = tiny_mof_models["interleave"]
    model, processor = assemble_mof(
        clip=str(root / "clip"),
        dino=str(root / "dino") if mixing == "interleave" else None,
        lm=str(root / "lm"),
        mixing=mixing,
    )
    assert not any(p.is_meta for p in model.parameters())
    assert processor.num_image_tokens == model.config.num_image_tokens
    tower, pretrained = model.clip_tower.state_dict(), clip.vision_model.state_dict()
    assert tower.keys() == pretrained.keys()
    assert all(torch.equal(v, tower[k]) for k, v in pretrained.items())
    lm = model.language_model.state_dict()
    assert all(torch.equal(v, lm[k]) for k, v in reference.language_model.state_dict().items())
    inputs = chat_inputs(processor, ["Is it up?"])
    labels = inputs["input_ids"].masked_fill(inputs["input_ids"] == processor.image_token_id, -100)
    loss = model(**inputs, labels=labels).loss
    loss.backward()  # fresh adapters are real, trainable tensors
    assert model.clip_projector.linear_1.weight.grad is not None


def test_missing_component_is_a_clear_error():
    from mof_models.assembly import assemble_mof

    with pytest.raises(ValueError, match="needs a DINOv2 checkpoint"):
        assemble_mof(clip="c", lm="l", mixing="interleave")
