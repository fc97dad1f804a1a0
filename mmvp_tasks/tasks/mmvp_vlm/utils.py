"""Thin lmms-eval hooks (this file is loaded by path as a module named `utils`).

The logic lives in the importable, tested module :mod:`mmvp_tasks.vlm_harness`.
"""

from mmvp_tasks.vlm_harness import (  # noqa: F401
    aggregate_average,
    aggregate_incomplete_pairs,
    aggregate_pattern,
    aggregate_scored_pairs,
    doc_to_target,
    doc_to_text,
    doc_to_visual,
    process_docs,
    process_results,
)

aggregate_pattern_od = aggregate_pattern["od"]
aggregate_pattern_pf = aggregate_pattern["pf"]
aggregate_pattern_sc = aggregate_pattern["sc"]
aggregate_pattern_qc = aggregate_pattern["qc"]
aggregate_pattern_pr = aggregate_pattern["pr"]
aggregate_pattern_ca = aggregate_pattern["ca"]
aggregate_pattern_sh = aggregate_pattern["sh"]
aggregate_pattern_tx = aggregate_pattern["tx"]
aggregate_pattern_vp = aggregate_pattern["vp"]
