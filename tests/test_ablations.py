"""The paper's prompt ablations and the prompts, on all 300 real questions."""

from __future__ import annotations

from mmvp_tasks.ablations import change_symbols, swap_options
from mmvp_tasks.answers import answer_label, parse_options
from mmvp_tasks.prompts import LETTER_POST_PROMPT, choice_prompt, official_prompt
from tests.support.mmvp_data import real_rows


def _answer_text(options: str, answer: str) -> str:
    label = answer_label(answer)
    return next(o.text for o in parse_options(options) if o.label == label)


def test_option_swap_example_from_the_paper():
    assert swap_options("(a) Open (b) Closed", "(a)") == ("(a) Closed (b) Open", "(b)")
    assert swap_options("(a) Open (b) Closed", "(b)") == ("(a) Closed (b) Open", "(a)")


def test_symbol_change_example_from_the_paper():
    assert change_symbols("(a) Open (b) Closed", "(b)") == ("(1) Open (2) Closed", "(2)")


def test_option_swap_on_every_real_question():
    for row in real_rows():
        options, answer = swap_options(row["Options"], row["Correct Answer"])
        assert answer != row["Correct Answer"], row["Index"]  # binary: the letter flips
        assert _answer_text(options, answer) == _answer_text(row["Options"], row["Correct Answer"])
        original = parse_options(row["Options"])
        assert [o.text for o in parse_options(options)] == [o.text for o in reversed(original)]
        assert swap_options(options, answer) == (row["Options"], row["Correct Answer"])


def test_symbol_change_on_every_real_question():
    for row in real_rows():
        options, answer = change_symbols(row["Options"], row["Correct Answer"])
        assert [o.label for o in parse_options(options)] == ["1", "2"]
        assert answer == {"(a)": "(1)", "(b)": "(2)"}[row["Correct Answer"]]
        assert _answer_text(options, answer) == _answer_text(row["Options"], row["Correct Answer"])


def test_choice_prompt_matches_lmms_eval_builtin_snapshot():
    prompt = choice_prompt(
        "Are the butterfly's wings closer to being open or closed?",
        parse_options("(a) Open (b) Closed"),
        post_prompt=LETTER_POST_PROMPT,
    )
    assert prompt == (
        "Are the butterfly's wings closer to being open or closed?\nA. Open\nB. Closed\n"
        "Answer with the option's letter from the given choices directly."
    )


def test_choice_prompt_with_numeric_labels():
    prompt = choice_prompt("Q?", parse_options("(1) Open (2) Closed"))
    assert prompt == "Q?\n1. Open\n2. Closed"


def test_official_prompt_is_question_space_options():
    assert official_prompt("Q?", "(a) Open (b) Closed") == "Q? (a) Open (b) Closed"
