"""The paper's LLM grader for free-form MMVP answers (tsb0601/MMVP scripts/gpt_grader.py).

The paper graded with ``gpt-4-0314`` at temperature 0.2; that model is retired, so the default is a
current GPT-4-class model. Any OpenAI-compatible endpoint works. The task hooks read the settings
from the environment (:func:`settings_from_env`), once per call:

- ``MMVP_JUDGE_API_KEY`` (or ``OPENAI_API_KEY``): required; read from the environment only.
- ``MMVP_JUDGE_MODEL``: default ``gpt-4.1``.
- ``MMVP_JUDGE_BASE_URL``: default ``OPENAI_BASE_URL``, else the OpenAI API.
- ``MMVP_JUDGE_MAX_RETRIES``: retries of a failed request (default 3).
- ``MMVP_JUDGE_CACHE``: the cache directory (default ``~/.cache/lmms-mmvp/judge``; ``off``
  disables it).
- ``MMVP_JUDGE_VERDICT``: how a reply becomes a verdict (default ``original``):

  - ``original``: gpt_grader.py's rule. The raw reply must match ``^(yes|no)$``
    case-insensitively and, lowercased, equal ``yes``; nothing is stripped, so ``" yes"`` and
    ``"yes\n"`` (which the regex's ``$`` lets through) are not correct.
  - ``stripped``: surrounding whitespace is removed first, so ``" Yes\n"`` is correct.

  Every run reports how many replies the two rules judge differently
  (``mmvp_judge_rule_disagreements``), so its score can be compared with the original scripts'.

Requests go through the API adapters' request engine (:mod:`mmvp_tasks.request_engine`): retries
with backoff and the server's ``Retry-After``, a resumable SQLite cache keyed by judge model,
endpoint host and the full grading request (written as each verdict arrives; failures are never
cached), Ctrl-C stopping at once, and a rejected key (401/403) stopping the run. A request that
still fails is reported as failed, not wrong; a reply that is neither yes nor no under the rule is
wrong and counted (``mmvp_judge_unparseable``). Results name the judge model and endpoint host
(:func:`describe`), never the key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from mmvp_tasks import openai_requests
from mmvp_tasks.request_engine import (
    AuthenticationError,
    EngineSettings,
    FatalError,
    Reply,
    RequestEngine,
    ResponseCache,
)

GRADER_SYSTEM_PROMPT = (
    "You are a helpful and precise assistant for checking the quality of the answer. "
    "Please answer in only yes or no."
)
GRADER_USER_PROMPT = (
    "Given the following question {question}, the correct answer is {correct_answer}. "
    "Does the following answer correctly answers the question, answer:{model_response}?"
)
DEFAULT_JUDGE_MODEL = "gpt-4.1"
DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the openai SDK's default
JUDGE_TEMPERATURE = 0.2  # the paper's grader setting
_VERDICT = re.compile(r"^(yes|no)$", re.I)  # gpt_grader.py's yes_no_regex
VERDICT_RULES = ("original", "stripped")
CACHE_FILE = "responses.sqlite"
KEY_VARIABLES = ("MMVP_JUDGE_API_KEY", "OPENAI_API_KEY")  # the first one set holds the key


class JudgeConfigError(RuntimeError):
    """The judge cannot run: no key, a bad setting (when the task starts), or a key the endpoint
    rejects (the run stops at the first request)."""


class JudgeRequestError(RuntimeError):
    """A grading request failed after retries."""


@dataclass(frozen=True)
class JudgeSettings:
    model: str
    base_url: str
    api_key: str = field(repr=False)
    key_source: str = "MMVP_JUDGE_API_KEY"  # the variable the key came from, for messages
    timeout_s: float = 60.0
    max_retries: int = 3
    verdict_rule: str = "original"
    cache_dir: Path | None = None  # None: no cache


def settings_from_env() -> JudgeSettings:
    key_source = next((v for v in KEY_VARIABLES if os.environ.get(v)), None)
    if key_source is None:
        raise JudgeConfigError(
            "mmvp_official grades answers with an LLM judge and needs an API key: set "
            "MMVP_JUDGE_API_KEY (or OPENAI_API_KEY); MMVP_JUDGE_MODEL and MMVP_JUDGE_BASE_URL "
            "choose another model or OpenAI-compatible endpoint. For offline scoring use `mmvp`."
        )
    return JudgeSettings(
        model=os.environ.get("MMVP_JUDGE_MODEL", DEFAULT_JUDGE_MODEL),
        base_url=(
            os.environ.get("MMVP_JUDGE_BASE_URL")
            or os.environ.get("OPENAI_BASE_URL")
            or DEFAULT_BASE_URL
        ),
        api_key=os.environ[key_source],
        key_source=key_source,
        max_retries=int(os.environ.get("MMVP_JUDGE_MAX_RETRIES", "3")),
        verdict_rule=_verdict_rule_from_env(),
        cache_dir=_cache_dir_from_env(),
    )


def _verdict_rule_from_env() -> str:
    rule = os.environ.get("MMVP_JUDGE_VERDICT", "original")
    if rule not in VERDICT_RULES:
        raise JudgeConfigError(f"MMVP_JUDGE_VERDICT must be one of {VERDICT_RULES}, got {rule!r}")
    return rule


def _cache_dir_from_env() -> Path | None:
    setting = os.environ.get("MMVP_JUDGE_CACHE", "")
    if setting.lower() == "off":
        return None
    return Path(setting) if setting else Path.home() / ".cache" / "lmms-mmvp" / "judge"


def grader_messages(question: str, correct_answer: str, model_response: str) -> list[dict]:
    user = GRADER_USER_PROMPT.format(
        question=question, correct_answer=correct_answer, model_response=model_response
    )
    return [
        {"role": "system", "content": GRADER_SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]


def verdict_is_correct(verdict: str, rule: str = "original") -> bool:
    """Whether the judge's reply says "correct" under ``rule`` (see the module docstring).

    ``original`` reproduces gpt_grader.py step by step: ``yes_no_regex.match(answer)``, then
    ``answer.lower() == "yes"``."""
    text = _verdict_text(verdict, rule)
    return bool(_VERDICT.match(text)) and text.lower() == "yes"


def verdict_is_unparseable(verdict: str, rule: str = "original") -> bool:
    """The reply is neither yes nor no under ``rule`` (it is then scored wrong)."""
    return not _VERDICT.match(_verdict_text(verdict, rule))


def _verdict_text(verdict: str, rule: str) -> str:
    if rule not in VERDICT_RULES:
        raise ValueError(f"unknown verdict rule {rule!r}; use one of {VERDICT_RULES}")
    return verdict.strip() if rule == "stripped" else verdict


def endpoint_host(base_url: str) -> str:
    """``host[:port]`` of the judge endpoint (no scheme, path or credentials)."""
    parts = urlsplit(base_url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def describe(settings: JudgeSettings) -> str:
    """``<model> @ <host[:port]>``: which judge graded, for the results (no key, no path)."""
    return f"{settings.model} @ {endpoint_host(settings.base_url)}"


def verdict_rules_disagree(verdict: str) -> bool:
    """The two rules judge this reply differently (e.g. ``"yes\n"``)."""
    return verdict_is_correct(verdict, "original") != verdict_is_correct(verdict, "stripped")


def grade(question: str, correct_answer: str, model_response: str, settings: JudgeSettings) -> str:
    """The judge's raw verdict text, from the cache or a request through the engine (then cached).
    Raises :class:`JudgeRequestError` when the request fails after its retries (never cached)
    and :class:`JudgeConfigError` when the endpoint rejects the key."""
    payload = {
        "model": settings.model,
        "messages": grader_messages(question, correct_answer, model_response),
        "temperature": JUDGE_TEMPERATURE,
    }
    namespace = {"judge": settings.model, "endpoint": endpoint_host(settings.base_url)}
    try:
        (outcome,) = _engine(settings).run(
            1, lambda _: payload, lambda p: _send_verdict(settings, p), namespace
        )
    except AuthenticationError as err:
        raise JudgeConfigError(str(err)) from None
    if not isinstance(outcome, Reply):
        raise JudgeRequestError(outcome.reason)
    return outcome.text


@lru_cache(maxsize=4)
def _engine(settings: JudgeSettings) -> RequestEngine:
    """One engine (and cache connection) per judge configuration, kept for the run."""
    engine_settings = EngineSettings(
        concurrency=1,  # lmms-eval scores one document at a time
        max_retries=settings.max_retries,
        timeout_s=settings.timeout_s,
    )
    cache = ResponseCache(settings.cache_dir / CACHE_FILE) if settings.cache_dir else None
    return RequestEngine(engine_settings, cache)


@lru_cache(maxsize=4)
def _client(settings: JudgeSettings):
    return openai_requests.make_client(settings.api_key, settings.base_url, settings.timeout_s)


def _send_verdict(settings: JudgeSettings, payload: dict) -> Reply:
    create = _client(settings).chat.completions.create
    completion = openai_requests.call(lambda: create(**payload), lambda s: _rejected(settings, s))
    reply = openai_requests.chat_reply(completion)  # no choices: retryable
    if reply.refused or completion.choices[0].message.content is None:
        raise FatalError(f"the judge returned no verdict ({reply.text or 'no content'})")
    return reply


def _rejected(settings: JudgeSettings, status: int) -> AuthenticationError:
    """Names the endpoint and the key's variable, never the key or the provider's error body."""
    kept = " (verdicts already received are cached)" if settings.cache_dir else ""
    return AuthenticationError(
        f"HTTP {status}: the judge endpoint {endpoint_host(settings.base_url)} rejected the key "
        f"from ${settings.key_source} for model {settings.model}. The run stopped: fix the key "
        f"and run again{kept}."
    )
