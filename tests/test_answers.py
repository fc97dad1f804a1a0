"""Answer extraction: what a careful human grader would accept, on the 300 real questions."""

from __future__ import annotations

import re

import pytest

from mmvp_tasks.answers import (
    Option,
    OptionsFormatError,
    answer_label,
    extract_choice,
    format_options,
    parse_options,
)
from tests.support.mmvp_data import real_rows

OPEN_CLOSED = parse_options("(a) Open (b) Closed")
AB = ["A", "B"]  # labels lmms-eval's prompt shows


def test_parse_options_reads_labels_and_texts():
    assert parse_options("(a) Open (b) Closed") == (Option("a", "Open"), Option("b", "Closed"))
    assert parse_options('(a) "Happy Easter" (b) "Happy Easter!"')[1].text == '"Happy Easter!"'
    assert [o.label for o in parse_options("(1) Up (2) Down")] == ["1", "2"]


@pytest.mark.parametrize(
    "bad",
    ["Open or Closed", "(a) Open", "Open (a) Open (b) Closed", "(a) Open (a) Closed", "(a) (b) X"],
)
def test_parse_options_rejects_malformed(bad):
    with pytest.raises(OptionsFormatError):
        parse_options(bad)


def test_every_real_question_round_trips():
    for row in real_rows():
        options = parse_options(row["Options"])
        assert [o.label for o in options] == ["a", "b"], row
        assert format_options(options) == row["Options"]
        assert answer_label(row["Correct Answer"]) in {"a", "b"}


@pytest.mark.parametrize(
    "response, expected",
    [
        ("B", "b"),
        ("b", "b"),
        ("(b)", "b"),
        ("(B)", "b"),
        ("b)", "b"),
        ("B.", "b"),
        ("B. Closed", "b"),
        ("Option B", "b"),
        ("option b is correct", "b"),
        ("The answer is (B).", "b"),
        ("The answer is B.", "b"),
        ("Answer: A", "a"),
        ("A", "a"),
        ("a", "a"),
        ("(a)", "a"),
        ("closed", "b"),
        ("Closed.", "b"),
        ("The butterfly's wings are OPEN!", "a"),
        ("(b) Closed", "b"),
        ("The wings are not open.", None),  # negation alone: no positive choice
        ("The wings are closed, not open.", "b"),
        # English article "a" is never option A
        ("A butterfly with closed wings", "b"),
        ("It is a closed wing", "b"),
        ("The answer is a closed wing.", "b"),
        ("There is a butterfly on a flower", None),
        # both or neither
        ("Open and closed", None),
        ("(a) Open (b) Closed", None),
        ("A or B", None),
        ("I cannot tell", None),
        ("", None),
        # label and text disagree: a grader would not decide
        ("B. Open", None),
        # explicit label wins over a mention of both texts
        ("The answer is (B): closed rather than open", "b"),
    ],
)
def test_extract_choice_open_closed(response, expected):
    assert extract_choice(response, OPEN_CLOSED, shown_labels=AB) == expected


@pytest.mark.parametrize(
    "options, response, expected",
    [
        ("(a) Left (b) Right", "Right", "b"),
        ("(a) Left (b) Right", "The dog is facing a tree on the right", "b"),
        ("(a) Yes (b) No", "No", "b"),
        ("(a) Yes (b) No", "Yes, it is.", "a"),
        ("(a) One (b) More than one", "More than one", "b"),
        ("(a) One (b) More than one", "one", "a"),
        ("(a) One (b) More than one", "There is only one.", "a"),
        ("(a) Single (b) Multiple", "multiple", "b"),
        ("(a) Shirt (b) T-shirt", "a t-shirt", "b"),
        ("(a) Shirt (b) T-shirt", "He wears a shirt", "a"),
        ("(a) Locked (b) Unlocked", "unlocked", "b"),
        ("(a) Visible (b) Not visible", "Not visible", "b"),
        ("(a) Visible (b) Not visible", "visible", "a"),
        ("(a) Tied (b) Untied", "They are untied.", "b"),
        ("(a) SUGAR (b) UGA", "SUGAR", "a"),
        ("(a) SUGAR (b) UGA", "uga", "b"),
        ("(a) OK/SELECT (b) OK", "OK", "b"),
        ("(a) OK/SELECT (b) OK", "ok/select", "a"),
        ("(a) 12 (b) 1", "1", "b"),
        ("(a) 12 (b) 1", "12", "a"),
        ("(a) 1 (b) 2", "two", "b"),
        ("(a) Dark blue (b) Light blue", "light blue", "b"),
        ('(a) "Happy Easter" (b) "Happy Easter!"', "Happy Easter", None),  # same text: label only
        ('(a) "Happy Easter" (b) "Happy Easter!"', "(b)", "b"),
        ("(a) Correct (b) Incorrect", "incorrect", "b"),
        ("(a) Up (b) Down", "Up", "a"),
    ],
)
def test_extract_choice_by_option_text(options, response, expected):
    parsed = parse_options(options)
    assert extract_choice(response, parsed, shown_labels=AB) == expected


@pytest.mark.parametrize(
    "response, expected",
    [("1", "1"), ("(2)", "2"), ("Option 2", "2"), ("2.", "2"), ("Closed", "2"), ("3", None)],
)
def test_extract_choice_numeric_labels(response, expected):
    options = parse_options("(1) Open (2) Closed")
    assert extract_choice(response, options) == expected


def test_numeric_label_that_is_also_an_option_text_is_ambiguous():
    options = parse_options("(1) 12 (2) 1")
    assert extract_choice("1", options) is None
    assert extract_choice("(2)", options) == "2"


def _letter_forms(label: str) -> list[str]:
    up = label.upper()
    return [up, f"({label})", f"{label})", f"Option {up}", f"The answer is ({up}).", f"{up}."]


def test_every_real_question_reads_every_answer_form():
    """Each real question: each label form and each option text maps to its option."""
    for row in real_rows():
        options = parse_options(row["Options"])
        texts = {re.sub(r"\W+", " ", o.text.lower()).strip() for o in options}
        for option in options:
            for response in _letter_forms(option.label):
                assert extract_choice(response, options, shown_labels=AB) == option.label, (
                    row["Index"],
                    response,
                )
            if len(texts) == len(options):
                assert extract_choice(option.text, options, shown_labels=AB) == option.label, (
                    row["Index"],
                    option.text,
                )
                echoed = f"{option.text.lower()}."
                assert extract_choice(echoed, options, shown_labels=AB) == option.label
        both = f"{options[0].text} or {options[1].text}"
        assert extract_choice(both, options, shown_labels=AB) is None, row["Index"]
