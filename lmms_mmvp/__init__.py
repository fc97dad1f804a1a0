"""lmms-mmvp's top layer: the lmms-eval entry point and task hook, and the ``mmvp`` command.

Packages below it, each importing only downward: ``model_adapters`` (lmms-eval models) ->
``mof_models`` (Mixture-of-Features models and training); ``mmvp_tasks`` (the benchmark) stands
alone. Nothing imports this package.
"""

__version__ = "0.1.0"
