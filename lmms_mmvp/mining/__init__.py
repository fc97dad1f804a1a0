"""CLIP-blind pair mining (``mmvp mine``): how the paper built MMVP, at scale.

``sources`` lists the images, ``embeddings`` encodes them with CLIP and DINOv2 into resumable
shards (``ray_encode`` spreads that over a Ray cluster), ``search`` finds the pairs with FAISS,
``output`` writes the pairs CSV, the contact sheet and the MMVP annotation skeleton, ``command``
is the CLI. Heavy libraries (torch, transformers, faiss, ray) are imported only when used.
"""

from lmms_mmvp.mining.command import add_parser

__all__ = ["add_parser"]
