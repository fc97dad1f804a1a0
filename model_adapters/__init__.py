"""lmms-eval model adapters of the lmms-mmvp plugin (ids in :mod:`model_adapters.manifests`)."""
