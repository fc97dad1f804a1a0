"""What produced a score: data source, answer key, pattern mapping and package versions.

Every MMVP and MMVP-VLM results file carries this as the metric ``mmvp_provenance`` /
``mmvp_vlm_provenance`` (lmms-eval itself records only its own version, as ``lmms_eval_version``).
Versions are read from package metadata: nothing is imported.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

PACKAGES = ("lmms-mmvp", "lmms-eval", "transformers", "torch", "datasets")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that decide a score ("not installed" when absent)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def describe_source(data_dir: Path, questions_csv: Path, hub_repo: str) -> str:
    """``hub <repo>@<commit>`` for a huggingface_hub snapshot, else ``local <dir>``; both with
    the sha256 of the questions file, so two runs on different copies can never be confused."""
    digest = hashlib.sha256(questions_csv.read_bytes()).hexdigest()[:16]
    data_dir = data_dir.resolve()
    if data_dir.parent.name == "snapshots":  # huggingface_hub's <cache>/snapshots/<commit>
        return f"hub {hub_repo}@{data_dir.name} ({questions_csv.name} sha256:{digest})"
    return f"local {data_dir} ({questions_csv.name} sha256:{digest})"


def summarize(records: list[dict], keys: tuple[str, ...]) -> dict:
    """The distinct values of ``keys`` across per-document records, plus package versions."""
    summary = {key: ",".join(sorted({str(r.get(key, "")) for r in records})) for key in keys}
    return {**summary, "versions": package_versions()}
