"""Reasoning blocks removed from a reply before it is scored, as lmms-eval 0.7.3 removes them.

lmms-eval's evaluator strips ``--reasoning_tags`` blocks from every reply in its scoring loop
(``lmms_eval.api.reasoning.strip_reasoning_tags``; default ``<think>`` and ``<analysis>``), so a
task's reader sees only what follows the reasoning. Grading an answers file outside lmms-eval must
do the same for its scores to agree with a live run. The rules, per tag pair in order:

- every ``<think>...</think>`` block is cut out, the first opening tag to the next closing tag;
- a reply with a closing tag but no opening one (the chat template prefilled ``<think>``) keeps
  what follows its last closing tag;
- an opening tag never closed is left as it is (the whole reply stays);
- the result is stripped of surrounding whitespace. Tags are case-sensitive.
"""

from __future__ import annotations

import json

TagPairs = tuple[tuple[str, str], ...]
# lmms-eval 0.7.3's default for --reasoning_tags.
DEFAULT_REASONING_TAGS: TagPairs = (("<think>", "</think>"), ("<analysis>", "</analysis>"))


def strip_reasoning(reply: str, tags: TagPairs) -> str:
    """``reply`` without its reasoning blocks (see the module docstring)."""
    for opening, closing in tags:
        reply = _without_blocks(reply, opening, closing)
        if closing in reply and opening not in reply:
            reply = reply.rpartition(closing)[2]
    return reply.strip()


def _without_blocks(reply: str, opening: str, closing: str) -> str:
    while (start := reply.find(opening)) >= 0 and (end := reply.find(closing, start)) >= 0:
        reply = reply[:start] + reply[end + len(closing) :]
    return reply


def parse_reasoning_tags(value: str) -> TagPairs | None:
    """``--reasoning-tags`` as lmms-eval reads ``--reasoning_tags``: a JSON list of
    ``[opening, closing]`` pairs, or ``none`` (no stripping, ``None``)."""
    if value.strip().lower() == "none":
        return None
    try:
        pairs = json.loads(value)
    except json.JSONDecodeError as err:
        raise ValueError(f'not JSON ({err}); expected e.g. \'[["<think>", "</think>"]]\'') from None
    if not isinstance(pairs, list) or not all(_is_tag_pair(p) for p in pairs):
        raise ValueError(
            f"{value!r}: expected a list of [opening, closing] pairs of non-empty strings, "
            "or 'none'"
        )
    return tuple((opening, closing) for opening, closing in pairs)


def _is_tag_pair(pair) -> bool:
    return (
        isinstance(pair, list)
        and len(pair) == 2
        and all(isinstance(tag, str) and tag for tag in pair)
    )
