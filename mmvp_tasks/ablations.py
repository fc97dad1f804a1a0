"""The paper's two prompt ablations (Tong et al., 2024, Sec. 3.3), as pure transforms of a row's
``Options`` and ``Correct Answer``.

- option swap: ``(a) Open (b) Closed`` -> ``(a) Closed (b) Open``, the answer letter remapped;
- symbol change: ``(a)/(b)`` -> ``(1)/(2)``.

GPT-4V scored 38.7 originally, 40.3 with options swapped and 37.3 with changed notation: its
failures are visual, not artefacts of the answer format.
"""

from __future__ import annotations

from mmvp_tasks.answers import Option, answer_label, format_options, parse_options


def swap_options(options: str, correct_answer: str) -> tuple[str, str]:
    """Reverse the option texts, keep the labels in place, and follow the answer to its text."""
    parsed = parse_options(options)
    swapped = tuple(Option(o.label, r.text) for o, r in zip(parsed, reversed(parsed), strict=True))
    position = _position(parsed, correct_answer)
    return format_options(swapped), f"({parsed[len(parsed) - 1 - position].label})"


def change_symbols(options: str, correct_answer: str) -> tuple[str, str]:
    """Relabel the options ``(1)``, ``(2)``, ... in order, keeping their texts."""
    parsed = parse_options(options)
    relabelled = tuple(Option(str(i), o.text) for i, o in enumerate(parsed, start=1))
    return format_options(relabelled), f"({relabelled[_position(parsed, correct_answer)].label})"


def _position(options: tuple[Option, ...], correct_answer: str) -> int:
    return [o.label for o in options].index(answer_label(correct_answer))
