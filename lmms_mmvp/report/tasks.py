"""The MMVP tasks as lmms-eval runs them: version, documents, per-document scorer, aggregations.

Version, scorer and aggregations are read from this package's task YAMLs with lmms-eval's own YAML
loader, so grading aggregates exactly as the task does, with whatever scoring code is current.
Documents are built from a folder's ``Questions.csv`` alone (no images, no data directory from
the environment): what grading and verifying answers that already exist need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from lmms_mmvp.plugin import TASKS_DIR
from lmms_mmvp.report.schema import quiet_scoring
from mmvp_tasks import ablations, harness

# Graded by the paper's paid LLM judge: `report add` re-reads the logged judge replies instead.
JUDGED_TASKS = frozenset({"mmvp_official"})
RECORD_METRIC = "mmvp_pair_accuracy"  # every metric receives the same per-question record
# What each task's process_docs does to the options (mmvp_tasks.harness.process_docs_*).
_TRANSFORMS = {
    "mmvp_option_swap": ablations.swap_options,
    "mmvp_symbol_change": ablations.change_symbols,
}


class UnknownTaskError(ValueError):
    """A task name that is not one of this package's MMVP tasks."""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    version: float
    process_results: Callable
    aggregations: dict[str, Callable]  # metric name -> aggregation, as in the YAML's metric_list

    def documents(self, data_dir: Path, answer_key: str) -> list[dict]:
        """The task's documents for ``data_dir/Questions.csv`` (images are not read)."""
        transform = _TRANSFORMS.get(self.name)
        source = harness.data_source_from_env(data_dir, answer_key)  # MMVP_PATTERNS_CSV, if set
        return harness.document_rows(source, transform, images=False)

    def score(self, doc: dict, response: str) -> dict:
        """``{metric: per-document value}`` for one response, as lmms-eval gets it (mmvp_official
        asks its judge, configured from the environment)."""
        return self.process_results(doc, [response])

    def aggregate(self, per_document: list[dict]) -> dict:
        """``{metric: value}`` from per-document results, as lmms-eval aggregates them."""
        with quiet_scoring():
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
        process_results=config["process_results"],
        aggregations={m["metric"]: m["aggregation"] for m in config["metric_list"]},
    )


@lru_cache(maxsize=1)
def _task_yaml_files() -> dict[str, Path]:
    from lmms_eval.utils import load_yaml_config

    found = {}
    for path in sorted(TASKS_DIR.rglob("*.yaml")):
        config = load_yaml_config(str(path), mode="simple")
        if isinstance(config.get("task"), str) and "process_results" in str(config):
            found[config["task"]] = path
    return found
