"""Convert a checkpoint of the MMVP LLaVA fork (``MMVP/MoF_Models``) into a MoF model directory.

    python -m mof_models.convert_fork_checkpoint path/to/MoF_Models out/imof-13b \
        [--adapter stage1/mm_projector.bin] [--clip openai/clip-vit-large-patch14] \
        [--dino facebook/dinov2-large] [--dtype float16]

Fork layout (``LlavaLlamaForCausalLM`` of tsb0601/MMVP's LLaVA): the LM as ``model.*`` +
``lm_head.*``, the CLIP adapter as ``model.mm_projector.{0,2}.*``, the DINOv2 adapter as
``model.dino_mm_projector.{0,2}.*`` (``nn.Sequential``: 0 = Linear, 1 = GELU, 2 = Linear).
Tower weights, if present (``model.vision_tower.*``, ``model.dino_tower.*``: torch.hub layout),
are skipped: the towers are frozen pretrained models and come from ``--clip`` / ``--dino``.

Rotary ``inv_freq`` buffers that the fork's transformers 4.31 saved per layer
(``model.layers.N.self_attn.rotary_emb.inv_freq``) are dropped: current Llama computes them from
the config. The model is written in one dtype: ``--dtype``, else the fork config's
``torch_dtype`` (towers, adapters and LM alike).

Keys are matched by exact prefix. The fork selects adapter weights with ``keyword in key``, and
``"mm_projector"`` is a substring of ``"dino_mm_projector"``: loading a stage-1 file that holds
both adapters silently initialises the CLIP adapter with the DINOv2 adapter's weights. An I-MoF
checkpoint must hold both adapters; when its weight files lack ``model.dino_mm_projector.*``,
pass the file that has them (e.g. stage 1's ``mm_projector.bin``) with ``--adapter``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

logger = logging.getLogger(__name__)

_TOWER_PREFIXES = ("model.vision_tower.", "model.dino_tower.")
_ADAPTER_PREFIXES = {"model.mm_projector.": "clip", "model.dino_mm_projector.": "dino"}
_LAYER_NAMES = {"0": "linear_1", "2": "linear_2"}  # nn.Sequential(Linear, GELU, Linear)
_PARAMS = ("weight", "bias")
# Rotary buffers saved per layer by transformers 4.31 (the fork's pin); recomputed from the config.
_ROTARY_BUFFER = re.compile(r"model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq")
# Keys of the fork's config.json that belong to LLaVA, not to the Llama text config.
_FORK_ONLY_CONFIG_KEYS = (
    "architectures", "model_type", "freeze_mm_mlp_adapter", "image_aspect_ratio",
    "image_grid_pinpoints", "tune_mm_mlp_adapter", "use_mm_proj", "tokenizer_padding_side",
    "tokenizer_model_max_length", "mm_use_im_start_end", "mm_use_im_patch_token",
)  # fmt: skip


class ForkCheckpointError(ValueError):
    """The fork checkpoint cannot be converted; the message says what is missing or unknown."""


def adapter_targets(mixing: str) -> dict[str, str]:
    """Which of our adapters each fork adapter becomes for ``mixing``."""
    if mixing == "interleave":
        return {"clip": "clip_projector", "dino": "dino_projector"}
    if mixing == "clip_only":
        return {"clip": "clip_projector"}
    raise ForkCheckpointError(f"the fork has I-MoF and LLaVA checkpoints only, not {mixing!r}")


def convert_fork_state_dict(fork: Mapping, *, mixing: str = "interleave") -> dict:
    """Rename fork keys to ours; tower keys are dropped; unknown keys and missing adapters are
    errors. Values are passed through unchanged (tensors are not copied)."""
    targets = adapter_targets(mixing)
    converted, skipped, rotary = {}, 0, 0
    for key, value in fork.items():
        if key.startswith(_TOWER_PREFIXES):
            skipped += 1
        elif _ROTARY_BUFFER.fullmatch(key):
            rotary += 1
        else:
            converted[_our_key(key, targets)] = value
    if skipped:
        logger.info("skipped %d tower weights (towers come from their own checkpoints)", skipped)
    if rotary:
        logger.info("dropped %d rotary_emb.inv_freq buffers (recomputed from the config)", rotary)
    _check_adapters(converted, targets)
    return converted


def _our_key(key: str, targets: dict[str, str]) -> str:
    for prefix, stream in _ADAPTER_PREFIXES.items():
        if key.startswith(prefix):  # exact prefix: never "mm_projector" inside "dino_mm_..."
            if stream not in targets:
                raise ForkCheckpointError(f"{key}: a {stream} adapter has no place in this mode")
            layer, _, param = key.removeprefix(prefix).partition(".")
            if layer not in _LAYER_NAMES:
                raise ForkCheckpointError(f"{key}: not an mlp2x_gelu adapter weight")
            return f"{targets[stream]}.{_LAYER_NAMES[layer]}.{param}"
    if key.startswith(("model.", "lm_head.")):
        return f"language_model.{key}"
    raise ForkCheckpointError(f"{key}: unknown key in a fork checkpoint")


def _check_adapters(converted: dict, targets: dict[str, str]) -> None:
    for stream, target in targets.items():
        found = {k for k in converted if k.startswith(f"{target}.")}
        expected = {f"{target}.{layer}.{p}" for layer in _LAYER_NAMES.values() for p in _PARAMS}
        if found != expected:
            fork_prefix = next(p for p, s in _ADAPTER_PREFIXES.items() if s == stream)
            raise ForkCheckpointError(
                f"the checkpoint lacks the {stream} adapter ({fork_prefix}0/2.weight/bias): "
                f"found {sorted(found) or 'none'}. Pass a weight file that holds it (e.g. "
                "stage 1's mm_projector.bin) with --adapter"
            )


def load_fork_state_dict(fork_dir: Path, adapter_files=()) -> dict:
    """All weight files of ``fork_dir`` (safetensors or .bin shards), completed by
    ``adapter_files`` (e.g. stage 1's ``mm_projector.bin``): those only add the keys the
    checkpoint lacks, so a stage-2 adapter is never replaced by its stage-1 version."""
    files = sorted(fork_dir.glob("*.safetensors")) or sorted(fork_dir.glob("pytorch_model*.bin"))
    if not files:
        raise ForkCheckpointError(f"{fork_dir}: no *.safetensors or pytorch_model*.bin files")
    state = {}
    for path in files:
        state.update(_read_weights(path))
    for path in map(Path, adapter_files):
        extra = {k: v for k, v in _read_weights(path).items() if k not in state}
        logger.info("%s: %d weights the checkpoint lacks: %s", path, len(extra), sorted(extra))
        state.update(extra)
    return state


def _read_weights(path: Path) -> dict:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path)
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def text_config_from_fork(fork_config: dict):
    """The Llama config inside the fork's ``LlavaConfig`` (its ``mm_*`` keys removed)."""
    from transformers import LlamaConfig

    kept = {
        k: v
        for k, v in fork_config.items()
        if not k.startswith("mm_") and k not in _FORK_ONLY_CONFIG_KEYS
    }
    return LlamaConfig(**kept)


def convert_fork_checkpoint(
    fork_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    clip: str | None = None,
    dino: str = "facebook/dinov2-large",
    adapter_files=(),
    mixing: str = "interleave",
    dtype=None,
) -> Path:
    """Write a MoF model directory (weights, config, processor, chat template) to ``out_dir``."""
    fork_dir, out_dir = Path(fork_dir), Path(out_dir)
    fork_config = json.loads((fork_dir / "config.json").read_text())
    _check_fork_config(fork_config, clip)
    dtype = dtype or fork_dtype(fork_config)
    converted = convert_fork_state_dict(
        load_fork_state_dict(fork_dir, adapter_files), mixing=mixing
    )
    model, processor = _build(fork_dir, fork_config, clip, dino, mixing, dtype, converted)
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    processor.save_pretrained(staging)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(staging, out_dir)
    logger.info("converted %s -> %s", fork_dir, out_dir)
    return out_dir


def fork_dtype(fork_config: dict):
    """The dtype the fork saved its model in (``torch_dtype``; ``dtype`` in newer configs)."""
    import torch

    name = fork_config.get("torch_dtype") or fork_config.get("dtype") or "float32"
    dtype = getattr(torch, str(name).removeprefix("torch."), None)
    if not isinstance(dtype, torch.dtype):
        raise ForkCheckpointError(f"config.json: torch_dtype {name!r} is not a torch dtype")
    return dtype


def _check_fork_config(fork_config: dict, clip: str | None) -> None:
    required = ["mm_projector_type", "mm_vision_select_layer"] + (
        [] if clip else ["mm_vision_tower"]
    )
    missing = [key for key in required if key not in fork_config]
    if missing:
        raise ForkCheckpointError(f"config.json lacks {missing}: not a LLaVA-fork checkpoint?")
    projector = fork_config["mm_projector_type"]
    if projector != "mlp2x_gelu":
        raise ForkCheckpointError(f"mm_projector_type must be 'mlp2x_gelu', got {projector!r}")
    feature = fork_config.get("mm_vision_select_feature", "patch")
    if feature != "patch":
        raise ForkCheckpointError(f"mm_vision_select_feature {feature!r}: only 'patch' (no CLS)")


def _build(fork_dir, fork_config, clip, dino, mixing, dtype, converted):
    import torch
    from transformers import AutoModel

    from mof_models.assembly import load_clip_tower, load_image_processor, load_tokenizer
    from mof_models.configuration_mof import MofConfig
    from mof_models.modeling_mof import MofForConditionalGeneration, dino_tower_for
    from mof_models.processing_mof import IMAGE_TOKEN, LLAVA_CHAT_TEMPLATE, MofProcessor

    clip = clip or fork_config["mm_vision_tower"]
    tokenizer = load_tokenizer(str(fork_dir))
    image_processor, image_size = load_image_processor(clip)
    clip_tower = load_clip_tower(clip, dtype)
    dino_tower = AutoModel.from_pretrained(dino, dtype=dtype) if mixing == "interleave" else None
    text_config = text_config_from_fork(fork_config)
    _grow_vocab(converted, len(tokenizer), text_config)
    config = MofConfig(
        clip_config=clip_tower.config,
        dino_config=dino_tower.config if dino_tower is not None else None,
        text_config=text_config,
        mixing=mixing,
        image_size=image_size,
        clip_feature_layer=fork_config["mm_vision_select_layer"],
        image_mean=list(image_processor.image_mean),
        image_std=list(image_processor.image_std),
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
    )
    with torch.device("meta"):  # every weight comes from the fork or the towers
        model = MofForConditionalGeneration(config)
    model.clip_tower = clip_tower
    model.dino_tower = dino_tower_for(config, dino_tower) if dino_tower is not None else None
    _load_converted(model, converted, dtype)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    processor = MofProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        num_image_tokens=config.num_image_tokens,
        chat_template=tokenizer.chat_template or LLAVA_CHAT_TEMPLATE,
    )
    return model.eval(), processor


def _grow_vocab(converted: dict, vocab_size: int, text_config) -> None:
    """Rows for tokens the fork lacked (``<image>``): the mean embedding. Never seen as input
    (image features replace it); as an output its logit starts at the average."""
    import torch

    for key in ("language_model.model.embed_tokens.weight", "language_model.lm_head.weight"):
        weight = converted[key]
        missing = vocab_size - weight.shape[0]
        if missing > 0:
            extra = weight.float().mean(0, keepdim=True).expand(missing, -1).to(weight.dtype)
            converted[key] = torch.cat((weight, extra))
    text_config.vocab_size = max(vocab_size, text_config.vocab_size)


def _load_converted(model, converted: dict, dtype) -> None:
    tower_prefixes = ("clip_tower.", "dino_tower.")
    expected = {k for k in model.state_dict() if not k.startswith(tower_prefixes)}
    missing, unexpected = expected - set(converted), set(converted) - expected
    if missing or unexpected:
        raise ForkCheckpointError(
            f"converted weights do not fit the model: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )
    converted = {k: v.to(dtype) for k, v in converted.items()}
    model.load_state_dict(converted, strict=False, assign=True)
    model.config.dtype = dtype  # saved as the checkpoint's dtype


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fork_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--clip", help="CLIP checkpoint (default: the fork's mm_vision_tower)")
    parser.add_argument("--dino", default="facebook/dinov2-large")
    parser.add_argument(
        "--adapter",
        action="append",
        default=[],
        help="weight file adding what the checkpoint lacks, e.g. stage 1's mm_projector.bin",
    )
    parser.add_argument("--mixing", default="interleave", choices=("interleave", "clip_only"))
    parser.add_argument(
        "--dtype", default=None, help="float16, bfloat16, float32 (default: the fork's)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import torch

    convert_fork_checkpoint(
        args.fork_dir,
        args.out_dir,
        clip=args.clip,
        dino=args.dino,
        adapter_files=args.adapter,
        mixing=args.mixing,
        dtype=getattr(torch, args.dtype) if args.dtype else None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
