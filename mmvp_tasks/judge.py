"""The paper's LLM grader for free-form MMVP answers (tsb0601/MMVP scripts/gpt_grader.py).

The paper graded with ``gpt-4-0314`` at temperature 0.2; that model is retired, so the default is a
current GPT-4-class model. Any OpenAI-compatible endpoint works:

- ``MMVP_JUDGE_API_KEY`` (or ``OPENAI_API_KEY``): required; read from the environment only.
- ``MMVP_JUDGE_MODEL``: default ``gpt-4.1``.
- ``MMVP_JUDGE_BASE_URL``: default the OpenAI API (or ``OPENAI_BASE_URL``).
- ``MMVP_JUDGE_MAX_RETRIES``: the SDK's retries of a failed request (default 3).
- ``MMVP_JUDGE_CACHE``: verdict cache directory (default ``~/.cache/lmms-mmvp/judge``; ``off``
  disables it): see :mod:`mmvp_tasks.judge_cache`.
- ``MMVP_JUDGE_VERDICT``: how a reply becomes a verdict (default ``original``):

  - ``original``: gpt_grader.py's rule. The raw reply must match ``^(yes|no)$``
    case-insensitively and, lowercased, equal ``yes``; nothing is stripped, so ``" yes"`` and
    ``"yes\n"`` (which the regex's ``$`` lets through) are not correct.
  - ``stripped``: surrounding whitespace is removed first, so ``" Yes\n"`` is correct.

  Every run reports how many replies the two rules judge differently
  (``mmvp_judge_rule_disagreements``), so its score can be compared with the original scripts'.

A reply that is neither yes nor no under the rule is wrong and counted
(``mmvp_judge_unparseable``). A request that fails after the SDK's retries is reported as failed,
not wrong. Results name the judge model and endpoint host (:func:`describe`), never the key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

from mmvp_tasks import judge_cache

GRADER_SYSTEM_PROMPT = (
    "You are a helpful and precise assistant for checking the quality of the answer. "
    "Please answer in only yes or no."
)
GRADER_USER_PROMPT = (
    "Given the following question {question}, the correct answer is {correct_answer}. "
    "Does the following answer correctly answers the question, answer:{model_response}?"
)
DEFAULT_JUDGE_MODEL = "gpt-4.1"
JUDGE_TEMPERATURE = 0.2  # the paper's grader setting
_VERDICT = re.compile(r"^(yes|no)$", re.I)  # gpt_grader.py's yes_no_regex
VERDICT_RULES = ("original", "stripped")


class JudgeConfigError(RuntimeError):
    """The judge cannot run: raised when the task starts, not per sample."""


class JudgeRequestError(RuntimeError):
    """A grading request failed after retries."""


@dataclass(frozen=True)
class JudgeSettings:
    model: str
    base_url: str | None
    timeout_s: float = 60.0
    max_retries: int = 3
    verdict_rule: str = "original"


def settings_from_env() -> JudgeSettings:
    if not (os.environ.get("MMVP_JUDGE_API_KEY") or os.environ.get("OPENAI_API_KEY")):
        raise JudgeConfigError(
            "mmvp_official grades answers with an LLM judge and needs an API key: set "
            "MMVP_JUDGE_API_KEY (or OPENAI_API_KEY); MMVP_JUDGE_MODEL and MMVP_JUDGE_BASE_URL "
            "choose another model or OpenAI-compatible endpoint. For offline scoring use `mmvp`."
        )
    return JudgeSettings(
        model=os.environ.get("MMVP_JUDGE_MODEL", DEFAULT_JUDGE_MODEL),
        base_url=os.environ.get("MMVP_JUDGE_BASE_URL") or None,
        max_retries=int(os.environ.get("MMVP_JUDGE_MAX_RETRIES", "3")),
        verdict_rule=_verdict_rule_from_env(),
    )


def _verdict_rule_from_env() -> str:
    rule = os.environ.get("MMVP_JUDGE_VERDICT", "original")
    if rule not in VERDICT_RULES:
        raise JudgeConfigError(f"MMVP_JUDGE_VERDICT must be one of {VERDICT_RULES}, got {rule!r}")
    return rule


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


def describe(settings: JudgeSettings) -> str:
    """``<model> @ <host[:port]>``: which judge graded, for the results (no key, no path)."""
    return f"{settings.model} @ {judge_cache.endpoint_host(settings.base_url)}"


def verdict_rules_disagree(verdict: str) -> bool:
    """The two rules judge this reply differently (e.g. ``"yes\n"``)."""
    return verdict_is_correct(verdict, "original") != verdict_is_correct(verdict, "stripped")


@lru_cache(maxsize=4)
def _client(settings: JudgeSettings):
    from openai import OpenAI

    return OpenAI(
        api_key=os.environ.get("MMVP_JUDGE_API_KEY") or os.environ.get("OPENAI_API_KEY"),
        base_url=settings.base_url,
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,
    )


def grade(question: str, correct_answer: str, model_response: str, settings: JudgeSettings) -> str:
    """The judge's raw verdict text, from the verdict cache or a request (then cached).
    Raises :class:`JudgeRequestError`; failures are never cached."""
    messages = grader_messages(question, correct_answer, model_response)
    cache = judge_cache.cache_from_env()
    host = judge_cache.endpoint_host(settings.base_url)
    key = judge_cache.verdict_key(
        settings.model, host, {"messages": messages, "temperature": JUDGE_TEMPERATURE}
    )
    if cache is not None and (cached := cache.get(key)) is not None:
        return cached
    verdict = _request_verdict(messages, settings)
    if cache is not None:
        cache.put(key, verdict)
    return verdict


def _request_verdict(messages: list[dict], settings: JudgeSettings) -> str:
    import openai

    try:
        completion = _client(settings).chat.completions.create(
            model=settings.model, messages=messages, temperature=JUDGE_TEMPERATURE
        )
    except openai.OpenAIError as err:
        raise JudgeRequestError(f"{type(err).__name__}: {err}") from None
    content = completion.choices[0].message.content if completion.choices else None
    if content is None:
        raise JudgeRequestError("the judge returned no content")
    return content
