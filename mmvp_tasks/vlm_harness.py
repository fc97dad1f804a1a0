"""lmms-eval glue for the ``mmvp_vlm`` task: the functions its YAML references.

``mmvp_vlm`` is a ``loglikelihood`` task. Its documents are (statement, image) combinations: each
of the 270 statements with both images of its pair = 540 documents (see
:func:`mmvp_tasks.vlm_data.scoring_documents`). The context is empty and the target is
``'a photo of ' + Statement``; a model returns one score per document (an encoder its image-text
logit, a generative model the log-likelihood of the target given the image), and
:mod:`mmvp_tasks.vlm_scoring` turns the scores into the paper's per-pattern pair accuracies.
As for ``mmvp``, a one-row descriptor satisfies lmms-eval's loader and ``process_docs`` (the hook,
which reads ``MMVP_VLM_DATA_DIR``, else the hub ``MMVP/MMVP_VLM``) loads the validated data.
"""

from __future__ import annotations

from functools import lru_cache, partial
from pathlib import Path

from mmvp_tasks import provenance, vlm_scoring
from mmvp_tasks.patterns import PATTERNS
from mmvp_tasks.vlm_data import (
    HUB_REPO,
    QUESTIONS_FILE,
    read_statements,
    resolve_vlm_data_dir,
    scoring_documents,
)


@lru_cache(maxsize=2)
def _statements(data_dir: Path):
    return read_statements(data_dir)


def process_docs(_descriptor):
    """lmms-eval hook: the scoring documents of the data the environment names."""
    return load_documents(resolve_vlm_data_dir())


def load_documents(data_dir: Path):
    """The validated MMVP-VLM data of ``data_dir`` as scoring documents (``datasets.Dataset``)."""
    import datasets

    source = provenance.describe_source(data_dir, data_dir / QUESTIONS_FILE, HUB_REPO)
    rows = [{**d, "data_source": source} for d in scoring_documents(_statements(data_dir))]
    features = datasets.Features(
        {
            "Question ID": datasets.Value("int32"),
            "Type": datasets.Value("string"),
            "Statement": datasets.Value("string"),
            "pattern": datasets.Value("string"),
            "pair_id": datasets.Value("int32"),
            "image_slot": datasets.Value("int32"),
            "image": datasets.Image(),
            "data_source": datasets.Value("string"),
        }
    )
    return datasets.Dataset.from_list(rows, features=features)


def doc_to_visual(doc):
    return [doc["image"].convert("RGB")]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    """The context before the scored statement: empty (the image alone conditions it)."""
    return ""


def doc_to_target(doc):
    return vlm_scoring.statement_text(doc["Statement"])


METRICS = (
    "mmvp_vlm_average",
    *(f"mmvp_vlm_{p.slug}" for p in PATTERNS),
    "mmvp_vlm_scored_pairs",
    "mmvp_vlm_incomplete_pairs",
    "mmvp_vlm_provenance",
)


def process_results(doc, results):
    """``results`` = ``[(score, is_greedy)]``: one loglikelihood response per document."""
    return dict.fromkeys(METRICS, vlm_scoring.make_record(doc, loglikelihood_score(results[0])))


def loglikelihood_score(response) -> float:
    """The score of a ``(score, is_greedy)`` response. lmms-eval 0.7.3's
    ``unwrap_generation_output`` turns that tuple into its ``str`` (repr floats: exact)."""
    if isinstance(response, str):
        return float(response.strip().strip("()").rsplit(",", 1)[0])
    return float(response[0])


# Named one by one: the YAML references them as ``!function mmvp_tasks.vlm_harness.<name>``.
aggregate_average = vlm_scoring.average_score
aggregate_scored_pairs = vlm_scoring.scored_pairs
aggregate_incomplete_pairs = vlm_scoring.incomplete_pairs
aggregate_pattern_od = partial(vlm_scoring.pattern_score, code="od")
aggregate_pattern_pf = partial(vlm_scoring.pattern_score, code="pf")
aggregate_pattern_sc = partial(vlm_scoring.pattern_score, code="sc")
aggregate_pattern_qc = partial(vlm_scoring.pattern_score, code="qc")
aggregate_pattern_pr = partial(vlm_scoring.pattern_score, code="pr")
aggregate_pattern_ca = partial(vlm_scoring.pattern_score, code="ca")
aggregate_pattern_sh = partial(vlm_scoring.pattern_score, code="sh")
aggregate_pattern_tx = partial(vlm_scoring.pattern_score, code="tx")
aggregate_pattern_vp = partial(vlm_scoring.pattern_score, code="vp")


def aggregate_provenance(records):
    """Data source and package versions of the run."""
    return provenance.summarize(records, ("data_source",))
