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

from mmvp_tasks.openai_requests import call, chat_reply, make_client
from mmvp_tasks.request_engine import Reply
from model_adapters.api_adapter import APIAdapter, encode_png


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
        return make_client(self._api_key(), self.base_url, self.settings.timeout_s)

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
        create = self.client.chat.completions.create
        return chat_reply(call(lambda: create(**payload), self.rejected_credentials))
