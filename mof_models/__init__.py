"""Mixture-of-Features (MoF) LLaVA models: CLIP + DINOv2 features feeding one causal LM.

Tong et al., "Eyes Wide Shut? Exploring the Visual Shortcomings of Multimodal LLMs" (CVPR 2024),
Section 5: A-MoF (``additive``) and I-MoF (``interleave``), plus the ``clip_only`` (plain LLaVA)
and ``dino_only`` baselines, as a transformers model registered under ``model_type="mof_llava"``.

Importing this package is cheap: no torch, no transformers. It registers the MoF classes with
transformers' Auto classes lazily, the moment transformers loads the matching Auto module, so
both import orders work::

    import mof_models
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(checkpoint_dir)
    processor = AutoProcessor.from_pretrained(checkpoint_dir)

:func:`register` does the same eagerly (safe to call more than once). Classes are available as
``mof_models.MofConfig``, ``mof_models.MofForConditionalGeneration``, ``mof_models.MofProcessor``
(imported on first access).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import logging
import sys

logger = logging.getLogger(__name__)

MODEL_TYPE = "mof_llava"

_LAZY_NAMES = {
    "MofConfig": "mof_models.configuration_mof",
    "MofForConditionalGeneration": "mof_models.modeling_mof",
    "MofPreTrainedModel": "mof_models.modeling_mof",
    "MofProjector": "mof_models.modeling_mof",
    "MofProcessor": "mof_models.processing_mof",
}
__all__ = ["MODEL_TYPE", "register", *_LAZY_NAMES]


def _register_config() -> None:
    if _importing("configuration_mof", "MofConfig"):
        return  # transformers was imported by that module: it registers itself when done
    from transformers import AutoConfig

    from mof_models.configuration_mof import MofConfig

    AutoConfig.register(MODEL_TYPE, MofConfig, exist_ok=True)


def _register_model() -> None:
    if _importing("modeling_mof", "MofForConditionalGeneration"):
        return
    from transformers import AutoModelForImageTextToText

    from mof_models.modeling_mof import MofConfig, MofForConditionalGeneration

    AutoModelForImageTextToText.register(MofConfig, MofForConditionalGeneration, exist_ok=True)


def _register_processor() -> None:
    if _importing("processing_mof", "MofProcessor") or _importing("configuration_mof", "MofConfig"):
        return
    from transformers import AutoProcessor

    from mof_models.configuration_mof import MofConfig
    from mof_models.processing_mof import MofProcessor

    AutoProcessor.register(MofConfig, MofProcessor, exist_ok=True)


def _importing(module: str, defines: str) -> bool:
    """Whether ``mof_models.<module>`` is mid-import (loaded, ``defines`` not yet defined)."""
    loaded = sys.modules.get(f"{__name__}.{module}")
    return loaded is not None and not hasattr(loaded, defines)


# transformers module whose import triggers each registration (the Auto mapping it fills).
_AUTO_MODULES = {
    "transformers.models.auto.configuration_auto": _register_config,
    "transformers.models.auto.modeling_auto": _register_model,
    "transformers.models.auto.processing_auto": _register_processor,
}


def register() -> None:
    """Register config, model and processor with transformers' Auto classes now (idempotent)."""
    for registration in _AUTO_MODULES.values():
        registration()


class _RegisteringLoader(importlib.abc.Loader):
    """Runs the real loader, then the registration that needs the freshly imported module."""

    def __init__(self, loader, registration) -> None:
        self._loader = loader
        self._registration = registration

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        try:
            self._registration()
        except Exception:  # never break the host's import; register() shows the error again
            logger.exception("mof_models: registering with %s failed", module.__name__)

    def __getattr__(self, name):  # get_source, is_package, ... for inspect and friends
        return getattr(self._loader, name)


class _AutoRegistrationFinder(importlib.abc.MetaPathFinder):
    """Post-import hook on the three Auto modules; transformers itself is never modified."""

    def find_spec(self, fullname, path, target=None):
        registration = _AUTO_MODULES.get(fullname)
        if registration is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader, registration)
        return spec


def _install_hook() -> None:
    if not any(isinstance(f, _AutoRegistrationFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AutoRegistrationFinder())
    for module_name, registration in _AUTO_MODULES.items():
        if module_name in sys.modules:  # transformers came first: its Auto module is loaded
            registration()


def __getattr__(name: str):
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'mof_models' has no attribute {name!r}")


_install_hook()
