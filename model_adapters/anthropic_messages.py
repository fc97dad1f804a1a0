"""``mmvp_anthropic`` (alias ``mmvp_claude``): Claude models through the official ``anthropic`` SDK.

    ANTHROPIC_API_KEY=... lmms-eval --model mmvp_anthropic \
        --model_args model=claude-sonnet-5-5 --tasks mmvp

The Messages API (``POST /v1/messages``); ``base_url=`` (or ``$ANTHROPIC_BASE_URL``) points the
SDK at another endpoint. The key is read from the environment only (``api_key_env``, default
``ANTHROPIC_API_KEY``) and never logged or stored. Install with the ``api`` extra.

- Images go as base64 PNG content blocks before the prompt, prepared as for the other API
  adapters (lossless). One beyond the API's limits (8000 px a side; 5 MB of base64) is scaled
  down, aspect kept, until it fits; the API itself scales images down far below that size.
- Decoding: API version 2026-10-21 (sent by SDK 2.x) takes no sampling parameters: temperature,
  top_p and top_k are rejected, even at their defaults, so the task's temperature is not sent and
  Claude samples as the provider sets it. The cache keeps a run's answers fixed.
- The task's ``max_new_tokens`` is sent as ``max_tokens`` (``max_tokens=`` overrides it: the
  thinking of models that think counts against it); ``thinking=disabled|adaptive`` sets the
  thinking mode (unset: the model's default). The task's stop strings go as ``stop_sequences``,
  except whitespace-only ones (lmms-eval's default ``"\\n\\n"``), which the API rejects: those cut
  the reply here instead.
- ``stop_reason: "refusal"`` is reported as a refusal (counted, scored wrong); 429 and 529
  (overloaded) are retried, after the server's ``retry-after`` when it sends one.

Concurrency, retries, timeout and the cache: see :mod:`model_adapters.api_adapter`.
"""

from __future__ import annotations

import math
import os
import threading

from loguru import logger

from mmvp_tasks.request_engine import FatalError, Reply, RetryableError, parse_retry_after
from model_adapters.api_adapter import APIAdapter, encode_png

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}  # 529: overloaded
AUTH_STATUS = {401, 403}
THINKING_MODES = {"disabled", "adaptive"}
# Per image, from the vision guide (platform.claude.com/docs/en/build-with-claude/vision) and the
# API's own 400 ("image exceeds 5 MB maximum: ... bytes > 5242880 bytes"): counted here on the
# base64 text, which is never shorter than the decoded bytes.
MAX_IMAGE_SIDE = 8000
MAX_IMAGE_BASE64 = 5 * 1024 * 1024


class AnthropicMessagesAdapter(APIAdapter):
    provider = "anthropic"

    def __init__(
        self,
        model: str = "claude-sonnet-5-5",
        base_url: str | None = None,
        api_key_env: str = "ANTHROPIC_API_KEY",
        max_tokens: int | None = None,
        thinking: str | None = None,
        **engine_args,
    ) -> None:
        super().__init__(model, **engine_args)
        if thinking is not None and thinking not in THINKING_MODES:
            raise ValueError(f"thinking must be one of {sorted(THINKING_MODES)}, got {thinking!r}")
        self.base_url = (
            base_url or os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
        )
        self.api_key_env = api_key_env
        self.max_tokens = int(max_tokens) if max_tokens is not None else None
        self.thinking = thinking
        if not os.environ.get(api_key_env):
            raise ValueError(f"{type(self).__name__}: set the API key in ${api_key_env}")
        self.client = self._make_client()  # built once, before the worker threads share it
        self._no_text_at_limit = 0  # replies that reached max_tokens before any answer text
        self._lock = threading.Lock()

    def _make_client(self):
        from anthropic import Anthropic

        # max_retries=0: the engine retries; the SDK's own retries would multiply attempts.
        # An explicit api_key: the SDK reads no other credential (environment, profile files).
        return Anthropic(
            api_key=os.environ[self.api_key_env],
            base_url=self.base_url,
            timeout=self.settings.timeout_s,
            max_retries=0,
        )

    def _endpoint(self) -> str:
        return self.base_url

    def _credentials(self) -> str:
        return f"${self.api_key_env}"

    def _payload(self, prompt: str, images: list, gen_kwargs: dict) -> dict:
        until = gen_kwargs.get("until") or []
        stops = [s for s in ([until] if isinstance(until, str) else until) if s]
        content = [image_block(img) for img in images] + [{"type": "text", "text": prompt}]
        request = {
            "model": self.model,
            "max_tokens": self.max_tokens or int(gen_kwargs.get("max_new_tokens", 1024)),
            "messages": [{"role": "user", "content": content}],
        }
        if sent := [s for s in stops if s.strip()]:
            request["stop_sequences"] = sent
        if self.thinking:
            request["thinking"] = {"type": self.thinking}
        # Whitespace-only stops are applied to the reply here (part of the cache key too).
        return {"request": request, "cut_at": [s for s in stops if not s.strip()]}

    def _send(self, payload: dict) -> Reply:
        import anthropic

        try:
            message = self.client.messages.create(**payload["request"])
        except anthropic.APIStatusError as err:
            if err.status_code in AUTH_STATUS:
                raise self.rejected_credentials(err.status_code) from None
            text = f"HTTP {err.status_code}: {_short(err.api_message or err)}"
            if err.status_code in RETRYABLE_STATUS:
                raise RetryableError(text, parse_retry_after(err.response.headers)) from None
            raise FatalError(text) from None
        except (
            anthropic.APIConnectionError,  # timeouts included
            anthropic.APIResponseValidationError,
            ValueError,  # a body that is not JSON (json.JSONDecodeError)
        ) as err:
            raise RetryableError(f"{type(err).__name__}: {_short(err)}") from None
        reply = _reply(message, payload["cut_at"])
        if message.stop_reason == "max_tokens" and not reply.text:
            with self._lock:
                self._no_text_at_limit += 1
        return reply

    def _report(self) -> None:
        super()._report()
        if self._no_text_at_limit:
            logger.warning(
                f"{self.model}: {self._no_text_at_limit} repl(ies) reached max_tokens before any "
                "answer text (scored as unreadable answers); thinking counts against max_tokens: "
                "raise it (model arg max_tokens=...) or set thinking=disabled"
            )
            self._no_text_at_limit = 0


def image_block(image) -> dict:
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": png_within_limits(image)},
    }


def png_within_limits(image) -> str:
    """Base64 PNG (as :func:`encode_png`), scaled down until it meets the Messages API's limits."""
    from PIL import Image

    image = image.convert("RGB")
    width, height = image.size
    scale = min(1.0, MAX_IMAGE_SIDE / max(width, height))
    while True:
        size = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
        resized = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
        data = encode_png(resized)
        if len(data) <= MAX_IMAGE_BASE64:
            if size != image.size:
                logger.info(f"image {width}x{height} sent as {size[0]}x{size[1]} (API limits)")
            return data
        # PNG size grows about with the pixel count; aim a little below the limit.
        scale *= 0.95 * math.sqrt(MAX_IMAGE_BASE64 / len(data))


def _reply(message, cut_at: list[str]) -> Reply:
    usage = message.usage
    tokens = {
        "input_tokens": getattr(usage, "input_tokens", 0) or 0,
        "output_tokens": getattr(usage, "output_tokens", 0) or 0,
    }
    if message.stop_reason == "refusal":
        return Reply(_refusal_reason(message), refused=True, **tokens)
    text = "".join(block.text for block in message.content if block.type == "text")
    return Reply(_cut(text, cut_at), **tokens)


def _refusal_reason(message) -> str:
    details = getattr(message, "stop_details", None)
    category = getattr(details, "category", None)
    explanation = getattr(details, "explanation", None)
    reason = f"refusal ({category})" if category else "refusal"
    return f"{reason}: {explanation}" if explanation else reason


def _cut(text: str, stops: list[str]) -> str:
    """The reply up to the first of ``stops``, as a server applies a stop sequence."""
    ends = [text.find(s) for s in stops if s in text]
    return text[: min(ends)] if ends else text


def _short(err) -> str:
    return str(err).replace("\n", " ")[:300]
