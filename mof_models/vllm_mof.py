"""vLLM model for Mixture-of-Features LLaVA checkpoints (``model_type="mof_llava"``).

Imported by vLLM only (registered by :func:`mof_models.vllm_plugin.register`), so a plain
``vllm serve``-style start serves the ``final/`` directories of ``mof_models.train`` and the
output of ``mof_models.convert_fork_checkpoint`` as they are::

    python -m vllm.entrypoints.openai.api_server --model runs/imof224-stage2/final --dtype float32

All four mixings (``interleave``, ``additive``, ``clip_only``, ``dino_only``). The image path is
the transformers model's own: the towers are transformers' ``CLIPVisionModel`` /
``SiglipVisionModel`` and ``Dinov2Model`` (with the position-table resizing that
``dino_pos_interpolation`` selects, :func:`mof_models.modeling_mof.dino_tower_for`), and the
feature selection and mixing are :class:`~mof_models.modeling_mof.MofForConditionalGeneration`'s
methods, so both engines compute the same image features by construction. The language model
is vLLM's implementation of ``text_config``'s architecture (paged attention, batching).

Inputs (``N = (image_size / patch) ** 2`` patches per encoder; vLLM batches images of all
running requests together):

* ``input_ids``: ``(num_tokens,)``, each ``<image>`` already expanded to ``num_image_tokens``
  (``MofConfig.num_image_tokens``: ``2N`` for ``interleave``, ``N`` otherwise) by the
  checkpoint's own ``MofProcessor``.
* ``pixel_values``: ``(num_images, 3, image_size, image_size)``, CLIP-normalised by the
  checkpoint's image processor (one tensor feeds both towers, as in the released fork).
* image embeddings (``embed_multimodal``): ``(num_images, num_image_tokens, lm_width)``,
  scattered over the ``<image>`` positions.

Weights: every tensor comes from vLLM's weight stream, read once (on every tensor-parallel rank,
as for any vLLM model): ``language_model.*`` through vLLM's loader of the LM, towers and adapters
by name, with the renames transformers applies when it loads (``CHECKPOINT_RENAMES``). vLLM
refuses a checkpoint that lacks a tensor, naming the missing ones, so ``final/`` directories and
converted fork checkpoints load with no conversion step and an incomplete one never serves
random weights. The towers are replicated on each rank (they are small next to the LM).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Literal

import torch
from torch import nn
from transformers import BatchFeature
from vllm.config import VllmConfig
from vllm.model_executor.models.interfaces import (
    MultiModalEmbeddings,
    SupportsMultiModal,
    SupportsPP,
)
from vllm.model_executor.models.llava import LlavaDummyInputsBuilder
from vllm.model_executor.models.utils import (
    AutoWeightsLoader,
    WeightsMapper,
    init_vllm_registered_model,
    maybe_prefix,
)
from vllm.multimodal import MULTIMODAL_REGISTRY
from vllm.multimodal.inputs import MultiModalFieldConfig, MultiModalKwargsItems
from vllm.multimodal.parse import ImageSize, MultiModalDataItems
from vllm.multimodal.processing import (
    BaseMultiModalProcessor,
    BaseProcessingInfo,
    PromptReplacement,
    PromptUpdate,
)
from vllm.sequence import IntermediateTensors
from vllm.utils.tensor_schema import TensorSchema, TensorShape

from mof_models.configuration_mof import MofConfig
from mof_models.modeling_mof import (
    CHECKPOINT_RENAMES,
    MofForConditionalGeneration,
    add_image_modules,
)
from mof_models.processing_mof import IMAGE_TOKEN, MofProcessor

_HF = MofForConditionalGeneration


class MofImagePixelInputs(TensorSchema):
    """``pixel_values``: ``(bn, 3, h, w)``, ``bn`` = images in the batch, ``h = w = image_size``."""

    type: Literal["pixel_values"] = "pixel_values"
    pixel_values: Annotated[torch.Tensor, TensorShape("bn", 3, "h", "w")]


class MofProcessingInfo(BaseProcessingInfo):
    def get_hf_config(self) -> MofConfig:
        return self.ctx.get_hf_config(MofConfig)

    def get_hf_processor(self, **kwargs: object) -> MofProcessor:
        return self.ctx.get_hf_processor(MofProcessor, **kwargs)

    def get_supported_mm_limits(self) -> Mapping[str, int | None]:
        return {"image": None}

    def get_num_image_tokens(self) -> int:
        """Every image is resized to ``image_size``, so the count depends on the config only."""
        return self.get_hf_config().num_image_tokens

    def get_mm_max_tokens_per_item(self, seq_len: int, mm_counts: Mapping[str, int]):
        return {"image": self.get_num_image_tokens()}

    def get_image_size_with_most_features(self) -> ImageSize:
        size = self.get_hf_config().image_size
        return ImageSize(width=size, height=size)


class MofMultiModalProcessor(BaseMultiModalProcessor[MofProcessingInfo]):
    """The checkpoint's ``MofProcessor`` expands each ``<image>`` to ``num_image_tokens``."""

    def _get_mm_fields_config(
        self, hf_inputs: BatchFeature, hf_processor_mm_kwargs: Mapping[str, object]
    ) -> Mapping[str, MultiModalFieldConfig]:
        return {"pixel_values": MultiModalFieldConfig.batched("image")}

    def _get_prompt_updates(
        self,
        mm_items: MultiModalDataItems,
        hf_processor_mm_kwargs: Mapping[str, object],
        out_mm_kwargs: MultiModalKwargsItems,
    ) -> Sequence[PromptUpdate]:
        image_token_id = self.info.get_hf_config().image_token_id
        count = self.info.get_num_image_tokens()
        return [
            PromptReplacement(
                modality="image", target=[image_token_id], replacement=[image_token_id] * count
            )
        ]


@MULTIMODAL_REGISTRY.register_processor(
    MofMultiModalProcessor, info=MofProcessingInfo, dummy_inputs=LlavaDummyInputsBuilder
)
class MofForConditionalGenerationVllm(nn.Module, SupportsMultiModal, SupportsPP):
    """Towers and adapters under the transformers model's names (so checkpoint tensors find
    them), its image-feature methods borrowed as they are; ``language_model``: vLLM's LM."""

    # Checkpoint names -> parameter names where transformers renames on load (DINOv2 attention).
    hf_to_vllm_mapper = WeightsMapper(
        orig_to_new_regex={re.compile(old): new for old, new in CHECKPOINT_RENAMES.items()}
    )
    clip_features = _HF.clip_features
    dino_features = _HF.dino_features
    _dino_pixel_values = _HF._dino_pixel_values
    get_image_features = _HF.get_image_features
    _check_resolution = _HF._check_resolution

    @classmethod
    def get_placeholder_str(cls, modality: str, i: int) -> str | None:
        if modality.startswith("image"):
            return IMAGE_TOKEN
        raise ValueError("MoF models take images only")

    def __init__(self, *, vllm_config: VllmConfig, prefix: str = "") -> None:
        super().__init__()
        config: MofConfig = vllm_config.model_config.hf_config
        self.config = config
        self.configure_mm_token_handling(
            vocab_size=config.text_config.vocab_size, mm_token_ids=[config.image_token_id]
        )
        with self._mark_tower_model(vllm_config, "image"):
            add_image_modules(self, config, dtype=vllm_config.model_config.dtype)
        with self._mark_language_model(vllm_config):
            self.language_model = init_vllm_registered_model(
                vllm_config=vllm_config,
                hf_config=config.text_config,
                prefix=maybe_prefix(prefix, "language_model"),
            )
        self.make_empty_intermediate_tensors = self.language_model.make_empty_intermediate_tensors

    def embed_multimodal(self, **kwargs: object) -> MultiModalEmbeddings:
        pixel_values = kwargs.pop("pixel_values", None)
        if pixel_values is None:
            return []
        size = self.config.image_size
        inputs = MofImagePixelInputs(
            pixel_values=pixel_values, resolve_bindings={"h": size, "w": size}
        )
        with torch.inference_mode():
            # (bn, num_image_tokens, lm_width)
            return self.get_image_features(inputs["pixel_values"])

    def forward(
        self,
        input_ids: torch.Tensor | None,
        positions: torch.Tensor,
        intermediate_tensors: IntermediateTensors | None = None,
        inputs_embeds: torch.Tensor | None = None,
        **kwargs: object,
    ) -> torch.Tensor | IntermediateTensors:
        if intermediate_tensors is not None:
            inputs_embeds = None
        return self.language_model.model(
            input_ids, positions, intermediate_tensors, inputs_embeds=inputs_embeds
        )

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor | None:
        return self.language_model.compute_logits(hidden_states)

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> set[str]:
        """Every tensor from vLLM's weight stream, read once: ``language_model.*`` through the LM
        implementation's own loader, towers and adapters by name (after
        :attr:`hf_to_vllm_mapper`). Returns the loaded names, so vLLM refuses a checkpoint that
        lacks any parameter ("not initialized from checkpoint", with the names); a tensor that
        matches no parameter is refused by the loader."""
        return AutoWeightsLoader(self).load_weights(weights, mapper=self.hf_to_vllm_mapper)


__all__ = [
    "MofForConditionalGenerationVllm",
    "MofMultiModalProcessor",
    "MofProcessingInfo",
]
