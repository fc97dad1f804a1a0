"""MMVP and its ablations as lmms-eval tasks (Tong et al., "Eyes Wide Shut?", CVPR 2024).

Importing this package is cheap: no torch, transformers or datasets at import time.
"""

__version__ = "0.1.0"
