"""``mmvp_gemini``: Gemini models through the ``google-genai`` SDK (Gemini API key or Vertex AI).

    GEMINI_API_KEY=... lmms-eval --model mmvp_gemini --model_args model=gemini-2.5-flash \
        --tasks mmvp
    lmms-eval --model mmvp_gemini \
        --model_args model=gemini-2.5-pro,vertexai=true,project=P,location=us-central1 ...

Safety blocks (a blocked prompt or a candidate stopped for safety) are reported as refusals, with
their own count, not as answers. The key is read from the environment only (``api_key_env``,
default ``GEMINI_API_KEY``, else ``GOOGLE_API_KEY``); Vertex uses Google Cloud credentials.
``base_url`` points the SDK at another endpoint. Install with the ``api`` extra.
"""

from __future__ import annotations

import base64
import os

from mmvp_tasks.request_engine import FatalError, Reply, RetryableError, parse_retry_after
from model_adapters.api_adapter import APIAdapter, as_bool, encode_png

RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}
AUTH_STATUS = {401, 403}
SAFETY_FINISH_REASONS = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY"}


class GeminiAdapter(APIAdapter):
    provider = "gemini"

    def __init__(
        self,
        model: str = "gemini-2.5-flash",
        base_url: str | None = None,
        vertexai: bool = False,
        project: str | None = None,
        location: str | None = None,
        api_key_env: str = "GEMINI_API_KEY",
        **engine_args,
    ) -> None:
        super().__init__(model, **engine_args)
        self.base_url = base_url
        self.vertexai = as_bool(vertexai)
        self.project, self.location = project, location
        self.api_key_env = api_key_env
        if not self.vertexai and not self._api_key():
            raise ValueError(f"{type(self).__name__}: set the API key in ${api_key_env}")
        self.client = self._make_client()  # built once, before the worker threads share it

    def _api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) or os.environ.get("GOOGLE_API_KEY")

    def _make_client(self):
        from google import genai
        from google.genai import types

        http_options = types.HttpOptions(
            base_url=self.base_url,
            timeout=int(self.settings.timeout_s * 1000),  # milliseconds
            retry_options=types.HttpRetryOptions(attempts=1),  # the engine retries, not the SDK
        )
        if self.vertexai:
            return genai.Client(
                vertexai=True,
                project=self.project,
                location=self.location,
                http_options=http_options,
            )
        return genai.Client(api_key=self._api_key(), http_options=http_options)

    def _endpoint(self) -> str:
        return self.base_url or ("vertexai" if self.vertexai else "gemini-api")

    def _credentials(self) -> str:
        if self.vertexai:
            return "Google Cloud application default credentials"
        return f"${self.api_key_env} (else $GOOGLE_API_KEY)"

    def _payload(self, prompt: str, images: list, gen_kwargs: dict) -> dict:
        until = gen_kwargs.get("until")
        config = {
            "temperature": float(gen_kwargs.get("temperature", 0.0)),
            "max_output_tokens": int(gen_kwargs.get("max_new_tokens", 1024)),
            "stop_sequences": ([until] if isinstance(until, str) else list(until or []))[:5],
        }
        if gen_kwargs.get("top_p") is not None:
            config["top_p"] = float(gen_kwargs["top_p"])
        parts = [{"image_png_base64": encode_png(img)} for img in images] + [{"text": prompt}]
        return {"model": self.model, "parts": parts, "config": config}

    def _send(self, payload: dict) -> Reply:
        from google.genai import errors, types

        contents = [
            types.Part.from_bytes(
                data=base64.b64decode(p["image_png_base64"]), mime_type="image/png"
            )
            if "image_png_base64" in p
            else p["text"]
            for p in payload["parts"]
        ]
        try:
            response = self.client.models.generate_content(
                model=payload["model"],
                contents=contents,
                config=types.GenerateContentConfig(**payload["config"]),
            )
        except errors.APIError as err:
            if err.code in AUTH_STATUS:
                raise self.rejected_credentials(err.code) from None
            message = f"HTTP {err.code}: {str(err)[:300]}"
            if err.code in RETRYABLE_STATUS:
                headers = getattr(err.response, "headers", None)
                raise RetryableError(message, parse_retry_after(headers)) from None
            raise FatalError(message) from None
        except (*_transport_errors(), errors.UnknownApiResponseError, ValueError) as err:
            raise RetryableError(f"{type(err).__name__}: {str(err)[:300]}") from None
        return _reply(response)


def _image_part(types, png_base64: str):
    return types.Part.from_bytes(data=base64.b64decode(png_base64), mime_type="image/png")


def _transport_errors() -> tuple[type[Exception], ...]:
    """Timeouts and connection errors of the HTTP client the SDK uses (httpx or its fork httpx2)."""
    found = []
    for module in ("httpx", "httpx2"):
        try:
            found.append(__import__(module).TransportError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def _reply(response) -> Reply:
    usage = response.usage_metadata
    tokens = {
        "input_tokens": (usage and usage.prompt_token_count) or 0,
        "output_tokens": (usage and usage.candidates_token_count) or 0,
    }
    feedback = response.prompt_feedback
    if feedback and feedback.block_reason:
        return Reply(f"prompt blocked: {_name(feedback.block_reason)}", refused=True, **tokens)
    if not response.candidates:
        raise RetryableError("response without candidates")
    candidate = response.candidates[0]
    if candidate.finish_reason and _name(candidate.finish_reason) in SAFETY_FINISH_REASONS:
        return Reply(f"answer blocked: {_name(candidate.finish_reason)}", refused=True, **tokens)
    parts = (candidate.content and candidate.content.parts) or []
    return Reply("".join(p.text for p in parts if p.text), **tokens)


def _name(enum_or_str) -> str:
    return getattr(enum_or_str, "name", None) or str(enum_or_str)
