"""The local adapters (mmvp_llava, mmvp_instructblip) on tiny random checkpoints from configs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from model_adapters.instructblip import InstructBlipAdapter
from model_adapters.llava import LlavaAdapter
from tests.support.tiny_tokenizers import TOKENIZERS

ADAPTERS = {"llava": LlavaAdapter, "instructblip": InstructBlipAdapter}
# every adapter with every kind of tokenizer (byte-level; Llama-like Metaspace that adds BOS)
CASES = [(name, tokenizer) for name in sorted(ADAPTERS) for tokenizer in sorted(TOKENIZERS)]

PROMPTS = [
    "Is the arrow pointing up or down?\nA. Up\nB. Down",
    "Which side?",
    "What colour is the square? Answer with the option's letter from the given choices directly.",
    "Open or closed?",
    "Left",
]


def _requests(gen_kwargs=None):
    docs = [{"image": Image.new("RGB", (40, 30), (i * 40, 90, 200 - i * 30))} for i in range(5)]

    def doc_to_visual(doc):
        return [doc["image"]]

    gen = gen_kwargs or {"max_new_tokens": 6, "temperature": 0, "do_sample": False}
    requests = [
        SimpleNamespace(args=(p, dict(gen), doc_to_visual, i, "task", "test"))
        for i, p in enumerate(PROMPTS)
    ]
    return requests, {"task": {"test": docs}}


def load(tiny_checkpoint, name, tokenizer, **kwargs):
    checkpoint = tiny_checkpoint(name, tokenizer)
    return ADAPTERS[name](pretrained=str(checkpoint), device="cpu", **kwargs)


@pytest.fixture(scope="module", params=CASES, ids="-".join)
def adapter(request, tiny_checkpoint):
    return load(tiny_checkpoint, *request.param, dtype="float32", batch_size=1)


def _run(adapter, batch_size, gen_kwargs=None):
    requests, task_dict = _requests(gen_kwargs)
    adapter.task_dict = task_dict
    adapter.batch_size_per_process = batch_size
    return adapter.generate_until(requests)


def test_batched_generation_equals_one_by_one(adapter):
    single = _run(adapter, 1)
    batched = _run(adapter, 4)
    assert len(single) == len(PROMPTS) and all(isinstance(t, str) for t in single)
    assert batched == single  # left padding must not change greedy outputs
    assert any(single), "the tiny model generated nothing at all"


def test_results_come_back_in_request_order(adapter):
    requests, task_dict = _requests()
    adapter.task_dict = task_dict
    adapter.batch_size_per_process = 2
    forward = adapter.generate_until(requests)
    backward = adapter.generate_until(list(reversed(requests)))
    assert backward == list(reversed(forward))


def real_tokens(inputs, row: int) -> list[int]:
    return inputs["input_ids"][row][inputs["attention_mask"][row].bool()].tolist()


def test_prompts_carry_the_bos_exactly_once(adapter):
    """LLaVA: the template's BOS only, first. InstructBLIP (no template): the tokenizer's own
    special tokens once, after the query tokens, as its processor places them."""
    tokenizer = adapter.processor.tokenizer
    bos = tokenizer.bos_token_id
    pictures = [[Image.new("RGB", (40, 30), (i * 40, 90, 30))] for i in range(2)]
    generation = adapter._inputs(PROMPTS[:2], pictures)  # left-padded
    scoring, lengths = adapter._loglikelihood_inputs(PROMPTS[:2], ["Up", "Left"], pictures)
    for inputs in (generation, scoring):
        for row in range(2):
            ids = real_tokens(inputs, row)
            if isinstance(adapter, LlavaAdapter):
                assert ids[0] == bos and ids.count(bos) == 1, tokenizer.decode(ids)
            else:
                query = adapter.model.config.num_query_tokens
                added = tokenizer("x")["input_ids"].count(bos)  # what the tokenizer adds
                assert ids[query : query + added] == [bos] * added and ids.count(bos) == added
    last = real_tokens(scoring, 1)[-lengths[1] :]
    assert tokenizer.decode(last).strip() == "Left"


def test_a_template_without_bos_gets_the_tokenizers(tiny_checkpoint):
    """llava-hf's templates write no BOS and rely on the (Llama) tokenizer to add it."""
    from mof_models.processing_mof import LLAVA_CHAT_TEMPLATE

    template = LLAVA_CHAT_TEMPLATE.removeprefix("{{ bos_token }}")
    adapter = load(tiny_checkpoint, "llava", "metaspace", chat_template=template)
    bos = adapter.processor.tokenizer.bos_token_id
    inputs = adapter._inputs(PROMPTS[:1], [[Image.new("RGB", (40, 30))]])
    ids = real_tokens(inputs, 0)
    assert ids[0] == bos and ids.count(bos) == 1


def test_stop_strings_cut_the_output(adapter):
    full = _run(adapter, 2, {"max_new_tokens": 8, "temperature": 0})
    text = next(t for t in full if len(t) > 2)
    stop = text[1:3]
    cut = _run(adapter, 2, {"max_new_tokens": 8, "temperature": 0, "until": [stop]})
    assert cut[full.index(text)] == text[: text.find(stop)].strip()


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_dtype_and_device_are_honoured(name, tiny_checkpoint):
    adapter = load(tiny_checkpoint, name, "byte_level", dtype="bfloat16")
    assert adapter.model.dtype == torch.bfloat16
    assert adapter.device == torch.device("cpu")
    assert all(len(t) >= 0 for t in _run(adapter, 2))


def test_bad_dtype_is_a_clear_error(tiny_llava):
    with pytest.raises(ValueError, match="dtype='fp33'"):
        LlavaAdapter(pretrained=str(tiny_llava), device="cpu", dtype="fp33")


def _loglikelihood_requests(statements):
    docs = [{"image": Image.new("RGB", (40, 30), (i * 50, 90, 30))} for i in range(len(statements))]
    requests = [
        SimpleNamespace(args=("", s, lambda doc: [doc["image"]], i, "task", "test"))
        for i, s in enumerate(statements)
    ]
    return requests, {"task": {"test": docs}}


def test_loglikelihood_is_the_statement_log_probability(adapter):
    statements = ["a photo of an arrow pointing up", "a photo of a red square", "a photo of text"]
    requests, adapter.task_dict = _loglikelihood_requests(statements)
    single = adapter.loglikelihood(requests)
    adapter.batch_size_per_process = 3
    batched = adapter.loglikelihood(requests)
    assert [s[1] for s in single] == [b[1] for b in batched]
    assert [s[0] for s in single] == pytest.approx([b[0] for b in batched], abs=1e-4)
    assert all(score < 0 for score, _ in single)
    # Independent check: the model's own mean loss over the statement's tokens, times their count.
    image = adapter.task_dict["task"]["test"][0]["image"]
    inputs, lengths = adapter._loglikelihood_inputs([""], statements[:1], [[image]])
    labels = torch.full_like(inputs["input_ids"], -100)
    labels[0, -lengths[0] :] = inputs["input_ids"][0, -lengths[0] :]
    with torch.no_grad():
        loss = adapter.model(**inputs, labels=labels).loss
    assert single[0][0] == pytest.approx(-float(loss) * lengths[0], rel=1e-4)


def test_a_short_generation_batch_is_an_error_naming_the_request(tiny_llava, monkeypatch):
    """A model that returns fewer rows than it was given leaves no ``None`` answer behind."""
    adapter = LlavaAdapter(pretrained=str(tiny_llava), device="cpu", dtype="float32")
    generate = adapter.model.generate
    monkeypatch.setattr(adapter.model, "generate", lambda **kw: generate(**kw)[:-1])
    # batched longest prompt first: documents 2, 0, 3, 1, then 4; the batch's last row is lost
    with pytest.raises(
        RuntimeError,
        match=r"batch of 4 .* with 3 output\(s\); no answer for task 'task', document 1$",
    ):
        _run(adapter, 4)


def test_a_short_scoring_batch_is_an_error_naming_the_request(tiny_llava, monkeypatch):
    adapter = LlavaAdapter(pretrained=str(tiny_llava), device="cpu", dtype="float32", batch_size=3)
    inputs = adapter._loglikelihood_inputs
    monkeypatch.setattr(
        adapter, "_loglikelihood_inputs", lambda *a: (inputs(*a)[0], inputs(*a)[1][:1])
    )
    requests, adapter.task_dict = _loglikelihood_requests(["a photo of up", "down", "left"])
    with pytest.raises(
        RuntimeError, match=r"with 1 output\(s\); no answer for task 'task', document 1$"
    ):
        adapter.loglikelihood(requests)
