"""MMVP and its ablations as lmms-eval tasks (Tong et al., "Eyes Wide Shut?", CVPR 2024).

Importing this package is cheap: no torch, transformers or datasets at import time. The
distribution's version is ``lmms_mmvp.__version__`` (``importlib.metadata.version("lmms-mmvp")``).
"""
