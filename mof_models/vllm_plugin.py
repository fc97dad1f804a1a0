"""vLLM plugin: teaches vLLM the ``mof_llava`` checkpoints.

vLLM calls :func:`register` in each of its processes through the ``vllm.general_plugins`` entry
point of this package (``pyproject.toml``); installing the package into a vLLM environment is all
it takes (``bash .ci/vllm-env`` does it). The model class is registered by its string path, so
vLLM imports it (and its vLLM internals) only when a MoF checkpoint is loaded.
"""

from __future__ import annotations

ARCHITECTURE = "MofForConditionalGeneration"  # config.json "architectures" of MoF checkpoints
MODEL_PATH = "mof_models.vllm_mof:MofForConditionalGenerationVllm"


def register() -> None:
    """Register the MoF config/processor (transformers Auto classes, needed to read the
    checkpoint) and the vLLM model class; safe to call more than once."""
    from vllm import ModelRegistry

    import mof_models  # registers config, model and processor with transformers on import

    mof_models.register()
    if ARCHITECTURE not in ModelRegistry.get_supported_archs():
        ModelRegistry.register_model(ARCHITECTURE, MODEL_PATH)
