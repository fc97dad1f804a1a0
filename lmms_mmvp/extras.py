"""Optional dependencies of the ``mmvp`` tools: each comes with an extra of lmms-mmvp.

A command checks for what it needs before it starts, so a missing package is one line naming the
extra to install, not a traceback halfway through (``pip install -e ".[dev]"`` installs them all).
"""

from __future__ import annotations

import importlib.util

# module -> (distribution, extra of lmms-mmvp that installs it)
EXTRAS = {
    "skimage": ("scikit-image", "synth"),
    "matplotlib": ("matplotlib", "correlate"),
    "accelerate": ("accelerate", "train"),
    "faiss": ("faiss-cpu", "mine"),
    "threadpoolctl": ("threadpoolctl", "mine"),
    "ray": ("ray[data]", "mine"),
}


class MissingExtraError(RuntimeError):
    """A tool's optional dependency is not installed; the message names the extra."""


def require(module: str, command: str) -> None:
    """Raise :class:`MissingExtraError` when ``module`` (a key of :data:`EXTRAS`) is missing."""
    distribution, extra = EXTRAS[module]
    if importlib.util.find_spec(module) is None:  # looked up, not imported (accelerate pulls torch)
        raise MissingExtraError(
            f"mmvp {command} needs {distribution}: pip install 'lmms-mmvp[{extra}]'"
        )
