"""Base class of the API adapters: lmms-eval requests in, engine outcomes out, honestly labelled.

A subclass states its provider and implements two methods: ``_payload`` (prompt, images and
generation settings -> a JSON-able request, with no secret in it) and ``_send`` (payload -> Reply,
raising the engine's RetryableError / FatalError). Everything else lives here or in the engine.

Model args shared by every API adapter:
``concurrency`` (16), ``max_retries`` (5), ``timeout`` (seconds per attempt, 60), ``backoff_s``
(first retry delay, 1; doubles, with jitter, unless the server sends ``Retry-After``),
``use_cache`` (true), ``cache_dir`` (``$MMVP_API_CACHE`` or ``~/.cache/lmms-mmvp/api``),
``price_in`` / ``price_out`` (USD per million tokens, for the cost estimate; known models have
defaults in :mod:`model_adapters.pricing`). lmms-eval's ``--batch_size`` (also ``auto``) is accepted
and has no effect: requests go out ``concurrency`` at a time.

Multi-process runs (``accelerate launch --num_processes N -m lmms_eval ...`` or ``torchrun
--nproc_per_node N -m lmms_eval ...``) shard the documents; each process sends its shard.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from pathlib import Path

from lmms_eval.api.model import lmms
from loguru import logger
from tqdm import tqdm

from mmvp_tasks.markers import failed_response, refused_response
from mmvp_tasks.request_engine import (
    AuthenticationError,
    EngineSettings,
    Failure,
    Reply,
    RequestEngine,
    ResponseCache,
)
from model_adapters.lmms_requests import generation_request
from model_adapters.pricing import estimate_cost_usd


def default_cache_dir() -> Path:
    return Path(os.environ.get("MMVP_API_CACHE", Path.home() / ".cache" / "lmms-mmvp" / "api"))


def encode_png(image) -> str:
    """Base64 PNG: lossless, so the model sees the benchmark's pixels."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", compress_level=1)  # fast; still lossless
    return base64.b64encode(buffer.getvalue()).decode()


class APIAdapter(lmms):
    provider = "api"  # subclasses: "openai", "gemini"

    def __init__(
        self,
        model: str,
        concurrency: int = 16,
        max_retries: int = 5,
        timeout: float = 60.0,
        backoff_s: float = 1.0,
        use_cache: bool = True,
        cache_dir: str | None = None,
        price_in: float | None = None,
        price_out: float | None = None,
        batch_size=None,  # lmms-eval's CLI passes these; requests go out by `concurrency` instead
        max_batch_size=None,
        device=None,
    ) -> None:
        super().__init__()
        self.model = model
        self.settings = EngineSettings(
            concurrency=int(concurrency),
            max_retries=int(max_retries),
            timeout_s=float(timeout),
            backoff_s=float(backoff_s),
        )
        cache = None
        if as_bool(use_cache):
            cache = ResponseCache(Path(cache_dir or default_cache_dir()) / "responses.sqlite")
        self.engine = RequestEngine(self.settings, cache)
        self.prices = (price_in, price_out)
        self.totals = {"answered": 0, "cached": 0, "refused": 0, "failed": 0, "in": 0, "out": 0}
        self._totals_lock = threading.Lock()
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            self._join_processes()

    def _join_processes(self) -> None:
        """Take part in a multi-process run as lmms-eval's own API models do: one accelerator per
        process, whose device is where lmms-eval gathers its per-process request counts."""
        from accelerate import Accelerator

        self.accelerator = Accelerator()
        self._rank = self.accelerator.process_index
        self._world_size = self.accelerator.num_processes

    @property
    def device(self):
        """The device of lmms-eval's cross-process tensors. An API model has no weights, so it is
        the process group's device (``cuda:<local rank>`` under NCCL), else the CPU."""
        accelerator = getattr(self, "accelerator", None)  # lmms-eval may attach one itself
        return accelerator.device if accelerator is not None else "cpu"

    # Subclass hooks -------------------------------------------------------------------------

    def _payload(self, prompt: str, images: list, gen_kwargs: dict) -> dict:
        raise NotImplementedError

    def _send(self, payload: dict) -> Reply:
        raise NotImplementedError

    def _endpoint(self) -> str:
        """Where requests go; part of the cache key (the same model name elsewhere differs)."""
        raise NotImplementedError

    def _credentials(self) -> str:
        """Where the credentials come from, for the message when the provider rejects them."""
        raise NotImplementedError

    def rejected_credentials(self, status: int) -> AuthenticationError:
        """The error ``_send`` raises on HTTP 401/403: it stops the run. It names the model,
        endpoint and credential source, never the key, and leaves out the provider's error body
        (which may echo part of the key)."""
        return AuthenticationError(
            f"HTTP {status}: the {self.provider} API rejected the credentials from "
            f"{self._credentials()} for model {self.model} at {self._endpoint()}. The run stopped: "
            "fix the credentials and run again (answers already received are cached)."
        )

    # lmms-eval interface --------------------------------------------------------------------

    def generate_until(self, requests) -> list[str]:
        progress = tqdm(total=len(requests), disable=self.rank != 0, desc=f"{self.model}")

        def on_done(_i: int, outcome: Reply | Failure, from_cache: bool) -> None:
            self._count(outcome, from_cache)
            progress.update(1)

        outcomes = self.engine.run(
            len(requests), lambda i: self.request_payload(requests[i].args), self._send,
            self.namespace, on_done,
        )  # fmt: skip
        progress.close()
        self._report()
        return [_as_response(o) for o in outcomes]

    def loglikelihood(self, requests):
        raise NotImplementedError(
            f"{type(self).__name__}: the {self.provider} API returns no log-likelihoods of a given "
            "text, so it cannot run loglikelihood tasks such as mmvp_vlm; use a local model"
        )

    def generate_until_multi_round(self, requests):
        raise NotImplementedError(f"{type(self).__name__} does not support multi-round tasks")

    @property
    def namespace(self) -> dict:
        """What, besides the payload, identifies a cached reply."""
        return {"provider": self.provider, "model": self.model, "endpoint": self._endpoint()}

    def request_payload(self, args: tuple) -> dict:
        """The provider request for one lmms-eval ``generate_until`` request."""
        request = generation_request(args, self.task_dict)
        return self._payload(request.context, request.images, request.gen_kwargs)

    # Internals ------------------------------------------------------------------------------

    def _count(self, outcome: Reply | Failure, from_cache: bool) -> None:
        with self._totals_lock:
            if isinstance(outcome, Failure):
                self.totals["failed"] += 1
                return
            self.totals["cached" if from_cache else "answered"] += 1
            self.totals["refused"] += outcome.refused
            if not from_cache:  # a cached reply cost nothing this run
                self.totals["in"] += outcome.input_tokens
                self.totals["out"] += outcome.output_tokens
                _log_usage(self.model, outcome)

    def _report(self) -> None:
        t = self.totals
        cost = estimate_cost_usd(self.model, t["in"], t["out"], *self.prices)
        cost_text = f"${cost:.4f}" if cost is not None else "unknown (no price for this model)"
        logger.info(
            f"{self.model}: {t['answered']} answered, {t['cached']} from cache, "
            f"{t['refused']} refused, {t['failed']} failed; tokens in {t['in']}, out {t['out']}; "
            f"estimated cost {cost_text}"
        )
        if t["failed"]:
            logger.error(
                f"{self.model}: {t['failed']} request(s) failed after retries; they are reported "
                "as failed (not scored) and not cached: re-run to retry only those"
            )


def _as_response(outcome: Reply | Failure) -> str:
    if isinstance(outcome, Failure):
        return failed_response(outcome.reason)
    if outcome.refused:
        return refused_response(outcome.text)
    return outcome.text


def _log_usage(model: str, reply: Reply) -> None:
    """Token usage into lmms-eval's tracker, which writes it to the results file (``usage``)."""
    from lmms_eval.models.model_utils.usage_metrics import log_usage

    log_usage(model_name=model, input_tokens=reply.input_tokens, output_tokens=reply.output_tokens)


def as_bool(value) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes"}
