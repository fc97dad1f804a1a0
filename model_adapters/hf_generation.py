"""Batched greedy/sampled generation for local transformers models inside lmms-eval.

One base class holds what every local generative adapter shares: device and dtype resolution
(one device per process in lmms-eval's multi-process runs: ``accelerate launch -m lmms_eval``),
batching of requests with identical generation settings, stop strings, and lmms-eval's response
cache hook. A subclass loads its model and turns ``(prompt, images)`` into model inputs.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from lmms_eval.api.model import lmms
from loguru import logger
from tqdm import tqdm

from model_adapters.lmms_requests import describe, generation_request, loglikelihood_request

_GEN_KEYS = ("max_new_tokens", "temperature", "top_p", "num_beams", "do_sample")


def resolve_device(device: str) -> torch.device:
    """``auto``: this process's GPU (``LOCAL_RANK``) when there is one, else the CPU."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype | str:
    """``auto`` keeps the checkpoint's dtype on GPU and uses float32 on CPU (fp16 is slow there)."""
    if dtype == "auto":
        return "auto" if device.type == "cuda" else torch.float32
    resolved = getattr(torch, dtype, None)
    if not isinstance(resolved, torch.dtype):
        raise ValueError(f"dtype={dtype!r} is not a torch dtype (e.g. float32, bfloat16, auto)")
    return resolved


class HFGenerativeAdapter(lmms):
    """Base for local transformers adapters: subclasses implement ``_load`` and ``_inputs``."""

    def __init__(
        self,
        pretrained: str,
        revision: str = "main",
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int | str = 1,
        trust_remote_code: bool = False,
        **load_kwargs: Any,
    ) -> None:
        super().__init__()
        self._device = resolve_device(device)
        self.batch_size_per_process = int(batch_size)
        self.model, self.processor = self._load(
            pretrained,
            revision=revision,
            dtype=resolve_dtype(dtype, self._device),
            trust_remote_code=trust_remote_code,
            **load_kwargs,
        )
        self.model.to(self._device).eval()
        logger.info(
            f"{type(self).__name__}: {pretrained} on {self._device}, dtype {self.model.dtype}"
        )

    # Subclass hooks -------------------------------------------------------------------------

    def _load(self, pretrained: str, **kwargs):
        """Return ``(model, processor)``."""
        raise NotImplementedError

    def _inputs(self, prompts: list[str], images: list[list]) -> dict:
        """Batch of model inputs (left-padded) for prompts, each with its list of images."""
        raise NotImplementedError

    def _loglikelihood_inputs(
        self, contexts: list[str], continuations: list[str], images: list[list]
    ) -> tuple[dict, list[int]]:
        """Model inputs for ``context + continuation`` with each row's images, and the number of
        continuation tokens, which must be the last real (``attention_mask == 1``) tokens of
        each row; ``logits[:, t]`` must predict ``input_ids[:, t + 1]``."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot score log-likelihoods (loglikelihood tasks such as "
            "mmvp_vlm): it implements no _loglikelihood_inputs"
        )

    # lmms-eval interface ----------------------------------------------------------------------

    @property
    def device(self):
        return self._device

    @property
    def batch_size(self):
        return self.batch_size_per_process

    def generate_until(self, requests) -> list[str]:
        results: list[str | None] = [None] * len(requests)
        order = sorted(range(len(requests)), key=lambda i: _batch_key(requests[i].args))
        progress = tqdm(total=len(requests), disable=self.rank != 0, desc="Generating")
        for batch in _chunks(order, requests, self.batch_size_per_process):
            texts = self._generate([requests[i].args for i in batch])
            self._check_one_output_each(requests, batch, texts)
            for i, text in zip(batch, texts, strict=True):
                results[i] = text
                ctx, gen_kwargs = requests[i].args[0], requests[i].args[1]
                self.cache_hook.add_partial("generate_until", (ctx, gen_kwargs), text)
            progress.update(len(batch))
        progress.close()
        return results

    def loglikelihood(self, requests) -> list[tuple[float, bool]]:
        """lmms-eval's ``(log P(continuation | context, images), is_greedy)`` per request.

        ``Instance.args = (context, doc_to_target, doc_to_visual, doc_id, task, split)``; unlike
        lmms-eval's ``llava_hf`` (which returns the mean loss), this returns the summed
        log-probability of the continuation's tokens: higher = more likely.
        """
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        size = self.batch_size_per_process
        progress = tqdm(total=len(requests), disable=self.rank != 0, desc="Scoring")
        for start in range(0, len(requests), size):
            batch = range(start, min(start + size, len(requests)))
            text_pairs, scores = self._loglikelihood_batch([requests[i].args for i in batch])
            self._check_one_output_each(requests, batch, scores)
            for i, text_pair, score in zip(batch, text_pairs, scores, strict=True):
                results[i] = score
                self.cache_hook.add_partial("loglikelihood", text_pair, score)
            progress.update(len(batch))
        progress.close()
        return results

    def generate_until_multi_round(self, requests):
        raise NotImplementedError(f"{type(self).__name__} does not support multi-round generation")

    # Internals ------------------------------------------------------------------------------

    def _generate(self, batch_args: list[tuple]) -> list[str]:
        batch = [generation_request(args, self.task_dict) for args in batch_args]
        prompts = [request.context for request in batch]
        images = [request.images for request in batch]
        gen_kwargs = batch[0].gen_kwargs  # a copy; the batch shares its settings (_chunks)
        until = gen_kwargs.pop("until", None) or []
        until = [until] if isinstance(until, str) else list(until)
        settings = {k: gen_kwargs[k] for k in _GEN_KEYS if k in gen_kwargs}
        if not settings.get("temperature"):
            settings.pop("temperature", None)
            settings["do_sample"] = False
        inputs = self._on_device(self._inputs(prompts, images))
        with torch.inference_mode():
            output = self.model.generate(**inputs, **settings)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        texts = self.processor.batch_decode(new_tokens, skip_special_tokens=True)
        return [_cut_at_stop(t, until).strip() for t in texts]

    def _loglikelihood_batch(self, batch_args: list[tuple]):
        """``(context, continuation)`` and ``(logprob, is_greedy)`` of each request."""
        batch = [loglikelihood_request(args, self.task_dict) for args in batch_args]
        contexts = [request.context for request in batch]
        continuations = [request.continuation for request in batch]
        images = [request.images for request in batch]
        inputs, lengths = self._loglikelihood_inputs(contexts, continuations, images)
        inputs = self._on_device(inputs)
        with torch.inference_mode():
            logits = self.model(**inputs).logits  # (batch, seq, vocab)
        scores = [
            _continuation_logprob(
                logits[row], inputs["input_ids"][row], inputs["attention_mask"][row], n
            )
            for row, n in enumerate(lengths)
        ]
        return list(zip(contexts, continuations, strict=True)), scores

    def _on_device(self, inputs) -> dict:
        """Model inputs on the model's device; images in the model's dtype."""
        inputs = {k: v.to(self._device) for k, v in inputs.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        return inputs

    def _check_one_output_each(self, requests, batch: list[int], outputs: list) -> None:
        """A batch answers every one of its requests; a short one is an error naming the first
        request left without an answer, never a silent ``None``."""
        if len(outputs) == len(batch):
            return
        # which answer belongs to which request is unknown once the counts differ
        named = batch[len(outputs)] if len(outputs) < len(batch) else batch[0]
        problem = "no answer for" if len(outputs) < len(batch) else "starting with"
        raise RuntimeError(
            f"{type(self).__name__}: a batch of {len(batch)} request(s) came back with "
            f"{len(outputs)} output(s); {problem} {describe(requests[named].args)}"
        )


def _batch_key(args: tuple):
    """Requests batch together only with identical generation settings; long prompts first."""
    return (repr(sorted(args[1].items())), -len(args[0]))


def _chunks(order: list[int], requests, size: int):
    """Consecutive slices of ``order`` of at most ``size`` sharing generation settings."""
    batch: list[int] = []
    for i in order:
        if batch and (len(batch) == size or requests[i].args[1] != requests[batch[0]].args[1]):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def _continuation_logprob(logits, input_ids, attention_mask, length: int) -> tuple[float, bool]:
    """Summed log-probability of the row's last ``length`` real tokens and whether each is the
    argmax prediction; works for left and right padding."""
    if length == 0:
        return 0.0, True
    positions = attention_mask.nonzero().flatten()[-length:]
    targets = input_ids[positions]
    log_probs = logits[positions - 1].float().log_softmax(-1)  # logits[t] predicts token t + 1
    logprob = log_probs.gather(-1, targets[:, None]).sum()
    return float(logprob), bool((log_probs.argmax(-1) == targets).all())


def _cut_at_stop(text: str, until: list[str]) -> str:
    cut = min((text.find(s) for s in until if s and s in text), default=len(text))
    return text[:cut]
