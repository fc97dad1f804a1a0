"""``mof_llava``: Mixture-of-Features LLaVA checkpoints (``mof_models``), transformers backend.

    lmms-eval --model mof_llava --model_args pretrained=runs/imof224-stage2/final,dtype=bfloat16 \
        --tasks mmvp --batch_size 8

Checkpoints are the ``final`` directories of ``python -m mof_models.train`` (or converted from the
MMVP fork with ``python -m mof_models.convert_fork_checkpoint``). Prompts go through the
checkpoint's chat template (``chat_template=`` overrides it), batched with left padding, exactly
as ``mmvp_llava``. A vLLM backend is planned to become the default.
"""

from __future__ import annotations

from model_adapters.llava import LlavaAdapter


class MofLlavaAdapter(LlavaAdapter):
    """Same prompts and batching as :class:`LlavaAdapter`; loads a MoF model instead."""

    def __init__(self, pretrained: str, **kwargs) -> None:
        super().__init__(pretrained, **kwargs)

    def _load_model(self, pretrained, **kwargs):
        from transformers import AutoModelForImageTextToText

        import mof_models  # registers the MoF classes with the Auto classes

        model = AutoModelForImageTextToText.from_pretrained(pretrained, **kwargs)
        if not isinstance(model, mof_models.MofForConditionalGeneration):
            raise ValueError(
                f"{pretrained} is a {type(model).__name__}, not a MoF checkpoint "
                "(model_type 'mof_llava'); use mmvp_llava for LLaVA checkpoints"
            )
        return model
