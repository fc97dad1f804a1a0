"""Prompt builders: lmms-eval's multiple-choice prompt and the paper's original free-form one."""

from __future__ import annotations

from mmvp_tasks.answers import Option

# lmms-eval's built-in `mmvp` prompt (tasks/mmvp/_default_template_yaml), kept so numbers compare.
LETTER_POST_PROMPT = "\nAnswer with the option's letter from the given choices directly."
NUMBER_POST_PROMPT = "\nAnswer with the option's number from the given choices directly."


def shown_labels(options: tuple[Option, ...]) -> list[str]:
    """Labels as displayed: letters upper case (``A.``/``B.``, as lmms-eval), digits unchanged."""
    return [o.label.upper() for o in options]


def choice_prompt(
    question: str, options: tuple[Option, ...], pre_prompt: str = "", post_prompt: str = ""
) -> str:
    """``{Question}\\nA. X\\nB. Y{post_prompt}`` as lmms-eval's built-in task builds it."""
    lines = [f"{label}. {o.text}" for label, o in zip(shown_labels(options), options, strict=True)]
    return f"{pre_prompt}{question}\n" + "\n".join(lines) + post_prompt


def official_prompt(question: str, options: str) -> str:
    """The original ``{Question} {Options}`` (scripts/evaluate_mllm.py); no format instruction."""
    return f"{question} {options}"
