"""How a failed or refused model request travels through the harness without being scored.

lmms-eval passes every response to the task as a string. An adapter whose request failed for good
(after its retries) returns :func:`failed_response`; one whose provider refused or blocked the
request (e.g. a safety block) returns :func:`refused_response`. The scorer counts both, each on its
own: a failure is infrastructure and is not scored; a refusal is the model's behaviour and is scored
wrong.
"""

from __future__ import annotations

FAILED_PREFIX = "[mmvp: request failed]"
REFUSED_PREFIX = "[mmvp: request refused]"


def failed_response(reason: str) -> str:
    return f"{FAILED_PREFIX} {reason}"


def refused_response(reason: str) -> str:
    return f"{REFUSED_PREFIX} {reason}"


def is_failed_response(response: str) -> bool:
    return response.startswith(FAILED_PREFIX)


def is_refused_response(response: str) -> bool:
    return response.startswith(REFUSED_PREFIX)
