"""Deterministic synthetic MMVP / MMVP-VLM data (the embedded default for demos and tests).

    mmvp synth --out DIR [--seed 0] [--image-size 224]

Data card
---------
What it is
    A small, procedurally drawn stand-in for the two hub datasets of "Eyes Wide Shut? Exploring the
    Visual Shortcomings of Multimodal LLMs" (Tong et al., CVPR 2024), written offline from a seed.
    It is a SMOKE-TEST set: it exercises loaders, prompts, parsers and scorers end to end. Scores on
    it say nothing about a model's MMVP accuracy and must never be reported as benchmark results.

Layout (identical to the real datasets, so the same loaders read both)::

    <out_dir>/mmvp/Questions.csv             Index,Question,Options,Correct Answer (300 rows)
    <out_dir>/mmvp/MMVP Images/<Index>.jpg
    <out_dir>/mmvp/patterns.csv              Index,Pattern (pattern code of every row)
    <out_dir>/mmvp/train.json                the 300 questions as LLaVA conversations (below)
    <out_dir>/mmvp_vlm/Questions.csv         Question ID,Type,Statement (270 rows)
    <out_dir>/mmvp_vlm/MLLM_VLM Images/<Type>/<Question ID>.jpg
    <out_dir>/SYNTHETIC.json                 marker, written last: generator, version, seed, size

MMVP: 150 pairs; rows (2k-1, 2k) share Question and Options (``(a) X (b) Y``), show different
images and have opposite answers. Pair k belongs to ``PATTERNS[(k - 1) % 9]``. MMVP-VLM: 15 pairs
per pattern ``Type``, global IDs in ``PATTERNS`` order; each statement (lower case, without the
"a photo of" prefix the scorer adds) describes its own image.

``train.json`` is a LLaVA-format list, one record per MMVP row, so training code reads the set as
plain LLaVA data: ``{"id": "<Index>", "image": "MMVP Images/<Index>.jpg", "conversations":
[{"from": "human", "value": "<image>\\n" + prompt}, {"from": "gpt", "value": "A" or "B"}]}``,
where the prompt is the ``mmvp`` task's (``{Question}\\nA. X\\nB. Y`` and lmms-eval's letter
instruction). Train on a set generated with another seed than the one evaluated on.

Content: per pattern 3-4 question templates, each a pair of images drawn with PIL (plus faded or
rotated photos bundled with scikit-image) that really differ in the asked property, with seeded
colours, positions, sizes and backgrounds. Same seed and size give byte-identical files.

Safety: a run deletes only what an earlier run of this generator wrote, proven by its marker or
its in-progress file; any other content under ``mmvp/`` or ``mmvp_vlm/`` makes it stop with a
``FileExistsError`` (see ``mmvp_tasks.synth.writer``).

Modules: ``canvas`` (seeded drawing context, shape helpers), ``templates`` (one module per visual
pattern), ``writer`` (layouts, marker, ownership).
"""

from mmvp_tasks.synth.writer import (
    GENERATOR,
    IN_PROGRESS_NAME,
    MARKER_NAME,
    MMVP_HEADER,
    MMVP_IMAGE_DIR,
    MMVP_PAIRS,
    PATTERNS_HEADER,
    TRAIN_JSON,
    VERSION,
    VLM_HEADER,
    VLM_IMAGE_DIR,
    VLM_PAIRS_PER_TYPE,
    SyntheticPaths,
    ensure_synthetic_data,
    generated_files,
    write_synthetic_data,
)

__all__ = [
    "GENERATOR",
    "IN_PROGRESS_NAME",
    "MARKER_NAME",
    "MMVP_HEADER",
    "MMVP_IMAGE_DIR",
    "MMVP_PAIRS",
    "PATTERNS_HEADER",
    "TRAIN_JSON",
    "VERSION",
    "VLM_HEADER",
    "VLM_IMAGE_DIR",
    "VLM_PAIRS_PER_TYPE",
    "SyntheticPaths",
    "ensure_synthetic_data",
    "generated_files",
    "write_synthetic_data",
]
