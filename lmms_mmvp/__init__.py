"""lmms-mmvp's top layer: the lmms-eval entry point and task hook, and the ``mmvp`` command.

Packages below it, each importing only downward: ``model_adapters`` (lmms-eval models) ->
``mof_models`` (Mixture-of-Features models and training); ``mmvp_tasks`` (the benchmark) stands
alone. Nothing imports this package.
"""

# The distribution's version, written here only: pyproject.toml reads it (setuptools' dynamic
# `attr`, without importing), results record it from the installed metadata.
__version__ = "0.1.0"
