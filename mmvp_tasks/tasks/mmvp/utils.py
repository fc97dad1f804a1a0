"""Thin lmms-eval hooks (this file is loaded by path as a module named `utils`).

The logic lives in the importable, tested module :mod:`mmvp_tasks.harness`.
"""

from mmvp_tasks.harness import (  # noqa: F401
    aggregate_answer_key,
    aggregate_failed_requests,
    aggregate_incomplete_pairs,
    aggregate_pair_accuracy,
    aggregate_pattern,
    aggregate_question_accuracy,
    aggregate_refusals,
    aggregate_scored_pairs,
    aggregate_unparseable,
    doc_to_target,
    doc_to_text,
    doc_to_text_official,
    doc_to_visual,
    process_docs_official,
    process_docs_option_swap,
    process_docs_original,
    process_docs_symbol_change,
    process_results,
    process_results_official,
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
