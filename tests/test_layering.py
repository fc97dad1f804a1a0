"""Imports run one way: lmms_mmvp -> model_adapters -> mof_models; mmvp_tasks stands alone, and
model_adapters may use three of its modules (response outcomes, the request engine and its
OpenAI-protocol requests, which the tasks' judge sends too).

Two checks keep the picture true: every import statement of the packages (module-level and the
lazy ones inside functions, read with ``ast``) against the allowed edges, and fresh interpreters
that import whole packages and look at ``sys.modules``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT = ("lmms_mmvp", "model_adapters", "mmvp_tasks", "mof_models", "tests", "benchmarks")
# package -> project modules it may import (a prefix allows the package's submodules)
ALLOWED = {
    "lmms_mmvp": ("lmms_mmvp", "model_adapters", "mmvp_tasks", "mof_models"),
    "model_adapters": (
        "model_adapters",
        "mof_models",
        "mmvp_tasks.markers",
        "mmvp_tasks.request_engine",
        "mmvp_tasks.openai_requests",
    ),
    "mmvp_tasks": ("mmvp_tasks",),
    "mof_models": ("mof_models",),
}


def _project_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in PROJECT}


def _allowed(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") or p.startswith(name + ".") for p in prefixes)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_every_import_statement_points_down(package):
    wrong = {}
    for path in sorted((REPO / package).rglob("*.py")):
        bad = {n for n in _project_imports(path) if not _allowed(n, ALLOWED[package])}
        if bad:
            wrong[str(path.relative_to(REPO))] = sorted(bad)
    assert not wrong, f"imports against the layering: {wrong}"


def test_tests_and_benchmarks_share_support_not_each_other():
    wrong = {}
    for path in sorted([*(REPO / "tests").rglob("*.py"), *(REPO / "benchmarks").glob("*.py")]):
        names = _project_imports(path)
        bad = {n for n in names if n.startswith("benchmarks") or n.startswith("tests.test_")}
        bad |= {n for n in names if n.startswith("tests.conftest")}
        if bad:
            wrong[str(path.relative_to(REPO))] = sorted(bad)
    assert not wrong, f"test files or benchmarks imported directly: {wrong}"


_IMPORT_ALL = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    if info.name.rsplit(".", 1)[-1] not in sys.argv[2:]:
        importlib.import_module(info.name)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def _top_level_modules_after_importing(package: str, *skip: str) -> set[str]:
    completed = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, package, *skip],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return set(json.loads(completed.stdout.splitlines()[-1]))


def test_mof_models_imports_without_lmms_eval_or_the_benchmark():
    # vllm_mof needs vllm, which only a vLLM environment has
    loaded = _top_level_modules_after_importing("mof_models", "vllm_mof")
    assert not loaded & {"lmms_eval", "mmvp_tasks", "model_adapters", "lmms_mmvp"}


def test_mmvp_tasks_imports_nothing_of_the_project_and_no_torch():
    loaded = _top_level_modules_after_importing("mmvp_tasks")
    assert not loaded & {"mof_models", "model_adapters", "lmms_mmvp", "torch", "transformers"}


def test_the_plugin_entry_point_stays_cheap():
    """What lmms-eval imports at every start: no torch, transformers, openai or the models."""
    code = (
        "import sys, time; t = time.perf_counter(); import lmms_mmvp.plugin, "
        "model_adapters.manifests; ms = 1000 * (time.perf_counter() - t); "
        "print(sorted({m.split('.')[0] for m in sys.modules})); print(ms)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    modules = completed.stdout.splitlines()[0]
    for heavy in ("torch", "transformers", "openai", "mof_models", "datasets", "PIL"):
        assert f"'{heavy}'" not in modules


def _environment_writes(path: Path) -> int:
    """``os.environ[...] = ...``, ``os.environ.update/setdefault/pop/...``, ``os.putenv``."""
    writes = 0
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else []
        writes += sum(
            isinstance(t, ast.Subscript) and ast.unparse(t.value) == "os.environ" for t in targets
        )
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner, name = ast.unparse(node.func.value), node.func.attr
            writes += owner == "os.environ" and name in {"update", "setdefault", "pop", "clear"}
            writes += owner == "os" and name in {"putenv", "unsetenv"}
    return writes


def test_library_code_never_writes_the_environment():
    """Settings travel as arguments: the task hooks and tools read the environment, nothing of
    the packages rewrites it for another part to read."""
    found = {}
    for package in ALLOWED:
        for path in sorted((REPO / package).rglob("*.py")):
            if writes := _environment_writes(path):
                found[str(path.relative_to(REPO))] = writes
    assert not found, f"library code writing os.environ: {found}"
