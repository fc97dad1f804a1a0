"""What a user installs: one version, the licences, the tools' extras, the lint pins, and a wheel
built from the repository's files alone that carries its package data."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

from lmms_mmvp import cli, extras

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGES = ("lmms_mmvp", "model_adapters", "mmvp_tasks", "mof_models")


def _locked(package: str) -> str:
    match = re.search(rf"^{package}==(\S+)", (REPO / "requirements.lock").read_text(), re.M)
    assert match, f"{package} is not in requirements.lock"
    return match[1]


def test_the_version_is_written_once():
    import lmms_mmvp

    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "lmms_mmvp.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", lmms_mmvp.__version__)
    written = [
        str(path.relative_to(REPO))
        for package in PACKAGES
        for path in (REPO / package).rglob("*.py")
        if re.search(r"^__version__\s*=", path.read_text(), re.M)
    ]
    assert written == ["lmms_mmvp/__init__.py"]


def test_licence_files_exist_and_the_build_backend_reads_spdx_licences():
    project = PYPROJECT["project"]
    assert project["license"] == "MIT"
    for name in project["license-files"]:
        assert (REPO / name).is_file(), name
    assert "MIT License" in (REPO / "LICENSE").read_text()
    # `license = "MIT"` (an SPDX expression) and `license-files` need setuptools 77
    assert PYPROJECT["build-system"]["requires"] == ["setuptools>=77"]


def test_pre_commit_runs_the_locked_ruff():
    config = (REPO / ".pre-commit-config.yaml").read_text()
    pins = set(re.findall(r'"ruff==([^"]+)"', config))
    assert pins == {_locked("ruff")}


def test_ci_lints_before_the_tests():
    script = (REPO / ".ci" / "run").read_text()
    check, fmt, tests = (
        script.index(s) for s in ("ruff check .", "ruff format --check .", "pytest")
    )
    assert check < tests and fmt < tests


def test_the_readme_install_command_pulls_every_tool_extra():
    """The README installs ``.[dev,api,clip,train,mine]``: dev brings the tools' extras."""
    readme = (REPO / "README.md").read_text()
    assert '-e ".[dev,api,clip,train,mine]"' in readme
    optional = PYPROJECT["project"]["optional-dependencies"]
    tool_extras = {extra for _, extra in extras.EXTRAS.values()} - {"train", "mine"}  # named there
    assert f"lmms-mmvp[{','.join(sorted(tool_extras))}]" in optional["dev"]
    for distribution, extra in extras.EXTRAS.values():
        assert any(req.startswith(distribution) for req in optional[extra]), (extra, distribution)
    core = " ".join(PYPROJECT["project"]["dependencies"])
    assert "scikit-image" not in core and "matplotlib" not in core


@pytest.mark.parametrize(
    "argv, module, extra",
    [
        (["synth", "--out", "{tmp}/synth"], "skimage", "synth"),
        (["demo", "--workdir", "{tmp}/demo"], "skimage", "synth"),
        (["demo", "--workdir", "{tmp}/demo"], "accelerate", "train"),
        (["correlate", "--encoder", "{tmp}/a.json", "--mllm", "m={tmp}/b.json"], "matplotlib",
         "correlate"),
        (["mine", "--images", "{tmp}", "--out", "{tmp}/mined"], "faiss", "mine"),
        (["mine", "--images", "{tmp}", "--out", "{tmp}/mined", "--ray"], "ray", "mine"),
    ],
)  # fmt: skip
def test_a_missing_tool_extra_is_one_line_naming_it(
    argv, module, extra, tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    status = cli.main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and f"pip install 'lmms-mmvp[{extra}]'" in err
    assert list(tmp_path.iterdir()) == []  # refused before writing anything


@pytest.mark.slow
def test_a_wheel_built_from_the_tracked_files_carries_the_package_data(tmp_path):
    """Built as a registry would: from the repository's files only, in an isolated build."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
        text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    source = tmp_path / "src"
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((REPO / name).read_bytes())
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    (wheel,) = tmp_path.glob("lmms_mmvp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    import lmms_mmvp

    for path in (
        "mmvp_tasks/questions/Questions.csv",
        "mmvp_tasks/questions/patterns_amvicc.csv",
        "mmvp_tasks/questions/NOTICE.md",
        "mmvp_tasks/tasks/mmvp/_default_template_yaml",
        "mmvp_tasks/tasks/mmvp/mmvp_official.yaml",
        "mmvp_tasks/tasks/mmvp_vlm/mmvp_vlm_source.json",
        "mof_models/configs/tiny_demo.yaml",
        "mof_models/deepspeed/zero3.json",
        "lmms_mmvp/report/reference.json",
        f"lmms_mmvp-{lmms_mmvp.__version__}.dist-info/licenses/LICENSE",
    ):
        assert path in names, path
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    dist_info = f"lmms_mmvp-{lmms_mmvp.__version__}.dist-info"
    metadata = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    for field in ("License-Expression: MIT", "Requires-Python: >=3.10", "Classifier: ",
                  "Project-URL: Paper, https://arxiv.org/abs/2401.06209",
                  "Description-Content-Type: text/markdown", 'extra == "synth"'):  # fmt: skip
        assert field in metadata, field


def test_the_task_readme_names_every_task_group_and_metric():
    from mmvp_tasks.patterns import PATTERNS

    readme = (REPO / "mmvp_tasks" / "tasks" / "README.md").read_text()
    yamls = "\n".join(p.read_text() for p in (REPO / "mmvp_tasks" / "tasks").rglob("*yaml"))
    names = set(re.findall(r"^(?:task|group): (\w+)", yamls, re.M))
    metrics = set(re.findall(r"- metric: (\w+)", yamls))
    slugs = "|".join(p.slug for p in PATTERNS)
    general = {re.sub(rf"_({slugs})(?=_unofficial$|$)", "_<pattern>", m) for m in metrics}
    assert {"mmvp", "mmvp_ablation", "mmvp_official", "mmvp_vlm"} <= names
    missing = sorted(n for n in names | general if f"`{n}`" not in readme)
    assert not missing, f"not in mmvp_tasks/tasks/README.md: {missing}"
    assert "arXiv:2401.06209" in readme and "@article{" in readme
