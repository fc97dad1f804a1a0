"""The MMVP tasks as lmms-eval runs them: version, documents, per-document scorer, aggregations.

Read from this package's task YAMLs with lmms-eval's own YAML loader, so verifying or grading
scores and aggregates exactly as the task does, with whatever scoring code is current.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from lmms_mmvp.plugin import TASKS_DIR
from mmvp_tasks import scoring

# Re-grading needs the paper's paid LLM judge: its logged verdicts are re-aggregated instead.
JUDGED_TASKS = frozenset({"mmvp_official"})
RECORD_METRIC = "mmvp_pair_accuracy"  # every metric receives the same per-question record


class UnknownTaskError(ValueError):
    """A task name that is not one of this package's MMVP tasks."""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    version: float
    process_docs: Callable
    process_results: Callable
    aggregations: dict[str, Callable]  # metric name -> aggregation, as in the YAML's metric_list

    def documents(self, data_dir: Path, answer_key: str) -> list[dict]:
        """The task's documents (without images) for the data in ``data_dir``."""
        with _environ(MMVP_DATA_DIR=str(data_dir), MMVP_ANSWER_KEY=answer_key):
            docs = self.process_docs(None)
        return docs.remove_columns("image").to_list()

    def score(self, doc: dict, response: str) -> dict:
        """``{metric: per-document value}`` for one response, as lmms-eval gets it."""
        return self.process_results(doc, [response])

    def aggregate(self, per_document: list[dict]) -> dict:
        """``{metric: value}`` from per-document results, as lmms-eval aggregates them."""
        return {m: agg([d[m] for d in per_document]) for m, agg in self.aggregations.items()}


@cache
def task_spec(name: str) -> TaskSpec:
    from lmms_eval.utils import load_yaml_config

    path = _task_yaml_files().get(name)
    if path is None:
        raise UnknownTaskError(
            f"{name!r} is not an MMVP task of this package (known: {sorted(_task_yaml_files())})"
        )
    config = load_yaml_config(str(path), mode="full")
    return TaskSpec(
        name=name,
        version=float(config["metadata"]["version"]),
        process_docs=config["process_docs"],
        process_results=config["process_results"],
        aggregations={m["metric"]: m["aggregation"] for m in config["metric_list"]},
    )


def pair_outcomes(records: list[dict]) -> dict[int, bool]:
    """``{pair_id: both right}`` for the pairs the task's scorer counts (its pair accuracy of each
    pair alone, so unscored pairs follow whatever rule the scorer applies)."""
    by_pair: dict[int, list[dict]] = defaultdict(list)
    for record in records:
        by_pair[record["pair_id"]].append(record)
    outcomes = {}
    with _quiet(scoring.logger):  # one "pair not scored" warning per pair would drown the output
        for pair_id, members in sorted(by_pair.items()):
            accuracy = scoring.pair_accuracy(members)
            if accuracy is not None and not math.isnan(accuracy):  # None: a failed request
                outcomes[pair_id] = accuracy == 1.0
    return outcomes


@lru_cache(maxsize=1)
def _task_yaml_files() -> dict[str, Path]:
    from lmms_eval.utils import load_yaml_config

    found = {}
    for path in sorted(TASKS_DIR.rglob("*.yaml")):
        config = load_yaml_config(str(path), mode="simple")
        if isinstance(config.get("task"), str) and "process_results" in str(config):
            found[config["task"]] = path
    return found


@contextlib.contextmanager
def _environ(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _quiet(logger: logging.Logger):
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
