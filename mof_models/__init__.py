"""Mixture-of-Features (MoF) LLaVA models: CLIP + DINOv2 features feeding one causal LM.

Tong et al., "Eyes Wide Shut? Exploring the Visual Shortcomings of Multimodal LLMs" (CVPR 2024),
Section 5: A-MoF (``additive``) and I-MoF (``interleave``), plus the ``clip_only`` (plain LLaVA)
and ``dino_only`` baselines, as a transformers model registered under ``model_type="mof_llava"``.

Importing the package registers the classes with transformers' Auto classes (as any third-party
transformers model does; lmms-eval never imports it at start-up, only ``mof_llava`` runs do)::

    import mof_models
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(checkpoint_dir)
    processor = AutoProcessor.from_pretrained(checkpoint_dir)
"""

from __future__ import annotations

from mof_models.configuration_mof import MofConfig
from mof_models.modeling_mof import MofForConditionalGeneration, MofPreTrainedModel, MofProjector
from mof_models.processing_mof import MofProcessor

MODEL_TYPE = MofConfig.model_type
__all__ = [
    "MODEL_TYPE",
    "MofConfig",
    "MofForConditionalGeneration",
    "MofPreTrainedModel",
    "MofProcessor",
    "MofProjector",
    "register",
]


def register() -> None:
    """Register config, model and processor with the Auto classes (idempotent)."""
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

    AutoConfig.register(MODEL_TYPE, MofConfig, exist_ok=True)
    AutoModelForImageTextToText.register(MofConfig, MofForConditionalGeneration, exist_ok=True)
    AutoProcessor.register(MofConfig, MofProcessor, exist_ok=True)


register()
