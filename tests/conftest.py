"""Shared fixtures: the real MMVP questions (shipped in mmvp_tasks/questions) with stand-in images,
synthetic data, and tiny random checkpoints, each built once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.mmvp_data import real_rows, write_mmvp_dir
from tests.support.mof import MIXINGS
from tests.support.signals import let_children_take_ctrl_c


def pytest_configure(config):
    let_children_take_ctrl_c()  # the Ctrl-C tests interrupt subprocesses


@pytest.fixture(autouse=True)
def judge_cache_per_test(tmp_path, monkeypatch):
    """A fresh LLM-judge cache for every test: verdicts of one fake judge server must never
    answer another test's requests (nor touch the user's ~/.cache)."""
    monkeypatch.setenv("MMVP_JUDGE_CACHE", str(tmp_path / "judge-cache"))


@pytest.fixture(scope="session")
def real_mmvp_dir(tmp_path_factory) -> Path:
    """The 300 real questions (original key) with stand-in images; read-only for tests."""
    return write_mmvp_dir(tmp_path_factory.mktemp("real_mmvp"), real_rows())


@pytest.fixture
def copy_of_real_mmvp(real_mmvp_dir, tmp_path) -> Path:
    """A writable copy, for tests that break the data on purpose."""
    return Path(shutil.copytree(real_mmvp_dir, tmp_path / "mmvp"))


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory):
    from mmvp_tasks.synth import write_synthetic_data

    return write_synthetic_data(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="session")
def tiny_llava(tiny_checkpoint) -> Path:
    return tiny_checkpoint("llava", "byte_level")


@pytest.fixture(scope="session")
def tiny_instructblip(tiny_checkpoint) -> Path:
    return tiny_checkpoint("instructblip", "byte_level")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """``tiny_checkpoint(kind, tokenizer)``: a saved tiny ``llava``, ``instructblip`` or ``mof``
    checkpoint with a tokenizer of tests.support.tiny_tokenizers, built once per session."""
    from tests.support.tiny_models import (
        build_tiny_instructblip,
        build_tiny_llava,
        build_tiny_mof_checkpoint,
    )

    builders = {
        "llava": build_tiny_llava,
        "instructblip": build_tiny_instructblip,
        "mof": build_tiny_mof_checkpoint,
    }
    built = {}

    def get(kind: str, tokenizer: str) -> Path:
        if (kind, tokenizer) not in built:
            out_dir = tmp_path_factory.mktemp(f"tiny_{kind}_{tokenizer}")
            built[kind, tokenizer] = builders[kind](out_dir, tokenizer=tokenizer)
        return built[kind, tokenizer]

    return get


@pytest.fixture(scope="session")
def tiny_mof_models():
    """``{mixing: (model, processor)}``, eval mode, shared: tests must not modify them."""
    from mof_models.tiny import build_tiny_mof

    return {mixing: build_tiny_mof(mixing, seed=1) for mixing in MIXINGS}


@pytest.fixture(scope="session")
def tiny_mof_dir(tmp_path_factory) -> Path:
    """A saved tiny I-MoF checkpoint (read-only for tests)."""
    from mof_models.tiny import save_tiny_mof

    return save_tiny_mof(tmp_path_factory.mktemp("tiny_mof"), "interleave")


@pytest.fixture(scope="session")
def synthetic_train_dir(tmp_path_factory) -> Path:
    """Synthetic MMVP-layout training data (seed 1, 64 px)."""
    from mmvp_tasks.synth import ensure_synthetic_data

    return ensure_synthetic_data(tmp_path_factory.mktemp("mof_train_data"), seed=1, image_size=64)
