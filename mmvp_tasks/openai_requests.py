"""Requests in the OpenAI chat-completions protocol, as the request engine sends them.

Shared by the ``mmvp_openai`` adapter (and the vLLM-served ``mof_llava``) and the ``mmvp_official``
judge, so every OpenAI-compatible request is retried, given up or stops the run on the same
errors. The client's own retries are off: the engine retries (:mod:`mmvp_tasks.request_engine`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from mmvp_tasks.request_engine import (
    AuthenticationError,
    FatalError,
    Reply,
    RetryableError,
    parse_retry_after,
)

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
AUTH_STATUS = {401, 403}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
T = TypeVar("T")


def make_client(api_key: str, base_url: str, timeout_s: float):
    """An ``openai.OpenAI`` client for worker threads to share; it never retries by itself, and
    reaches a server on this machine directly, whatever ``http_proxy`` says."""
    from openai import DefaultHttpxClient, OpenAI

    loopback = urlsplit(base_url).hostname in LOOPBACK_HOSTS
    return OpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout_s,
        max_retries=0,  # the engine retries; the SDK's own retries would multiply attempts
        http_client=DefaultHttpxClient(trust_env=False) if loopback else None,
    )


def call(request: Callable[[], T], rejected: Callable[[int], AuthenticationError]) -> T:
    """``request()`` with the SDK's errors turned into the engine's: 401/403 raise
    ``rejected(status)`` (the run stops), 408/409/429/5xx, timeouts, connection errors and broken
    bodies are retryable (with the server's ``Retry-After``), other statuses fatal."""
    import openai

    try:
        return request()
    except openai.APIStatusError as err:
        if err.status_code in AUTH_STATUS:
            raise rejected(err.status_code) from None
        message = f"HTTP {err.status_code}: {_short(err)}"
        if err.status_code in RETRYABLE_STATUS:
            raise RetryableError(message, parse_retry_after(err.response.headers)) from None
        raise FatalError(message) from None
    except (openai.APIConnectionError, openai.APIResponseValidationError, ValueError) as err:
        # ValueError: a body that is not JSON (json.JSONDecodeError), i.e. a broken response
        raise RetryableError(f"{type(err).__name__}: {_short(err)}") from None


def chat_reply(completion) -> Reply:
    """The first choice's text with token usage; a refusal or content filter is ``refused``."""
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
