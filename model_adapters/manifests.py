"""The lmms-eval model ids this package adds. Cheap to import: class paths load lazily.

Ids carry the ``mmvp_`` prefix (or are new, like ``mof_llava``) so that none silently replaces
one of lmms-eval's built-in models (``llava``, ``llava_hf``, ``gpt4v``, ``openai``, ...).
"""

from __future__ import annotations

MODELS = {
    "mmvp_llava": "model_adapters.llava.LlavaAdapter",
    "mmvp_openai": "model_adapters.openai_chat.OpenAIChatAdapter",
    "mmvp_gemini": "model_adapters.gemini.GeminiAdapter",
    "mmvp_anthropic": "model_adapters.anthropic_messages.AnthropicMessagesAdapter",
    "mmvp_instructblip": "model_adapters.instructblip.InstructBlipAdapter",
    "mof_llava": "model_adapters.mof_llava.MofLlavaAdapter",
    "mmvp_clip": "model_adapters.clip.ClipAdapter",
    "mmvp_open_clip": "model_adapters.clip.OpenClipAdapter",
}
ALIASES = {"mmvp_openai": ("mmvp_gpt4v",), "mmvp_anthropic": ("mmvp_claude",)}


def manifests():
    from lmms_eval.models.registry_v2 import ModelManifest

    return [
        ModelManifest(model_id, simple_class_path=path, aliases=ALIASES.get(model_id, ()))
        for model_id, path in MODELS.items()
    ]
