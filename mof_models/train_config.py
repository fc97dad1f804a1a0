"""Training configs: YAML files (``mof_models/configs``) -> a validated :class:`TrainConfig`.

A config may ``include:`` other files (relative paths, merged first, this file winning) and any
key can be overridden with a dotted path (``--set training.max_steps=10``). Unknown keys, missing
keys and impossible combinations are errors that name the key.
"""

from __future__ import annotations

import json
import os
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).parent
DTYPES = ("float32", "bfloat16", "float16")


class ConfigError(ValueError):
    """A training config that cannot run; the message names the key."""


@dataclass(frozen=True)
class ModelSource:
    """Exactly one of ``pretrained`` (a MoF checkpoint, e.g. stage 1's ``final``), ``build``
    (``assemble_mof`` arguments: ``clip``, ``dino``, ``lm``, ``mixing``, ...) or ``tiny``
    (``build_tiny_mof`` arguments)."""

    pretrained: str | None = None
    build: dict | None = None
    tiny: dict | None = None
    dtype: str = "float32"  # weights as loaded; bf16 autocast comes from training.bf16


@dataclass(frozen=True)
class LoraSettings:
    """Stage 2 only: LoRA on every linear layer of the LM (LLaVA-1.5's LoRA recipe: 128/256)."""

    r: int = 128
    alpha: int = 256
    dropout: float = 0.05


@dataclass(frozen=True)
class DataSettings:
    """Exactly one source: ``json`` (LLaVA JSON/JSONL + ``image_folder``) or ``hub``
    (``datasets.load_dataset`` arguments, with ``split``)."""

    json: str | None = None
    hub: dict | None = None
    image_folder: str | None = None
    format: str = "chat"  # "plain": LLaVA's stage-1 caption template
    image_aspect_ratio: str = "crop"  # "pad": square with the mean colour (LLaVA-1.5 stage 2)
    max_length: int = 2048


@dataclass(frozen=True)
class TrainConfig:
    stage: int
    model: ModelSource
    data: DataSettings
    training: dict  # transformers.TrainingArguments fields; save_total_limit is handled here
    lora: LoraSettings | None = None


def load_config(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML config (its ``include:`` files first), apply dotted ``overrides``, validate."""
    raw = _read_yaml(Path(path))
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    return _parse_config(raw)


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    raw = yaml.safe_load(path.read_text()) or {}
    includes = raw.pop("include", [])
    merged: dict = {}
    for include in [includes] if isinstance(includes, str) else includes:
        merged = _deep_merge(merged, _read_yaml(path.parent / include))
    return _deep_merge(merged, raw)


def _deep_merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _deep_merge(merged[key], value)
        merged[key] = value
    return merged


def _set_dotted(raw: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted!r}: {key!r} is not a mapping")
    node[leaf] = value


def _parse_config(raw: dict) -> TrainConfig:
    section = _section(TrainConfig, raw, "config")
    config = TrainConfig(
        stage=section["stage"],
        model=ModelSource(**_section(ModelSource, section["model"], "model")),
        data=DataSettings(**_section(DataSettings, section["data"], "data")),
        training=dict(section["training"]),
        lora=LoraSettings(**_section(LoraSettings, section["lora"], "lora"))
        if section.get("lora") is not None
        else None,
    )
    _check_config(config)
    return config


def _section(cls, raw: Any, name: str) -> dict:
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a mapping, got {raw!r}")
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{name}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    required = {f.name for f in fields(cls) if f.default is MISSING}
    missing = sorted(required - set(raw))
    if missing:
        raise ConfigError(f"{name}: missing key(s) {missing}")
    return raw


def _check_config(config: TrainConfig) -> None:
    if config.stage not in (1, 2):
        raise ConfigError(f"stage must be 1 or 2, got {config.stage!r}")
    if config.model.dtype not in DTYPES:
        raise ConfigError(f"model.dtype must be one of {DTYPES}, got {config.model.dtype!r}")
    if config.lora is not None and config.stage != 2:
        raise ConfigError("lora: LoRA adapts the LM, which only stage 2 trains")
    sources = [k for k in ("pretrained", "build", "tiny") if getattr(config.model, k) is not None]
    if len(sources) != 1:
        raise ConfigError(f"model: give exactly one of pretrained, build, tiny; got {sources}")
    data_sources = [k for k in ("json", "hub") if getattr(config.data, k) is not None]
    if len(data_sources) != 1:
        raise ConfigError(f"data: give exactly one of json, hub; got {data_sources}")
    if config.data.image_aspect_ratio not in ("crop", "pad"):
        raise ConfigError(
            f"data.image_aspect_ratio must be crop or pad, got {config.data.image_aspect_ratio!r}"
        )
    if "output_dir" not in config.training:
        raise ConfigError("training: output_dir is required")
    zero3 = deepspeed_stage(config.training) == 3
    if config.lora is not None and zero3:
        raise ConfigError("lora with ZeRO-3 is not supported (the final merge needs whole weights)")


def deepspeed_stage(training: dict) -> int | None:
    deepspeed = training.get("deepspeed")
    if deepspeed is None:
        return None
    if isinstance(deepspeed, dict):
        return deepspeed.get("zero_optimization", {}).get("stage")
    path = deepspeed_path(deepspeed)
    return json.loads(path.read_text()).get("zero_optimization", {}).get("stage")


def deepspeed_path(name: str) -> Path:
    """``zero2`` / ``zero3`` name the configs shipped in ``mof_models/deepspeed``."""
    shipped = PACKAGE_DIR / "deepspeed" / f"{name}.json"
    path = shipped if shipped.is_file() else Path(name)
    if not path.is_file():
        raise ConfigError(f"training.deepspeed: {name!r} is neither zero2, zero3 nor a file")
    return path


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        overrides[key] = yaml.safe_load(value)
    return overrides
