"""``mmvp_openai`` (alias ``mmvp_gpt4v``): GPT-4V-class models through the official ``openai`` SDK.

    OPENAI_API_KEY=... lmms-eval --model mmvp_openai --model_args model=gpt-4o,detail=high \
        --tasks mmvp

Any chat-completions model (``gpt-4o``, ``gpt-4.1``, ``gpt-4-vision-preview``, ...) and any
OpenAI-compatible server (``base_url=http://127.0.0.1:8000/v1``, e.g. vLLM). Images go as base64
PNG data URLs with the ``detail`` option (``auto``/``low``/``high``). The key is read from the
environment only (``api_key_env``, default ``OPENAI_API_KEY``) and never logged or stored.
Concurrency, retries, timeout and the cache: see :mod:`model_adapters.api_adapter`.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from mmvp_tasks.request_engine import FatalError, Reply, RetryableError, parse_retry_after
from model_adapters.api_adapter import APIAdapter, encode_png

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
AUTH_STATUS = {401, 403}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class OpenAIChatAdapter(APIAdapter):
    provider = "openai"

    def __init__(
        self,
        model: str = "gpt-4o",
        base_url: str | None = None,
        detail: str = "auto",
        api_key_env: str = "OPENAI_API_KEY",
        **engine_args,
    ) -> None:
        super().__init__(model, **engine_args)
        if detail not in {"auto", "low", "high"}:
            raise ValueError(f"detail must be auto, low or high, got {detail!r}")
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        self.detail = detail
        self.api_key_env = api_key_env
        self.client = self._make_client()  # built once, before the worker threads share it

    def _api_key(self) -> str:
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ValueError(f"{type(self).__name__}: set the API key in ${self.api_key_env}")
        return key

    def _make_client(self):
        from openai import DefaultHttpxClient, OpenAI

        # max_retries=0: the engine retries; the SDK's own retries would multiply attempts.
        # A server on this machine is reached directly, whatever http_proxy says.
        loopback = urlsplit(self.base_url).hostname in LOOPBACK_HOSTS
        return OpenAI(
            api_key=self._api_key(),
            base_url=self.base_url,
            timeout=self.settings.timeout_s,
            max_retries=0,
            http_client=DefaultHttpxClient(trust_env=False) if loopback else None,
        )

    def _endpoint(self) -> str:
        return self.base_url

    def _credentials(self) -> str:
        return f"${self.api_key_env}"

    def _payload(self, prompt: str, images: list, gen_kwargs: dict) -> dict:
        content = [
            {
                "type": "image_url",
                "image_url": {
                    "url": f"data:image/png;base64,{encode_png(img)}",
                    "detail": self.detail,
                },
            }
            for img in images
        ]
        content.append({"type": "text", "text": prompt})
        payload = {
            "model": self.model,
            "messages": [{"role": "user", "content": content}],
            "max_completion_tokens": int(gen_kwargs.get("max_new_tokens", 1024)),
            "temperature": float(gen_kwargs.get("temperature", 0.0)),
        }
        if gen_kwargs.get("top_p") is not None:
            payload["top_p"] = float(gen_kwargs["top_p"])
        until = gen_kwargs.get("until")
        if until:
            payload["stop"] = ([until] if isinstance(until, str) else list(until))[:4]
        return payload

    def _send(self, payload: dict) -> Reply:
        import openai

        try:
            completion = self.client.chat.completions.create(**payload)
        except openai.APIStatusError as err:
            if err.status_code in AUTH_STATUS:
                raise self.rejected_credentials(err.status_code) from None
            message = f"HTTP {err.status_code}: {_short(err)}"
            if err.status_code in RETRYABLE_STATUS:
                raise RetryableError(message, parse_retry_after(err.response.headers)) from None
            raise FatalError(message) from None
        except (openai.APIConnectionError, openai.APIResponseValidationError, ValueError) as err:
            # ValueError: a body that is not JSON (json.JSONDecodeError), i.e. a broken response
            raise RetryableError(f"{type(err).__name__}: {_short(err)}") from None
        return _reply(completion)


def _reply(completion) -> Reply:
    if not completion.choices:
        raise RetryableError("response without choices")
    choice = completion.choices[0]
    usage = completion.usage
    tokens = {
        "input_tokens": getattr(usage, "prompt_tokens", 0) or 0,
        "output_tokens": getattr(usage, "completion_tokens", 0) or 0,
    }
    refusal = getattr(choice.message, "refusal", None)
    if refusal or choice.finish_reason == "content_filter":
        return Reply(refusal or "content_filter", refused=True, **tokens)
    return Reply(choice.message.content or "", **tokens)


def _short(err: Exception) -> str:
    return str(err).replace("\n", " ")[:300]
