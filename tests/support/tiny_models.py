"""Tiny random LLaVA and InstructBLIP checkpoints built from configs, for tests and benchmarks.

They go through exactly the code paths of real checkpoints (``save_pretrained`` here,
``from_pretrained`` in the adapters); only the sizes are small and the weights random, so their
answers are noise. Building one takes well under a second.
"""

from __future__ import annotations

import json
from pathlib import Path

from mof_models.processing_mof import IMAGE_TOKEN, LLAVA_CHAT_TEMPLATE
from tests.support.tiny_tokenizers import build_named_tokenizer

_MARKER = "tiny_checkpoint.json"


def build_tiny_llava(
    out_dir: str | Path, *, seed: int = 0, image_size: int = 32, tokenizer: str = "byte_level"
) -> Path:
    """Save a random ``LlavaForConditionalGeneration`` + processor to ``out_dir`` (or reuse it);
    ``tokenizer`` names one of :data:`tests.support.tiny_tokenizers.TOKENIZERS`."""
    out_dir = Path(out_dir)
    settings = {"kind": "llava", "seed": seed, "image_size": image_size, "tokenizer": tokenizer}
    if _is_complete(out_dir, settings):
        return out_dir

    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    torch.manual_seed(seed)
    tokenizer = build_named_tokenizer(tokenizer)
    patch = 8
    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        image_size=image_size, patch_size=patch, projection_dim=32,
    )  # fmt: skip
    text = tiny_text_config(tokenizer)
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
        image_seq_length=(image_size // patch) ** 2,
    )
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": image_size},
            crop_size={"height": image_size, "width": image_size},
        ),
        tokenizer=tokenizer,
        chat_template=LLAVA_CHAT_TEMPLATE,
        patch_size=patch,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token, dropped by the "default" strategy
    )
    return _save(out_dir, model, processor, settings)


def tiny_text_config(tokenizer):
    """A 2-layer Llama for ``tokenizer``; head_dim 64 as vLLM's CPU attention kernels need."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, head_dim=64, max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip


def _save(out_dir: Path, model, processor, settings: dict) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    (out_dir / _MARKER).write_text(json.dumps(settings))  # last: marks the directory complete
    return out_dir


def _is_complete(out_dir: Path, settings: dict) -> bool:
    marker = out_dir / _MARKER
    return marker.is_file() and json.loads(marker.read_text()) == settings


def build_tiny_instructblip(
    out_dir: str | Path, *, seed: int = 0, image_size: int = 32, tokenizer: str = "byte_level"
) -> Path:
    """Save a random ``InstructBlipForConditionalGeneration`` + processor (or reuse it)."""
    out_dir = Path(out_dir)
    settings = {
        "kind": "instructblip",
        "seed": seed,
        "image_size": image_size,
        "tokenizer": tokenizer,
    }
    if _is_complete(out_dir, settings):
        return out_dir

    import torch
    from transformers import (
        BlipImageProcessor,
        InstructBlipConfig,
        InstructBlipForConditionalGeneration,
        InstructBlipProcessor,
        InstructBlipQFormerConfig,
        InstructBlipVisionConfig,
    )

    torch.manual_seed(seed)
    tokenizer = build_named_tokenizer(tokenizer, image_token_attribute=False)
    qformer_tokenizer = build_named_tokenizer("byte_level", image_token_attribute=False)
    num_query_tokens = 4
    processor = InstructBlipProcessor(
        image_processor=BlipImageProcessor(size={"height": image_size, "width": image_size}),
        tokenizer=tokenizer,
        qformer_tokenizer=qformer_tokenizer,
        num_query_tokens=num_query_tokens,
    )
    vision = InstructBlipVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        image_size=image_size, patch_size=8,
    )  # fmt: skip
    qformer = InstructBlipQFormerConfig(
        vocab_size=len(qformer_tokenizer), hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, encoder_hidden_size=32,
        pad_token_id=qformer_tokenizer.pad_token_id,
    )  # fmt: skip
    text = tiny_text_config(tokenizer)
    config = InstructBlipConfig(
        vision_config=vision.to_dict(),
        qformer_config=qformer.to_dict(),
        text_config=text.to_dict(),
        num_query_tokens=num_query_tokens,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
    )
    model = InstructBlipForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return _save(out_dir, model, processor, settings)


def build_tiny_mof_checkpoint(out_dir: str | Path, *, tokenizer: str = "byte_level") -> Path:
    """Save a random tiny I-MoF + processor with the named tokenizer (or reuse it)."""
    from mof_models.tiny import build_tiny_mof

    out_dir = Path(out_dir)
    settings = {"kind": "mof", "tokenizer": tokenizer}
    if _is_complete(out_dir, settings):
        return out_dir
    model, processor = build_tiny_mof("interleave", tokenizer=build_named_tokenizer(tokenizer))
    return _save(out_dir, model, processor, settings)
