"""CLIP-blind pair mining (``mmvp mine``): how the paper built MMVP, at scale.

``sources`` lists the images, ``embeddings`` encodes them with CLIP and DINOv2 into resumable
shards, skipping unreadable images (``ray_encode`` spreads that over a Ray cluster), ``search``
finds every pair above the CLIP threshold (exhaustively, or within FAISS k-means cells) and tests
it with DINOv2, ``output`` writes the pairs CSV, the summary, the contact sheet and the MMVP
annotation skeleton, ``command`` is the CLI. Heavy libraries (torch, transformers, faiss, ray)
are imported only when used.
"""

from lmms_mmvp.mining.command import add_parser

__all__ = ["add_parser"]
