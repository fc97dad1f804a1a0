"""Mixture-of-Features LLaVA: CLIP and/or DINOv2 features -> adapters -> a causal LM.

Tong et al., "Eyes Wide Shut?" (CVPR 2024), Section 5 and Fig. 8. Shapes, for ``B`` images of
``image_size`` px and ``N = (image_size / patch) ** 2`` patches per encoder:

* ``pixel_values``: ``(B, 3, image_size, image_size)``, CLIP-normalised (one tensor feeds both
  towers, as in the released fork).
* CLIP features: ``(B, N, clip_width)`` from layer ``clip_feature_layer``, CLS dropped.
* DINOv2 features: ``(B, N, dino_width)``, last block before the final norm, CLS dropped; its
  position table resized as torch.hub DINOv2 resizes it (``dino_pos_interpolation``).
* image features: ``(B, num_image_tokens, lm_width)`` with ``num_image_tokens`` = ``2N``
  (interleave), ``N`` (additive, clip_only, dino_only).

The text carries ``num_image_tokens`` copies of the ``<image>`` token per image (the processor
expands them); their embeddings are replaced by the image features with ``masked_scatter``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, AutoModelForCausalLM, GenerationMixin, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.cache_utils import Cache
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.models.dinov2.modeling_dinov2 import Dinov2Embeddings

from mof_models.configuration_mof import IMAGENET_MEAN, IMAGENET_STD, MofConfig


@dataclass
class MofCausalLMOutputWithPast(CausalLMOutputWithPast):
    """The LM's outputs plus ``image_hidden_states``: ``(B, num_image_tokens, lm_width)`` or None.

    The cache field is inherited, not declared: transformers 5.24 renamed it from
    ``past_key_values`` to ``cache``, and the LM's own output class always has the right name.
    """

    image_hidden_states: torch.Tensor | None = None


class MofProjector(nn.Module):
    """LLaVA-1.5's ``mlp2x_gelu`` adapter: Linear -> GELU -> Linear into the LM width."""

    def __init__(self, in_features: int, out_features: int, act: str) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_features, out_features)
        self.act = ACT2FN[act]
        self.linear_2 = nn.Linear(out_features, out_features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(features)))


def interleave_features(clip: torch.Tensor, dino: torch.Tensor) -> torch.Tensor:
    """``(B, N, D)`` x 2 -> ``(B, 2N, D)`` ordered ``[c0, d0, c1, d1, ...]`` (I-MoF, CLIP first)."""
    return torch.stack((clip, dino), dim=2).flatten(1, 2)


HUB_INTERPOLATE_OFFSET = 0.1  # torch.hub DINOv2's ``interpolate_offset``


class HubDinov2Embeddings(Dinov2Embeddings):
    """``Dinov2Embeddings`` resizing the position table as torch.hub DINOv2 does (the fork's tower).

    facebookresearch/dinov2 ``interpolate_pos_encoding``: bicubic, no antialias, in float32, with
    scale factor ``(g + 0.1) / M`` from the ``M x M`` table to a ``g x g`` grid (so the output
    has ``g`` rows but samples at ``(i + 0.5) * M / (g + 0.1) - 0.5``). transformers resizes to
    size ``g``, sampling at ``(i + 0.5) * M / g - 0.5``: features differ by ~1 % at 224 px.
    Both return the table unchanged when no resize is needed (518 px for the released towers).
    """

    def interpolate_pos_encoding(
        self, embeddings: torch.Tensor, height: int, width: int
    ) -> torch.Tensor:
        num_positions = self.position_embeddings.shape[1] - 1
        if embeddings.shape[1] - 1 == num_positions and height == width:
            return self.position_embeddings
        side = math.isqrt(num_positions)
        patch_height, patch_width = self.patch_embeddings.patch_size
        table = self.position_embeddings.float()
        grid = table[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)  # (1, dim, M, M)
        scale = (
            (height // patch_height + HUB_INTERPOLATE_OFFSET) / side,
            (width // patch_width + HUB_INTERPOLATE_OFFSET) / side,
        )
        grid = nn.functional.interpolate(grid, scale_factor=scale, mode="bicubic", antialias=False)
        grid = grid.permute(0, 2, 3, 1).flatten(1, 2)  # (1, g * g, dim)
        return torch.cat((table[:, :1], grid), dim=1).to(embeddings.dtype)


_POSITION_EMBEDDINGS = {"hub": HubDinov2Embeddings, "transformers": Dinov2Embeddings}


def dino_tower_for(
    config: MofConfig, tower: nn.Module | None = None, dtype: torch.dtype | None = None
) -> nn.Module:
    """The DINOv2 tower of ``config`` (``tower``, e.g. a pretrained ``Dinov2Model``, or a fresh
    one in ``dtype``, by default the config's) with the position-table resizing
    ``config.dino_pos_interpolation`` selects.

    The resizing lives in the tower's embeddings module, so every user of the tower (this model,
    a serving engine reusing it) gets it. The parameters move over as they are (no copy)."""
    tower = tower if tower is not None else _fresh_tower(config.dino_config, dtype)
    wanted = _POSITION_EMBEDDINGS[config.dino_pos_interpolation]
    if type(tower.embeddings) is not wanted:
        with torch.device("meta"):
            embeddings = wanted(tower.config)
        embeddings.load_state_dict(tower.embeddings.state_dict(keep_vars=True), assign=True)
        tower.embeddings = embeddings.train(tower.embeddings.training)
    return tower


_DINO_ATTENTION = r"^(dino_tower\.encoder\.layer\.\d+\.attention\.)"
# Checkpoint tensor name -> parameter name, where they differ: transformers saves DINOv2's
# attention under its original names and renames them when it loads (every release from 5.19
# on). An engine that reads the weight files itself (vLLM, ``vllm_mof``) applies these; every
# other tensor of a MoF checkpoint is saved under its parameter's name.
CHECKPOINT_RENAMES = {
    _DINO_ATTENTION + r"attention\.query\.": r"\1q_proj.",
    _DINO_ATTENTION + r"attention\.key\.": r"\1k_proj.",
    _DINO_ATTENTION + r"attention\.value\.": r"\1v_proj.",
    _DINO_ATTENTION + r"output\.dense\.": r"\1o_proj.",
}


def parameter_name(checkpoint_name: str) -> str:
    """The model parameter a checkpoint tensor loads into (:data:`CHECKPOINT_RENAMES`)."""
    for pattern, replacement in CHECKPOINT_RENAMES.items():
        checkpoint_name = re.sub(pattern, replacement, checkpoint_name)
    return checkpoint_name


def _is_prefill(kwargs: dict) -> bool:
    """No cache yet. ``cache`` since transformers 5.24, ``past_key_values`` before."""
    cache: Cache | None = kwargs.get("cache", kwargs.get("past_key_values"))
    return cache is None or cache.get_seq_length() == 0


def _fresh_tower(tower_config, dtype: torch.dtype | None) -> nn.Module:
    """A randomly initialised tower, in ``dtype`` (else the dtype its config was saved with)."""
    return AutoModel.from_config(tower_config, **({"dtype": dtype} if dtype else {}))


def add_image_modules(module: nn.Module, config: MofConfig, dtype: torch.dtype | None = None):
    """The towers (``clip_tower``, ``dino_tower``) and adapters (``clip_projector``,
    ``dino_projector``, ``mixed_projector``) ``config.mixing`` uses; None for the others.
    Shared by the transformers model and the vLLM one (``vllm_mof``, which builds the towers in
    the dtype it serves: ``dtype``)."""
    lm_width, act = config.text_config.hidden_size, config.projector_hidden_act
    module.clip_tower = _fresh_tower(config.clip_config, dtype) if config.uses_clip else None
    module.dino_tower = dino_tower_for(config, dtype=dtype) if config.uses_dino else None
    module.clip_projector = module.dino_projector = module.mixed_projector = None
    if config.mixing in ("interleave", "clip_only"):
        module.clip_projector = MofProjector(config.clip_config.hidden_size, lm_width, act)
    if config.mixing in ("interleave", "dino_only"):
        module.dino_projector = MofProjector(config.dino_config.hidden_size, lm_width, act)
    if config.mixing == "additive":
        module.mixed_projector = MofProjector(config.clip_config.hidden_size, lm_width, act)


class MofPreTrainedModel(PreTrainedModel):
    config_class = MofConfig
    config: MofConfig
    base_model_prefix = ""
    main_input_name = "input_ids"
    input_modalities = ("image", "text")
    supports_gradient_checkpointing = True
    _skip_keys_device_placement = ["cache", "past_key_values"]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True


class MofForConditionalGeneration(MofPreTrainedModel, GenerationMixin):
    """Towers (``clip_tower``, ``dino_tower``), adapters (``clip_projector``, ``dino_projector``
    or, for ``additive``, ``mixed_projector``) and ``language_model`` (a full causal LM)."""

    def __init__(self, config: MofConfig) -> None:
        super().__init__(config)
        add_image_modules(self, config)
        self.language_model = AutoModelForCausalLM.from_config(config.text_config)
        self.post_init()

    # ---------------------------------------------------------------- plumbing

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.language_model.get_output_embeddings()

    def set_output_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_output_embeddings(value)

    def projectors(self) -> list[MofProjector]:
        """The adapters this mixing mode uses (what stage 1 trains)."""
        found = (self.clip_projector, self.dino_projector, self.mixed_projector)
        return [p for p in found if p is not None]

    def towers(self) -> list[nn.Module]:
        return [t for t in (self.clip_tower, self.dino_tower) if t is not None]

    # ---------------------------------------------------------------- image features

    def clip_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """``(B, N, clip_width)``: hidden state ``clip_feature_layer``, CLS dropped (LLaVA)."""
        out = self.clip_tower(pixel_values.to(self.clip_tower.dtype), output_hidden_states=True)
        features = out.hidden_states[self.config.clip_feature_layer]
        return features[:, 1:] if self.config.clip_has_cls else features

    def dino_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """``(B, N, dino_width)``: by default the last block's output before DINOv2's final
        LayerNorm (the fork's ``x_prenorm``), CLS dropped. ``hidden_states[-1]`` is that output:
        ``Dinov2Model`` applies ``layernorm`` only to build ``last_hidden_state``."""
        pixel_values = self._dino_pixel_values(pixel_values.to(self.dino_tower.dtype))
        if self.config.dino_feature == "last_hidden_state":
            return self.dino_tower(pixel_values).last_hidden_state[:, 1:]
        return self.dino_tower(pixel_values, output_hidden_states=True).hidden_states[-1][:, 1:]

    def _dino_pixel_values(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """CLIP-normalised input as is (the fork), or re-normalised with ImageNet statistics."""
        if self.config.dino_normalization == "clip":
            return pixel_values
        # x_in = (x * std_clip + mean_clip - mean_in) / std_in, one affine map per channel
        stats = torch.tensor(
            (self.config.image_mean, self.config.image_std, IMAGENET_MEAN, IMAGENET_STD),
            dtype=torch.float32,
            device=pixel_values.device,
        ).view(4, 1, 3, 1, 1)
        mean, std, mean_in, std_in = stats
        scale, shift = std / std_in, (mean - mean_in) / std_in
        return (pixel_values * scale + shift).to(pixel_values.dtype)

    def get_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` -> ``(B, num_image_tokens, lm_width)`` for the configured mixing."""
        self._check_resolution(pixel_values)
        mixing = self.config.mixing
        if mixing == "clip_only":
            return self.clip_projector(self.clip_features(pixel_values))
        if mixing == "dino_only":
            return self.dino_projector(self.dino_features(pixel_values))
        clip, dino = self.clip_features(pixel_values), self.dino_features(pixel_values)
        if mixing == "additive":  # A-MoF: mix before the single adapter
            alpha = self.config.alpha
            return self.mixed_projector(alpha * clip + (1.0 - alpha) * dino.to(clip.dtype))
        return interleave_features(self.clip_projector(clip), self.dino_projector(dino))

    def _check_resolution(self, pixel_values: torch.Tensor) -> None:
        size = self.config.image_size
        if pixel_values.ndim != 4 or tuple(pixel_values.shape[-2:]) != (size, size):
            raise ValueError(
                f"pixel_values must be (num_images, 3, {size}, {size}) for this checkpoint, got "
                f"{tuple(pixel_values.shape)}; preprocess with the checkpoint's processor"
            )

    def _merge_image_features(
        self, input_ids: torch.Tensor, inputs_embeds: torch.Tensor, image_features: torch.Tensor
    ) -> torch.Tensor:
        """Put the features where the ``<image>`` tokens are, after checking their numbers."""
        mask = input_ids == self.config.image_token_id  # (batch, seq)
        n_tokens = int(mask.sum())
        n_images, per_image = image_features.shape[:2]
        if n_tokens != n_images * per_image:
            raise ValueError(
                f"the text has {n_tokens} image tokens but {n_images} image(s) give "
                f"{n_images * per_image} features ({per_image} per image for "
                f"mixing={self.config.mixing!r}); each <image> must be expanded to {per_image} "
                "tokens, which MofProcessor does"
            )
        features = image_features.to(inputs_embeds.device, inputs_embeds.dtype)
        return inputs_embeds.masked_scatter(mask.unsqueeze(-1), features)

    def _unused_image_path(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
        """``0 * features.sum()`` of a blank image, for a training batch without images: the
        towers and adapters stay in the graph, so every rank gathers and reduces the same
        parameters (DeepSpeed ZeRO-3 hangs otherwise). LLaVA's train.py feeds a dummy image too."""
        size = self.config.image_size
        blank = torch.zeros(1, 3, size, size, device=inputs_embeds.device)
        return 0.0 * self.get_image_features(blank).sum().to(inputs_embeds.dtype)

    # ---------------------------------------------------------------- forward

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        **kwargs,
    ) -> MofCausalLMOutputWithPast:
        """``labels`` follow the causal-LM convention (-100 = ignored; image tokens should be).

        Everything else (cache, ``position_ids``, ``use_cache``, ``logits_to_keep``, ...) goes to
        the LM under the names the installed transformers uses.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids and inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        image_features = None
        if pixel_values is not None:
            if input_ids is None:
                raise ValueError("pixel_values need input_ids to locate the image tokens")
            image_features = self.get_image_features(pixel_values)
            inputs_embeds = self._merge_image_features(input_ids, inputs_embeds, image_features)
        elif input_ids is not None and _is_prefill(kwargs):  # decode steps: no check
            if bool((input_ids == self.config.image_token_id).any()):
                raise ValueError("the text has image tokens but no pixel_values were given")
        if image_features is None and self.training:
            inputs_embeds = inputs_embeds + self._unused_image_path(inputs_embeds)
        outputs = self.language_model(
            inputs_embeds=inputs_embeds, attention_mask=attention_mask, labels=labels, **kwargs
        )
        return MofCausalLMOutputWithPast(**outputs, image_hidden_states=image_features)


__all__ = [
    "CHECKPOINT_RENAMES",
    "HubDinov2Embeddings",
    "MofForConditionalGeneration",
    "MofPreTrainedModel",
    "MofProjector",
    "dino_tower_for",
    "parameter_name",
]
