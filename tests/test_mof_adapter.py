"""The mof_llava adapter on a tiny random I-MoF checkpoint built from config."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from model_adapters.mof_llava import MofLlavaAdapter
from mof_models.data import IGNORE_INDEX, ConversationEncoder, parse_record
from tests.support.mof import (
    images,
)
from tests.support.tiny_tokenizers import TOKENIZERS

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
    return MofLlavaAdapter.create(pretrained=str(tiny_mof_dir), device="cpu", dtype="float32")


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


@pytest.mark.parametrize("tokenizer", sorted(TOKENIZERS))
def test_inference_ids_are_the_training_ids_with_one_bos(tiny_checkpoint, tokenizer):
    """Prompt (generation) and prompt + answer (log-likelihood scoring) are exactly the tokens
    training sees for that conversation; only the answer and its end-of-turn are learned."""
    checkpoint = tiny_checkpoint("mof", tokenizer)
    adapter = MofLlavaAdapter.create(pretrained=str(checkpoint), device="cpu", dtype="float32")
    question, answer = PROMPTS[0], "B. Down"
    record = {
        "image": "a.jpg",
        "conversations": [
            {"from": "human", "value": f"<image>\n{question}"},
            {"from": "gpt", "value": answer},
        ],
    }
    encoder = ConversationEncoder(adapter.processor, conversation_format="chat", max_length=512)
    train_ids, labels = encoder.encode(parse_record(record, 0))
    prompt = adapter._inputs([question], [images(1)])["input_ids"][0].tolist()
    bos = adapter.processor.tokenizer.bos_token_id
    assert prompt[0] == bos and prompt.count(bos) == 1
    assert train_ids[: len(prompt)] == prompt
    assert labels[: len(prompt)] == [IGNORE_INDEX] * len(prompt)
    scored, lengths = adapter._loglikelihood_inputs([question], [answer], [images(1)])
    eos = adapter.processor.tokenizer.eos_token_id
    assert train_ids == scored["input_ids"][0].tolist() + [eos]
    assert labels[-lengths[0] - 1 :] == train_ids[-lengths[0] - 1 :]
    assert labels[: -lengths[0] - 1] == [IGNORE_INDEX] * (len(labels) - lengths[0] - 1)


def test_dtype_is_honoured(tiny_mof_dir):
    adapter = MofLlavaAdapter.create(pretrained=str(tiny_mof_dir), device="cpu", dtype="bfloat16")
    assert adapter.model.dtype == torch.bfloat16
    assert len(_run(adapter, 2)) == len(PROMPTS)


def test_a_llava_checkpoint_is_refused(tiny_llava):
    with pytest.raises(ValueError, match="not a MoF checkpoint"):
        MofLlavaAdapter.create(pretrained=str(tiny_llava), device="cpu", dtype="float32")
