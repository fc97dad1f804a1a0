"""The mof_llava adapter on a tiny random I-MoF checkpoint built from config."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from model_adapters.mof_llava import MofLlavaAdapter
from tests.support.mof import (
    images,
)

PROMPTS = [
    "Is the arrow pointing up or down?\nA. Up\nB. Down",
    "Which side?",
    "What colour is the square? Answer with the option's letter from the given choices directly.",
    "Open or closed?",
    "Left",
]


def _requests(gen_kwargs=None):
    docs = [{"image": image} for image in images(len(PROMPTS))]
    gen = gen_kwargs or {"max_new_tokens": 6, "temperature": 0, "do_sample": False}
    requests = [
        SimpleNamespace(args=(p, dict(gen), lambda doc: [doc["image"]], i, "task", "test"))
        for i, p in enumerate(PROMPTS)
    ]
    return requests, {"task": {"test": docs}}


@pytest.fixture(scope="module")
def adapter(tiny_mof_dir):
    return MofLlavaAdapter(pretrained=str(tiny_mof_dir), device="cpu", dtype="float32")


def _run(adapter, batch_size, gen_kwargs=None):
    requests, task_dict = _requests(gen_kwargs)
    adapter.task_dict = task_dict
    adapter.batch_size_per_process = batch_size
    return adapter.generate_until(requests)


def test_batched_generation_equals_one_by_one(adapter):
    single = _run(adapter, 1)
    assert len(single) == len(PROMPTS) and any(single)
    assert _run(adapter, 4) == single  # left padding must not change greedy outputs


def test_prompt_goes_through_the_chat_template_with_all_image_tokens(adapter):
    inputs = adapter._inputs(["Is it up?"], [images(1)])
    text = adapter.processor.tokenizer.decode(inputs["input_ids"][0])
    assert text.startswith("<s>USER: <image>") and text.endswith("Is it up? ASSISTANT:")
    assert (inputs["input_ids"] == adapter.model.config.image_token_id).sum() == 32


def test_dtype_is_honoured(tiny_mof_dir):
    adapter = MofLlavaAdapter(pretrained=str(tiny_mof_dir), device="cpu", dtype="bfloat16")
    assert adapter.model.dtype == torch.bfloat16
    assert len(_run(adapter, 2)) == len(PROMPTS)


def test_a_llava_checkpoint_is_refused(tiny_llava):
    with pytest.raises(ValueError, match="not a MoF checkpoint"):
        MofLlavaAdapter(pretrained=str(tiny_llava), device="cpu", dtype="float32")
