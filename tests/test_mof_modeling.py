"""MoF model on tiny random towers and LM: feature values per mode, merge, save/load, generate."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from mof_models.modeling_mof import interleave_features
from tests.support.mof import (
    MIXINGS,
    REPO,
    chat_inputs,
    images,
)


def pixels(processor, n=3):
    return processor.image_processor(images=images(n), return_tensors="pt")["pixel_values"]


def test_interleave_features_orders_clip_first_token_by_token():
    clip = torch.arange(6.0).view(1, 3, 2)  # tokens c0 c1 c2, width 2
    dino = -torch.arange(6.0).view(1, 3, 2)
    out = interleave_features(clip, dino)
    assert out.shape == (1, 6, 2)
    assert torch.equal(out[0, 0::2], clip[0]) and torch.equal(out[0, 1::2], dino[0])
    assert out[0, :3, 0].tolist() == [0.0, -0.0, 2.0]  # c0, d0, c1


@torch.no_grad()
def test_clip_features_are_layer_minus_2_without_cls(tiny_mof_models):
    model, processor = tiny_mof_models["interleave"]
    pv = pixels(processor)
    hidden = model.clip_tower(pv, output_hidden_states=True).hidden_states
    assert torch.equal(model.clip_features(pv), hidden[-2][:, 1:])
    assert model.clip_features(pv).shape == (3, 16, 32)


@torch.no_grad()
def test_dino_features_are_the_last_block_before_the_final_norm(tiny_mof_models):
    model, processor = tiny_mof_models["interleave"]
    pv = pixels(processor)
    out = model.dino_tower(pv, output_hidden_states=True)
    features = model.dino_features(pv)
    assert features.shape == (3, 16, 48)
    assert torch.equal(features, out.hidden_states[-1][:, 1:])
    # hidden_states[-1] is pre-norm: the model's own layernorm turns it into last_hidden_state
    normed = model.dino_tower.layernorm(out.hidden_states[-1])
    torch.testing.assert_close(normed, out.last_hidden_state)
    assert not torch.allclose(features, out.last_hidden_state[:, 1:])


@torch.no_grad()
def test_image_features_of_each_mode(tiny_mof_models):
    for mixing in MIXINGS:
        model, processor = tiny_mof_models[mixing]
        pv = pixels(processor)
        features = model.get_image_features(pv)
        assert features.shape == (3, model.config.num_image_tokens, 128), mixing
        if mixing == "interleave":
            clip = model.clip_projector(model.clip_features(pv))
            dino = model.dino_projector(model.dino_features(pv))
            assert torch.equal(features[:, 0::2], clip) and torch.equal(features[:, 1::2], dino)
            assert features.shape[1] == 32  # 16 CLIP + 16 DINOv2 tokens
        elif mixing == "additive":
            a = model.config.alpha
            mixed = a * model.clip_features(pv) + (1 - a) * model.dino_features(pv)
            assert torch.equal(features, model.mixed_projector(mixed))
        elif mixing == "clip_only":
            assert torch.equal(features, model.clip_projector(model.clip_features(pv)))
            assert model.dino_tower is None and model.dino_projector is None
        else:
            assert torch.equal(features, model.dino_projector(model.dino_features(pv)))
            assert model.clip_tower is None and model.clip_projector is None


@torch.no_grad()
def test_additive_alpha_weights_clip(tiny_mof_models):
    model, processor = tiny_mof_models["additive"]
    pv = pixels(processor, 1)
    clip_only = model.mixed_projector(model.clip_features(pv))
    model.config.alpha = 1.0
    try:
        assert torch.equal(model.get_image_features(pv), clip_only)
    finally:
        model.config.alpha = 0.5


@torch.no_grad()
def test_imagenet_normalisation_for_dino(tiny_mof_models):
    model, _ = tiny_mof_models["interleave"]
    raw = torch.rand(2, 3, 32, 32)
    mean, std = torch.tensor(model.config.image_mean), torch.tensor(model.config.image_std)
    clip_normalised = (raw - mean.view(3, 1, 1)) / std.view(3, 1, 1)
    imagenet = torch.tensor((0.485, 0.456, 0.406)), torch.tensor((0.229, 0.224, 0.225))
    expected = (raw - imagenet[0].view(3, 1, 1)) / imagenet[1].view(3, 1, 1)
    assert torch.equal(model._dino_pixel_values(clip_normalised), clip_normalised)  # the fork
    model.config.dino_normalization = "imagenet"
    try:
        torch.testing.assert_close(model._dino_pixel_values(clip_normalised), expected)
    finally:
        model.config.dino_normalization = "clip"


@torch.no_grad()
def test_image_features_replace_exactly_the_image_tokens(tiny_mof_models):
    model, processor = tiny_mof_models["interleave"]
    inputs = chat_inputs(processor, ["Is it up?", "Which side is the circle on?"])
    seen = {}
    hook = model.language_model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.update(kwargs), with_kwargs=True
    )
    try:
        model(**inputs)
    finally:
        hook.remove()
    embeds, ids = seen["inputs_embeds"], inputs["input_ids"]
    is_image = ids == model.config.image_token_id
    assert is_image.sum(1).tolist() == [32, 32]
    features = model.get_image_features(inputs["pixel_values"])
    assert torch.equal(embeds[is_image], features.reshape(-1, 128))  # image by image, in order
    text = model.get_input_embeddings()(ids)
    assert torch.equal(embeds[~is_image], text[~is_image])


def test_token_feature_mismatch_is_a_clear_error(tiny_mof_models):
    model, processor = tiny_mof_models["interleave"]
    inputs = chat_inputs(processor, ["Is it up?"])
    ids = inputs["input_ids"].clone()
    ids[ids == model.config.image_token_id] = processor.tokenizer.unk_token_id
    ids[0, -5:] = model.config.image_token_id
    with pytest.raises(ValueError, match=r"5 image tokens but 1 image\(s\) give 32 features"):
        model(input_ids=ids, pixel_values=inputs["pixel_values"])
    with pytest.raises(ValueError, match="image tokens but no pixel_values"):
        model(input_ids=inputs["input_ids"])
    with pytest.raises(ValueError, match=r"must be \(num_images, 3, 32, 32\)"):
        model(input_ids=inputs["input_ids"], pixel_values=torch.zeros(1, 3, 48, 48))


def test_processor_rejects_image_count_mismatch(tiny_mof_models):
    _, processor = tiny_mof_models["interleave"]
    with pytest.raises(ValueError, match="number of <image> tokens"):
        chat_inputs(processor, ["one", "two"], n_images=1)


@pytest.mark.parametrize("mixing", MIXINGS)
def test_save_load_round_trip_is_bit_identical(tiny_mof_models, tmp_path, mixing):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model, processor = tiny_mof_models[mixing]
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    loaded = AutoModelForImageTextToText.from_pretrained(tmp_path).eval()
    loaded_processor = AutoProcessor.from_pretrained(tmp_path)
    assert type(loaded) is type(model) and loaded.config.mixing == mixing
    original, reloaded = model.state_dict(), loaded.state_dict()
    assert original.keys() == reloaded.keys()
    assert all(torch.equal(original[k], reloaded[k]) for k in original)
    inputs = chat_inputs(processor, ["Is it up?"])
    assert torch.equal(
        inputs["input_ids"], chat_inputs(loaded_processor, ["Is it up?"])["input_ids"]
    )
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, loaded(**inputs).logits)


@pytest.mark.parametrize("mixing", MIXINGS)
def test_every_saved_tensor_names_one_parameter_and_every_parameter_is_saved(
    tiny_mof_models, tmp_path, mixing
):
    """What an engine that reads the weight files itself (vLLM) relies on: the checkpoint's
    tensor names, after ``CHECKPOINT_RENAMES``, are exactly the model's parameters, with the
    same shapes (transformers saves DINOv2's attention under other names than its modules')."""
    from safetensors import safe_open

    from mof_models.modeling_mof import parameter_name

    model, _ = tiny_mof_models[mixing]
    model.save_pretrained(tmp_path)
    with safe_open(tmp_path / "model.safetensors", "pt") as saved:
        shapes = {parameter_name(k): tuple(saved.get_slice(k).get_shape()) for k in saved.keys()}
    parameters = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == parameters


def test_generate_batched_equals_one_by_one(tiny_mof_models):
    model, processor = tiny_mof_models["interleave"]
    prompts = ["Is it up?", "Which side is the circle on? Answer with the option's letter."]
    batch = chat_inputs(processor, prompts)
    out = model.generate(**batch, max_new_tokens=6, do_sample=False)
    batched = processor.batch_decode(out[:, batch["input_ids"].shape[1] :])
    single = []
    for i, prompt in enumerate(prompts):
        one = chat_inputs(processor, [prompt])
        one["pixel_values"] = batch["pixel_values"][i : i + 1]
        out = model.generate(**one, max_new_tokens=6, do_sample=False)
        single += processor.batch_decode(out[:, one["input_ids"].shape[1] :])
    assert batched == single and all(single)


_IMPORT_CHECK = """
import sys
{first}
{second}
model = AutoModelForImageTextToText.from_pretrained(sys.argv[1])
processor = AutoProcessor.from_pretrained(sys.argv[1])
config = AutoConfig.from_pretrained(sys.argv[1])
print(type(model).__name__, type(processor).__name__, config.model_type)
"""


@pytest.mark.parametrize("mof_first", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_import_mof_models_registers_the_auto_classes(tiny_mof_dir, mof_first):
    auto = "from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor"
    first, second = ("import mof_models", auto) if mof_first else ("", f"{auto}\nimport mof_models")
    script = _IMPORT_CHECK.format(first=first, second=second)
    done = subprocess.run(
        [sys.executable, "-c", script, str(tiny_mof_dir)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["MofForConditionalGeneration", "MofProcessor", "mof_llava"]


def test_register_is_idempotent():
    from transformers import AutoModelForImageTextToText
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    import mof_models

    mof_models.register()
    mof_models.register()
    assert CONFIG_MAPPING["mof_llava"] is mof_models.MofConfig
    mapping = AutoModelForImageTextToText._model_mapping
    assert mapping[mof_models.MofConfig] is mof_models.MofForConditionalGeneration


@torch.no_grad()
def test_siglip_tower_keeps_every_token():
    from transformers import SiglipVisionConfig

    from mof_models.modeling_mof import MofForConditionalGeneration
    from mof_models.tiny import tiny_mof_config

    config = tiny_mof_config("clip_only")
    config.clip_config = SiglipVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        image_size=32, patch_size=8,
    )  # fmt: skip
    model = MofForConditionalGeneration(config).eval()
    pv = torch.randn(2, 3, 32, 32)
    hidden = model.clip_tower(pv, output_hidden_states=True).hidden_states
    assert torch.equal(model.clip_features(pv), hidden[-2])  # SigLIP has no CLS token
    assert model.get_image_features(pv).shape == (2, 16, 128) == (2, config.num_image_tokens, 128)


# ----------------------------------------------------------------------------- DINOv2 positions


def _dinov2(image_size: int, patch_size: int = 14):
    """A random 2-layer DINOv2 whose position table is ``(image_size / patch) ** 2`` long."""
    from transformers import Dinov2Config, Dinov2Model

    config = Dinov2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2,
        image_size=image_size, patch_size=patch_size,
    )  # fmt: skip
    torch.manual_seed(0)
    return Dinov2Model(config).eval()


@torch.no_grad()
@pytest.mark.parametrize("size", [224, 336, 518])
def test_dino_position_table_is_resized_as_torch_hub_does(size):
    """Released towers: 518 px, a 37x37 table. The fork's torch.hub tower resizes it with scale
    factor (g + 0.1) / 37, transformers' to size g: different below 518 px, equal at 518."""
    from mof_models.modeling_mof import HubDinov2Embeddings
    from tests.support.dinov2_hub import hub_position_table

    tower = _dinov2(518)
    hub = HubDinov2Embeddings(tower.config)
    hub.load_state_dict(tower.embeddings.state_dict())
    tokens = torch.zeros(1, 1 + (size // 14) ** 2, 32)
    ours = hub.interpolate_pos_encoding(tokens, size, size)
    reference = hub_position_table(tower.embeddings.position_embeddings, size, size, 14)
    assert torch.equal(ours, reference)
    plain = tower.embeddings.interpolate_pos_encoding(tokens, size, size)
    assert torch.equal(ours, plain) == (size == 518)
    # the whole embedding step too: patches + CLS + the hub table
    pixel_values = torch.randn(2, 3, size, size)
    patches = tower.embeddings.patch_embeddings(pixel_values)
    cls = tower.embeddings.cls_token.expand(2, -1, -1)
    expected = torch.cat((cls, patches), dim=1) + reference
    assert torch.equal(hub(pixel_values), expected)


@torch.no_grad()
def test_mof_dino_tower_uses_the_hub_resizing_unless_configured(tiny_mof_models, tmp_path):
    """Default ``dino_pos_interpolation="hub"``: kept through save/load and applied to a
    pretrained tower handed in (assembly, fork conversion), whose parameters move over as is."""
    from transformers import AutoModelForImageTextToText
    from transformers.models.dinov2.modeling_dinov2 import Dinov2Embeddings

    from mof_models.modeling_mof import HubDinov2Embeddings, dino_tower_for
    from mof_models.tiny import tiny_mof_config

    config = tiny_mof_config("dino_only")
    config.dino_config.image_size = 64  # an 8x8 table for the 4x4 grid of 32 px images
    assert config.dino_pos_interpolation == "hub"
    pretrained = _dinov2(64, patch_size=8)
    params = dict(pretrained.named_parameters())
    tower = dino_tower_for(config, pretrained)
    assert type(tower.embeddings) is HubDinov2Embeddings
    assert all(p is params[n] for n, p in tower.named_parameters())

    config.dino_pos_interpolation = "transformers"
    assert type(dino_tower_for(config, tower).embeddings) is Dinov2Embeddings

    model, _ = tiny_mof_models["interleave"]
    assert type(model.dino_tower.embeddings) is HubDinov2Embeddings
    model.save_pretrained(tmp_path)
    loaded = AutoModelForImageTextToText.from_pretrained(tmp_path)
    assert type(loaded.dino_tower.embeddings) is HubDinov2Embeddings
