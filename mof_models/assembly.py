"""Assemble an untrained MoF model from pretrained component checkpoints (training stage 1).

    model, processor = assemble_mof(
        clip="openai/clip-vit-large-patch14", dino="facebook/dinov2-large",
        lm="lmsys/vicuna-13b-v1.5", mixing="interleave",
    )

Towers and LM keep their pretrained weights; the adapters are freshly initialised (PyTorch's
``nn.Linear`` default, as LLaVA's). The tokenizer gains an ``<image>`` token (the LM's embeddings
grow by one row) and, if it has none, a pad token (``<unk>`` when it exists, as LLaVA-1.5) and
the Vicuna-style LLaVA chat template.
"""

from __future__ import annotations

import logging

from mof_models.processing_mof import IMAGE_TOKEN, LLAVA_CHAT_TEMPLATE

logger = logging.getLogger(__name__)

# Contrastive checkpoints (full model or vision-only) -> the vision-tower class to load.
_CLIP_TOWERS = {
    "clip": "CLIPVisionModel",
    "clip_vision_model": "CLIPVisionModel",
    "siglip": "SiglipVisionModel",
    "siglip_vision_model": "SiglipVisionModel",
}


def assemble_mof(
    *,
    lm: str,
    mixing: str,
    clip: str | None = None,
    dino: str | None = None,
    dtype=None,
    chat_template: str | None = None,
    **config_fields,
):
    """``(MofForConditionalGeneration, MofProcessor)``; ``config_fields`` go to ``MofConfig``
    (``alpha``, ``dino_normalization``, ``clip_feature_layer``, ...)."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM

    from mof_models.configuration_mof import CLIP_MIXINGS, DINO_MIXINGS, MofConfig
    from mof_models.modeling_mof import MofForConditionalGeneration, dino_tower_for
    from mof_models.processing_mof import MofProcessor

    _check_components(mixing, clip, dino)
    tokenizer = load_tokenizer(lm)
    image_processor, image_size = load_image_processor(clip if clip is not None else dino)
    clip_tower = load_clip_tower(clip, dtype) if mixing in CLIP_MIXINGS else None
    dino_tower = AutoModel.from_pretrained(dino, dtype=dtype) if mixing in DINO_MIXINGS else None
    language_model = AutoModelForCausalLM.from_pretrained(lm, dtype=dtype)
    if len(tokenizer) > language_model.get_input_embeddings().num_embeddings:
        language_model.resize_token_embeddings(len(tokenizer))
    config = MofConfig(
        clip_config=clip_tower.config if clip_tower is not None else None,
        dino_config=dino_tower.config if dino_tower is not None else None,
        text_config=language_model.config,
        mixing=mixing,
        image_size=image_size,
        image_mean=list(image_processor.image_mean),
        image_std=list(image_processor.image_std),
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        **config_fields,
    )
    with torch.device("meta"):  # no random init of the pretrained parts
        model = MofForConditionalGeneration(config)
    model.clip_tower = clip_tower
    model.dino_tower = dino_tower_for(config, dino_tower) if dino_tower is not None else None
    model.language_model = language_model
    _fresh_projectors(model, dtype)
    model.generation_config = language_model.generation_config
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    processor = MofProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        num_image_tokens=config.num_image_tokens,
        chat_template=chat_template or tokenizer.chat_template or LLAVA_CHAT_TEMPLATE,
    )
    logger.info(
        "assembled %s MoF (%d image tokens): clip=%s dino=%s lm=%s",
        mixing, config.num_image_tokens, clip, dino, lm,
    )  # fmt: skip
    return model, processor


def _check_components(mixing: str, clip: str | None, dino: str | None) -> None:
    from mof_models.configuration_mof import CLIP_MIXINGS, DINO_MIXINGS, MIXINGS

    if mixing not in MIXINGS:
        raise ValueError(f"mixing must be one of {MIXINGS}, got {mixing!r}")
    if mixing in CLIP_MIXINGS and clip is None:
        raise ValueError(f"mixing={mixing!r} needs a CLIP/SigLIP checkpoint (clip=...)")
    if mixing in DINO_MIXINGS and dino is None:
        raise ValueError(f"mixing={mixing!r} needs a DINOv2 checkpoint (dino=...)")


def load_tokenizer(lm: str):
    """The LM's tokenizer, left-padded, with ``<image>`` and a pad token."""
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(lm, padding_side="left")
    if IMAGE_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([AddedToken(IMAGE_TOKEN, special=True, normalized=False)])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    return tokenizer


def load_image_processor(checkpoint: str):
    """The CLIP tower's processor (both towers see its output) and its output size."""
    from transformers import AutoImageProcessor

    image_processor = AutoImageProcessor.from_pretrained(checkpoint)
    size = getattr(image_processor, "crop_size", None) or image_processor.size
    if size["height"] != size["width"]:
        raise ValueError(f"{checkpoint}: non-square input size {size} is not supported")
    return image_processor, size["height"]


def load_clip_tower(clip: str, dtype):
    """The vision tower of a CLIP or SigLIP checkpoint (full model or vision-only)."""
    import transformers
    from transformers import AutoConfig

    model_type = AutoConfig.from_pretrained(clip).model_type
    if model_type not in _CLIP_TOWERS:
        raise ValueError(f"{clip}: expected a CLIP or SigLIP checkpoint, got {model_type!r}")
    tower_class = getattr(transformers, _CLIP_TOWERS[model_type])
    return tower_class.from_pretrained(clip, dtype=dtype)


def _fresh_projectors(model, dtype) -> None:
    from mof_models.modeling_mof import MofProjector

    config, lm_width = model.config, model.config.text_config.hidden_size
    for name in ("clip_projector", "dino_projector", "mixed_projector"):
        if getattr(model, name) is None:
            continue
        tower = config.dino_config if name == "dino_projector" else config.clip_config
        projector = MofProjector(tower.hidden_size, lm_width, config.projector_hidden_act)
        setattr(model, name, projector.to(dtype) if dtype is not None else projector)
