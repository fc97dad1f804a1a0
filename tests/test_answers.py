"""Answer extraction: what a careful human grader would accept, on the 300 real questions."""

from __future__ import annotations

import random
import re

import pytest

from mmvp_tasks import ablations
from mmvp_tasks.answers import (
    Option,
    OptionsFormatError,
    answer_label,
    extract_choice,
    format_options,
    parse_options,
)
from mmvp_tasks.prompts import shown_labels
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
        ('(a) "Happy Easter" (b) "Happy Easter!"', "Happy Easter", "a"),  # exact match
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


# ----------------------------------------------------------------------------- real answer forms
# (Index, response, expected reading) on the real questions: the options come from Questions.csv.
# The forms are those real MLLMs write (short letters, letters with explanations, LLaVA-style
# sentences); None means a careful grader would not decide (scored wrong).

_ROWS = {int(row["Index"]): row for row in real_rows()}


def _read(index: int, response: str, transform=None) -> str | None:
    row = _ROWS[index]
    options = row["Options"]
    if transform:
        options, _ = transform(options, row["Correct Answer"])
    parsed = parse_options(options)
    return extract_choice(response, parsed, shown_labels=shown_labels(parsed))


@pytest.mark.parametrize(
    "index, response, expected",
    [
        (1, "B\n\nExplanation: the wings are open.", "b"),
        (1, "Answer: B\nThe wings look open at first glance.", "b"),
        (1, "**B**", "b"),
        (1, "**B. Closed**", "b"),
        (1, "\\boxed{B}", "b"),
        (1, "$\\boxed{\\text{B}}$", "b"),
        (1, "Thus, \\boxed{B}.", "b"),
        (1, "B is correct", "b"),
        (1, "B is the correct answer because the wings are folded.", "b"),
        (1, "B, the wings are folded.", "b"),
        (1, "(B)", "b"),
        (1, "B)", "b"),
        (1, "Option B", "b"),
        (1, "The answer is (B).", "b"),
        (1, "The correct answer is: B", "b"),
        (1, "### Answer\nB", "b"),
        (1, "Final answer: A", "a"),
        (1, "A\n", "a"),
        (1, "I choose B.", "b"),
        (1, "I think it's B because the wings are folded.", "b"),
        (
            1,
            "The correct answer is B.\n\nA. Open - incorrect, the wings are folded.\nB. Closed.",
            "b",
        ),
        (5, "The dog is facing left.\nB", "b"),  # a stated label wins over the explanation
        (9, "A. Yes", "a"),
        (153, "B. More than one", "b"),
        (271, "B. T-shirt", "b"),
        (147, "B. Not visible", "b"),
        (133, "A. OK/SELECT", "a"),
    ],
)
def test_a_stated_label_is_read_whatever_follows(index, response, expected):
    assert _read(index, response) == expected


@pytest.mark.parametrize(
    "index, response, expected",
    [
        # other option's text outside the label's clause: the label stands
        (1, "B. The wings are not fully open.", "b"),
        (1, "B. The butterfly's wings are folded, so they are not open.", "b"),
        (1, "A. Open - the wings are spread wide.", "a"),
        (9, "B. No, the key Z is hidden.", "b"),
        (1, "The answer is B, not A.", "b"),
        (1, "Option A is incorrect; the wings are closed.", "b"),
        # right after the label, or on its line: a contradiction
        (1, "B. Open", None),
        (1, "A. Closed", None),
        (271, "A. T-shirt", None),
        (147, "A. Not visible", None),
        (133, "B. OK/SELECT", None),
        (9, "A. No", None),
        (1, "A. Open\nB. Closed", None),
        (1, "(a) Open (b) Closed", None),
        (1, "A\nB", None),
        (1, "Answer: A\nAnswer: B", None),
        # a label in passing must agree with the text
        (1, "The wings are closed (B).", "b"),
        (1, "The wings are open (B).", None),
        (1, "The wings are open, unlike option B.", None),
        (1, "Option (A) is incorrect, option (B) is correct.", "b"),
        (1, "Answer: (A) Open\n\nExplanation: The butterfly's wings are closed.", "a"),
        (1, "Are the butterfly's wings open or closed? Answer: B", "b"),
        # option lines of an explanation: not an answer on their own
        (1, "The wings are closed.\nA. The left wing is folded.", "b"),
        (1, "The wings are open.\nA. Open\nB. Closed", "a"),
        (1, "A: Open - the wings would be spread.\nB: Closed - the wings are folded.", None),
        (1, "A) Open, B) Closed. The wings are closed.", None),
        (1, "B\n\n(A) would mean the wings are spread.", "b"),
    ],
)
def test_a_label_is_contradicted_only_in_its_own_clause(index, response, expected):
    assert _read(index, response) == expected


@pytest.mark.parametrize(
    "options, response, expected",
    [
        ("(a) Open (b) Closed", "The casino open sign is lit.", "a"),
        ("(a) Left (b) Right", "The volcano left a trail of ash.", "a"),
        ("(a) Floor (b) Soil", "The vegetables are on the soil, not on the floor.", "b"),
        ("(a) Open (b) Closed", "The wings are not open.", None),
        ("(a) Open (b) Closed", "The wings aren't open.", None),
        ("(a) Open (b) Closed", "The wings are neither open nor closed.", None),
        ("(a) Open (b) Closed", "The wings are closed, not open.", "b"),
        ("(a) Open (b) Closed", "The wings are not open, but closed.", "b"),
        ("(a) Open (b) Closed", "The wings are not open. They are closed.", "b"),
        ("(a) Open (b) Closed", "There is no doubt that the wings are open.", "a"),
        ("(a) Open (b) Closed", "There is no sign that the wings are open.", None),
        ("(a) Towards (b) Away from", "Running away from the camera, not towards it.", "b"),
        ("(a) Correct (b) Incorrect", "The statement is not correct.", None),
    ],
)
def test_negation_is_by_whole_words_and_covers_its_clause(options, response, expected):
    assert extract_choice(response, parse_options(options), shown_labels=AB) == expected


@pytest.mark.parametrize(
    "index, response, expected",
    [
        # comparatives
        (3, "The flame of the match is more round than thin.", "a"),
        (4, "The flame of the match is more thin than round.", "b"),
        (162, "The minute hand is closer to 1 than to 12.", "b"),
        (161, "The minute hand is closer to 12 than to 1.", "a"),
        # an option's words with extra words between them
        (164, "The tree is positioned in front of a wall that stands between two windows.", "b"),
        (163, "The Christmas tree is positioned in front of a large window.", "a"),
        (167, "Some of the fruits are cut open.", "a"),
        (168, "All of the fruits are uncut.", "b"),
        (199, "These are quail's eggs.", "a"),
        # singular / plural
        (166, "The berries are placed in a bowl of yogurt.", "b"),
        (165, "The berries are placed on dishes.", "a"),
        (188, "The person is stretching out both arm above their head.", "b"),
        # quantity
        (154, "There are three bananas in the image.", "b"),
        (154, "There are three red apples in the image.", "b"),
        (154, "There are several red apples in the image.", "b"),
        (153, "There is one red apple in the image.", "a"),
        (275, "The treehouse is built on a single tree.", "a"),
        (276, "The treehouse is built on two trees.", "b"),
        (153, "There is only one apple, not three.", "a"),
        (154, "There are three red apples, one of which is partly hidden.", "b"),  # a pronoun
        # the words that tell the options apart
        (152, "The image captures a woman running from the side.", "b"),
        (151, "The image captures a woman running from the back.", "a"),
        (284, "The salmon is cut into a steak.", "b"),
        (233, "The sky is blue with a light haze.", None),  # not "light blue"
        (178, "The person is facing sideways to the ocean.", None),  # not "Facing the ocean"
        # options equal once normalised: an exact, punctuation-sensitive match
        (201, 'The words in the image are "Happy Easter".', "a"),
        (202, 'The words in the image are "Happy Easter!"', "b"),
        (202, "Happy Easter!", "b"),
        (201, "Happy Easter", "a"),
        (202, "The words in the image are Happy Easter.", None),
    ],
)
def test_paraphrases_a_grader_accepts(index, response, expected):
    assert _read(index, response) == expected


@pytest.mark.parametrize(
    "index, response, expected",
    [
        (11, "Yes, the peacock has opened its tail, displaying its colorful feathers.", "a"),
        (12, "No, the peacock has not opened its tail.", "b"),
        (9, 'Yes, the key "Z" is visible in the image.', "a"),
        (10, 'No, the key "Z" is not visible in the image.', "b"),
        (27, "Yes", "a"),
        (28, "No.", "b"),
        (28, "**No**", "b"),
        (67, "yes, there are some clouds in the sky.", "a"),
        (68, "No, there are no clouds in the sky; it is clear and blue.", "b"),
        (281, "The answer is no.", "b"),
        (281, "Answer: Yes", "a"),
        (15, "There is no shadow on the flower.", None),  # no yes/no word: not guessed
        (15, "Yes and no.", None),
        (15, "Yes or no, it is hard to say.", None),
        (15, "Not sure.", None),
        (15, "None of the petals is shaded.", None),
        (15, "I cannot tell from the image.", None),
        # "Is the following statement correct?" answered yes / no
        (29, "No, we can see the windows on the school bus.", "b"),
        (63, "Yes, one daisy is in the shadow of a taller one.", "a"),
        (63, "Yes, the statement is incorrect.", None),  # contradicts itself
    ],
)
def test_yes_no_questions_read_the_first_word(index, response, expected):
    assert _read(index, response) == expected


@pytest.mark.parametrize(
    "index, response",
    [
        (1, "The wings are either open or closed."),
        (1, "It is hard to tell whether the wings are open or closed."),
        (1, "It could be A or B."),
        (1, "A or B"),
        (1, "(A) or (B)"),
        (1, "Both A and B"),
        (1, "Neither A nor B"),
        (1, "The answer is not A."),
        (1, "The answer is A or B."),
        (1, "The wings are not closed. The butterfly is resting."),
        (79, "The snake's head is facing forward and slightly upward."),
        (153, "There are 2 red apples and 1 green apple."),
        (5, "The dog could be facing left or right."),
        (193, "The vegetables are on the floor and on the soil."),
        (6, "The dog's left ear is raised and it faces right."),
        (131, "The animal lies on the carpet, with its head on the floor."),
        (300, "The background is dark."),  # part of an option is not the option
        (257, "There is a lemon slice inside the drink."),  # "one" is not said
    ],
)
def test_hedges_and_half_answers_are_unparseable(index, response):
    assert _read(index, response) is None


@pytest.mark.parametrize(
    "index, response, expected",
    [
        # letters that are not labels: a wrong reading here is a false "right"
        (2, "A butterfly with open wings is resting on a leaf.", "a"),
        (2, "A.", "a"),
        (9, "I can see the keys Q, W, E, A, S and D.", None),
        (49, "A, S, D and W keys are visible, but not the arrow keys.", None),
        (277, "The letters are S, U, G, A, R.", None),
        (117, "2.5 eyes", None),
        (116, "The snail is facing away from the camera.", "a"),
        (7, "The bus is driving away from the camera, not towards it.", "b"),
        (1, "Is the butterfly open or closed? The wings are closed.", "b"),
        # words that look like an option but are not an answer
        (5, "The dog is sitting right in front of the camera, looking at it.", None),
        (5, "That's right, the dog faces left.", "a"),
        (5, "The dog is facing right in the image.", "b"),
        (117, "The cat's eyes are both visible, one on each side of its face.", "b"),
        (117, "One of the cat's eyes is hidden.", None),
        (117, "Both eyes are visible.", "b"),
        (240, "One shoe is on top of the other.", "b"),
        (25, "The chicken's body is black with a red comb.", None),  # both named: not guessed
    ],
)
def test_adversarial_forms(index, response, expected):
    assert _read(index, response) == expected


@pytest.mark.parametrize(
    "index, response, expected",
    [
        (1, "The butterfly's wings are open.", "a"),
        (2, "The butterfly's wings are closed, as they are folded together above its body.", "b"),
        (
            1,
            "In the image, the butterfly's wings are open, displaying vibrant orange patterns.",
            "a",
        ),
        (1, "The image shows a butterfly perched on a flower. Its wings are open.", "a"),
        (4, "The flame is thin and elongated.", "b"),
        (5, "The dog is facing left from the camera's perspective.", "a"),
        (6, "From the camera's perspective, the dog is facing to the right.", "b"),
        (7, "The school bus is driving towards the camera.", "a"),
        (8, "The school bus is driving away from the camera, as we can see its rear.", "b"),
        (13, "The image is more likely of multiple ears of corn.", "b"),
        (13, "The image shows a single ear of corn.", "a"),
        (23, "The image is taken from the side.", "b"),
        (26, "The chicken's body is red, with some darker feathers on its tail.", "b"),
        (29, "The statement is incorrect. We can see the windows on the school bus.", "b"),
        (29, "Correct.", "a"),
        (37, "The flowers in the background are pink.", "a"),
        (47, "There are 6 spots on the animal.", "b"),
        (47, "There are five spots on the animal in the image.", "a"),
        (71, "The lock is unlocked.", "b"),
        (71, "The lock is locked.", "a"),
        (75, "The flower is seen from the top.", "a"),
        (79, "The snake's head is oriented facing upwards.", "a"),
        (80, "The snake's head is directed forwards.", "b"),
        (85, "The ears of the dog are drooping.", "b"),
        (95, "The spider web is relatively sparse from the camera's perspective.", "b"),
        (95, "The spider web is dense.", "a"),
        (96, "The web is very sparse.", "b"),
        (129, "The words are facing straight towards the camera.", "a"),
        (147, "The snake's head is visible, not hidden.", "a"),
        (99, "The elephant has long tusks.", "a"),
        (103, "The needle is pointing down.", "b"),
        (105, "The camera is positioned at eye level.", "a"),
        (106, "The camera is looking down from above.", "b"),
        (109, "The bird's wings are flapping downward.", "b"),
        (111, "The end of the elephant's trunk is pointing outward.", "b"),
        (115, "The snail is facing away from the camera.", "a"),
        (116, "The snail in the picture is facing the camera.", "b"),
        (117, "I can see two eyes of the cat in the picture.", "b"),
        (117, "Only one eye of the cat is visible.", "a"),
        (127, "The flower's center is protruding.", "a"),
        (129, 'The words "SCHOOL BUS" are oriented at an angle.', "b"),
        (131, "The yellow animal's head is lying on the carpet.", "b"),
        (133, 'The center button says "OK".', "b"),
        (133, "The center button says OK/SELECT.", "a"),
        (133, "The center button says 'OK' and 'SELECT'.", "a"),
        (135, "There are two cups of drink in the image.", "b"),
        (137, "The snake is coiled.", "a"),
        (138, "The snake's head is extended, while its body lies straight.", "b"),
        (141, "The elephant's trunk is raised.", "a"),
        (143, "The ladybug is positioned upside down.", "b"),
        (145, "The photo is taken looking down from above.", "a"),
        (146, "The photo is taken looking up from below.", "b"),
        (147, "The snake's head is not visible in the picture.", "b"),
        (147, "The snake's head is visible.", "a"),
        (149, "The piano's back panel is on the right side.", "b"),
        (155, "The vase is on the windowsill.", "b"),
        (155, "The vase is beside the bedside table.", "a"),
        (157, "The frame at the front of the motorcycle is primarily black.", "b"),
        (159, "I can see both arms of the people operating the machine.", "b"),
        (173, "The decoration on the Easter egg is raised.", "b"),
        (175, "The nail polish on the toes is dark in color.", "a"),
        (177, "The person is facing the ocean.", "a"),
        (178, "The person is turned sideways to the ocean.", "b"),
        (179, "I can see two wheels in the image.", "b"),
        (181, "The stripe in the middle of the car is white.", "b"),
        (183, "The teddy bears are holding hands.", "a"),
        (184, "The teddy bears are leaning against each other.", "b"),
        (189, "The person is on the gravel path.", "b"),
        (193, "The vegetables are placed on the floor.", "a"),
        (199, "The eggs in the corner of the picture are quail eggs.", "a"),
        (200, "They are chicken eggs.", "b"),
        (207, "The bell pepper is yellow.", "b"),
        (211, "The heart-shaped object is being held by the fingers.", "b"),
        (211, "The heart-shaped object is resting on the palm of the hand.", "a"),
        (217, "The knife is standing up.", "b"),
        (217, "The knife is laid flat on the cutting board.", "a"),
        (219, "The person is running toward the camera.", "a"),
        (220, "The person is running away from the camera.", "b"),
        (235, "The individuals in the picture face the back.", "b"),
        (239, "The leather shoes are placed side by side.", "a"),
        (240, "One shoe is on top of the other.", "b"),
        (241, "The photo is taken directly above the coffee.", "a"),
        (242, "The photo is taken from the side.", "b"),
        (245, "The elderly person is sitting.", "b"),
        (249, "The very top of the cake is cream.", "b"),
        (251, "The beverage is contained in a glass.", "b"),
        (253, "The design in the picture is Santa Claus.", "a"),
        (258, "All of the lemons are outside the drink.", "b"),
        (261, "The person is sitting on a white chair.", "b"),
        (263, "It is a slice of cake.", "a"),
        (264, "It is a whole cake.", "b"),
        (265, "The shoe is untied.", "b"),
        (267, "The child is facing forward.", "a"),
        (268, "The child is in profile.", "b"),
        (269, "The wall behind the bed is empty.", "a"),
        (270, "There is a painting hanging on the wall behind the bed.", "b"),
        (271, "The male is wearing a shirt.", "a"),
        (272, "The male in the picture is wearing a T-shirt.", "b"),
        (273, "The pattern in the picture is bats.", "b"),
        (277, "The letters in the image are SUGAR.", "a"),
        (283, "It is a salmon fillet.", "a"),
        (287, "The cup is being held by a hand.", "b"),
        (287, "The cup is placed on a surface.", "a"),
        (295, "The edge of the heart is dark-colored.", "b"),
        (300, "Most of the background is dark and cloudy.", "b"),
    ],
)
def test_llava_style_sentences(index, response, expected):
    assert _read(index, response) == expected


@pytest.mark.parametrize(
    "index, response, expected",
    [
        (1, "2\nThe wings are folded.", "2"),
        (1, "2\n\nExplanation: the wings are open.", "2"),
        (1, "Answer: 1", "1"),
        (1, "**1**", "1"),
        (1, "The answer is 2.", "2"),
        (1, "The wings are closed.", "2"),
        (1, "1 or 2", None),
        (161, "1", None),  # the label 1, or the option text "1" of (2)?
        (161, "(2)", "2"),
        (159, "1 arm", "1"),  # the option text "One arm", not the label
        (159, "2", "2"),
        (153, "2", "2"),
        (117, "2.5 eyes", None),
        (1, "Answer:\n2", "2"),
        (1, "1. Open, 2. Closed", None),
        (1, "2\n\n(1) would mean open wings.", "2"),
        # a numbered explanation is not an answer
        (1, "The wings are closed.\n1. The left wing is folded.", "2"),
        (
            1,
            "The wings are folded.\n\n1. The left wing touches the right.\n2. No color shows.",
            None,
        ),
    ],
)
def test_symbol_change_answers(index, response, expected):
    assert _read(index, response, ablations.change_symbols) == expected


@pytest.mark.parametrize(
    "index, response, expected",
    [
        (1, "B", "b"),
        (1, "Open", "b"),
        (1, "The wings are closed.", "a"),
        (153, "There are three apples.", "a"),
        (153, "There is only one apple.", "b"),
    ],
)
def test_option_swap_answers(index, response, expected):
    assert _read(index, response, ablations.swap_options) == expected


def test_no_response_breaks_the_extractor():
    """Odd mixes of labels, brackets and markup on every real question and variant: a reading
    or None, never an exception."""
    rng = random.Random(0)
    pieces = [*"ab AB12()[].:,;!?-\n*$\\{}'\"", "boxed", "answer", "is", "not", "or", "one", "open"]
    for index in _ROWS:
        for transform in (None, ablations.change_symbols, ablations.swap_options):
            for _ in range(5):
                response = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
                assert _read(index, response, transform) in {None, "a", "b", "1", "2"}


def test_every_real_question_keeps_a_stated_label_and_rejects_a_hedge():
    """Each real question, each option: a label followed by an explanation naming the other
    option reads as the label; the label echoing the other option, or both options, do not."""
    for index, row in _ROWS.items():
        options = parse_options(row["Options"])
        for this, other in (options, options[::-1]):
            label, text, other_text = this.label.upper(), this.text, other.text
            assert _read(index, f"{label}\n\nExplanation: {other_text.lower()} at first.") == (
                this.label
            ), index
            assert _read(index, f"The answer is {label}.\n\n{other_text} is wrong.") == this.label
            assert _read(index, f"**{label}**") == this.label, index
            assert _read(index, f"{label}. {text}") == this.label, index
            if _words_differ(text, other_text):
                assert _read(index, f"{label}. {other_text}") is None, index
            assert _read(index, f"It could be {text.lower()} or {other_text.lower()}.") is None
            assert _read(index, f"{label} or {other.label.upper()}") is None, index


def _words_differ(one: str, other: str) -> bool:
    return re.sub(r"\W+", " ", one.lower()).strip() != re.sub(r"\W+", " ", other.lower()).strip()


# ----------------------------------------------------------------------------- final answers
# Replies of reasoning models once lmms-eval has cut their <think> block, and of chat models that
# explain before they answer: an explanation that weighs both options, in markdown, then a final
# statement. The final statement is the answer; it never loses to its own explanation.


def _read_asked(index: int, response: str, transform=None) -> str | None:
    """As :func:`_read`, with the question's text, as the mmvp task reads."""
    row = _ROWS[index]
    options = row["Options"]
    if transform:
        options, _ = transform(options, row["Correct Answer"])
    parsed = parse_options(options)
    return extract_choice(
        response, parsed, shown_labels=shown_labels(parsed), question=row["Question"]
    )


WINGS_WEIGHED = (
    "The image shows a butterfly perched on a purple coneflower. To decide, I look at the "
    "position of the wings relative to the body.\n\n"
    "- **(a) Open**: the wings would be spread flat to either side, showing their upper surface "
    "with the orange and black pattern.\n"
    "- **(b) Closed**: the wings would be pressed together above the body, so that only the "
    "underside of one hindwing shows.\n\n"
    "Here only the pale underside of a single wing is visible and the edges of the forewings "
    "line up above the thorax, which excludes option (a)."
)
DOG_WEIGHED = (
    "### Analysis\n"
    "1. **Head**: the dog's nose and eyes point toward the right edge of the frame.\n"
    "2. **Body**: the tail is on the left, the chest on the right.\n"
    "3. From the camera's perspective, *left* would put the nose near the fence on the left; "
    "*right* puts it toward the open lawn.\n\n"
    "The visible cues all agree."
)


@pytest.mark.parametrize(
    "index, response, expected",
    [
        (2, f"{WINGS_WEIGHED} Therefore the right choice is **(b) Closed**.", "b"),
        (2, f"{WINGS_WEIGHED}\n\nSo the answer is **(b) Closed**.\n\n\\boxed{{b}}", "b"),
        (2, f"{WINGS_WEIGHED}\n\n**Final Answer:** (b) Closed", "b"),
        (2, f"{WINGS_WEIGHED}\n\nAnswer: (b)", "b"),
        (2, f"{WINGS_WEIGHED}\n\nThe correct option is B.", "b"),
        (2, f"{WINGS_WEIGHED}\n\nThe answer is most likely (b) Closed.", "b"),
        (2, f"{WINGS_WEIGHED}\n\nThus, the answer is closed.", "b"),
        (2, f"{WINGS_WEIGHED}\n\nTherefore, B.", "b"),
        (2, f"{WINGS_WEIGHED}\n\nThe wings are folded together, which matches option B.", "b"),
        (2, f"{WINGS_WEIGHED}\n\n(b) Closed", "b"),
        (2, f"{WINGS_WEIGHED}\n\nClosed", "b"),
        (2, f"{WINGS_WEIGHED}\n\n**Closed**", "b"),
        (2, f"{WINGS_WEIGHED}\n\nB", "b"),
        (2, f"{WINGS_WEIGHED}\n\n<answer>(b) Closed</answer>", "b"),
        (2, f"{WINGS_WEIGHED}\n\n<answer><|begin_of_box|>B<|end_of_box|></answer>", "b"),
        (2, f"{WINGS_WEIGHED}\n\nThe answer is (b) Closed, not (a) Open.", "b"),
        (2, f"{WINGS_WEIGHED}\n\nSo the correct choice is (b) Closed rather than (a) Open.", "b"),
        (6, f"{DOG_WEIGHED}\n\n**Final Answer:** (b) Right", "b"),
        (6, f"{DOG_WEIGHED}\n\n**Right**", "b"),
        (6, f"{DOG_WEIGHED}\n\nThe answer is **Right**.", "b"),
        (6, f"{DOG_WEIGHED} Therefore, the dog is facing right.", "b"),
        (
            5,
            "- Left: the head and nose point left.\n- Right: only the tail points right.\n\n"
            "The answer is **Left**.",
            "a",
        ),  # fmt: skip
        (
            10,
            'To find the "Z" key I look at the bottom-left of the keyboard. The keys A, S and D '
            "are visible, but the row below them is cut off by the edge of the photo.\n\n"
            "- (a) Yes would need the Z key in the frame.\n- (b) No fits what we see.\n\n"
            "So the answer is **(b) No**.\n\n\\boxed{b}",
            "b",
        ),
        (
            12,
            "The tail feathers trail behind the peacock on the ground instead of being raised "
            "into a fan; an opened tail would show the eye-spots in a semicircle.\n\nSo, (b) No.",
            "b",
        ),
        (10, "The bottom row of the keyboard is cut off, so Z cannot be seen.\n\nNo", "b"),
        (
            154,
            "I count the apples: one in front, one behind it, and a third partly hidden by a "
            "leaf. That makes three red apples.\n\nThe answer is (b) More than one.",
            "b",
        ),
        (
            2,
            "Let's evaluate each option:\nA. Open - the wings would be spread flat.\n"
            "B. Closed - the wings would be folded together.\n\nIn the image the wings are "
            "folded.\n\nB",
            "b",
        ),
        (
            2,
            "Let's evaluate each option:\nA. Open - the wings would be spread flat.\n"
            "B. Closed - the wings would be folded together.\n\nThe wings are folded. "
            "Therefore, B.",
            "b",
        ),
        # the right one of two readings: a hypothesis is not a statement
        (
            2,
            "If the answer were (a), both forewings would be spread flat. Since they are folded "
            "together above the body, the answer is (b).",
            "b",
        ),
        (2, "So the answer is (a)? No: the wings are pressed together.\n\n**Answer: (b)**", "b"),
        # a stated label is never overruled by its explanation
        (
            2,
            "**Answer: (b)**\n\nThe wings might look open at first, since light shines "
            "through them, but they are pressed together.",
            "b",
        ),  # fmt: skip
        (
            1,
            "Answer: (a) Open\n\nOne might think (b) Closed because of the shadow, but both "
            "wings are spread.",
            "a",
        ),  # fmt: skip
    ],
)
def test_a_final_answer_wins_over_its_explanation(index, response, expected):
    assert _read_asked(index, response) == expected


@pytest.mark.parametrize(
    "index, response",
    [
        # final statements that disagree
        (
            2,
            "**Answer:** (a) Open\n\nWait, looking again, the wings are folded.\n\n"
            "**Answer:** (b) Closed",
        ),  # fmt: skip
        (2, "The answer is (a). On closer inspection, the answer is (b)."),
        (2, "B\n\nThe wings are pressed together. Therefore, the wings are open."),
        (2, f"{WINGS_WEIGHED}\n\nThe answer is (b).\n\n(a) Open"),
        # a final statement that names both options
        (2, f"{WINGS_WEIGHED}\n\nSo the answer is either (a) Open or (b) Closed."),
        (2, "The wings are folded.\n\nFinal answer: open or closed, it is hard to tell."),
        (2, "The answer is (a) Open or (b) Closed, depending on the angle."),
        (2, "The answer is (a) if we consider the left wing and (b) if we consider the right one."),
        (2, f"{WINGS_WEIGHED}\n\nFinal answer: B. Open"),
        (2, f"{WINGS_WEIGHED}\n\nA or B"),
        # hypotheses and open questions are not statements
        (
            2,
            "If the answer is (a), the wings would be spread flat; they might also be partly "
            "folded, so I cannot say whether they are open or closed.",
        ),  # fmt: skip
        (2, "Assuming the answer is (a), the wings would be spread. I cannot verify this."),
        (2, "It is unclear whether the answer is (a) or (b)."),
        (2, "Whether the answer is (a) or (b) depends on when the photo was taken."),
        (2, "The answer would be (a) if the wings were spread."),
        # an explanation that weighs both options and never concludes
        (2, WINGS_WEIGHED.replace(", which excludes option (a)", "")),
        # options listed at the end are a list, not an answer
        (2, "The wings could be open or closed.\nA. Open\nB. Closed"),
    ],
)
def test_final_statements_that_disagree_suppose_or_hedge_are_unparseable(index, response):
    assert _read_asked(index, response) is None


def test_every_real_question_reads_a_final_answer_after_an_explanation_of_both_options():
    """Each real question, each option: an explanation that names both options, then a final
    statement for one of them, reads as that option; a final statement for both does not."""
    for index, row in _ROWS.items():
        options = parse_options(row["Options"])
        for this, other in (options, options[::-1]):
            label, text, other_text = this.label, this.text, other.text
            weighed = (
                f"Option ({label}) {text} fits part of the image, while option "
                f"({other.label}) {other_text} fits another part; {other_text.lower()} "
                f"seems less likely than {text.lower()}."
            )
            for final in (
                f"Therefore, the answer is ({label}) {text}.",
                f"**Final Answer:** ({label})",
                f"\\boxed{{{label}}}",
                f"**{text}**" if _words_differ(text, other_text) else f"({label})",
            ):
                assert _read_asked(index, f"{weighed}\n\n{final}") == this.label, (index, final)
            both = f"So the answer is ({label}) {text} or ({other.label}) {other_text}."
            assert _read_asked(index, f"{weighed}\n\n{both}") is None, index
            assert _read_asked(index, f"If the answer is ({label}), {weighed}") is None, index


# ----------------------------------------------------------------------------- yes/no by sentence


@pytest.mark.parametrize(
    "question, response, expected",
    [
        (
            "Is the lamp switched on?",
            "The lamp is not switched on; the room is lit by daylight.",
            "b",
        ),  # fmt: skip
        ("Is the lamp switched on?", "The lamp isn't switched on.", "b"),
        ("Is the lamp switched on?", "The lamp is switched on and casts a warm glow.", "a"),
        ("Is the street covered in snow?", "The street appears to be covered in snow.", "a"),
        ("Is the bowl made of metal?", "The bowl is made of wood, not metal.", "b"),
        ("Is the bowl made of metal?", "The bowl on the table is made of metal.", "a"),
        # hedges, partial restatements, other subjects
        ("Is the lamp switched on?", "It is unclear whether the lamp is switched on.", None),
        ("Is the lamp switched on?", "The lamp might be switched on.", None),
        ("Is the lamp switched on?", "I can't tell if the lamp is switched on.", None),
        ("Is the lamp switched on?", "I'm not sure the lamp is switched on.", None),
        ("Is the lamp switched on?", "The lamp is on the desk.", None),
        ("Is the lamp switched on?", "The room is bright.", None),
        ("Is the street covered in snow?", "The street is wet.", None),
        ("Is the bowl made of metal?", "The bowl is shiny.", None),
        (
            "Is the lamp switched on?",
            "The lamp is switched on in the mirror, but the lamp itself is not switched on.",
            None,
        ),  # fmt: skip
        ("Is the lamp switched on?", "Yes, the lamp is not switched on.", None),
        ("Is the lamp or the candle lit?", "The lamp is not lit.", None),  # alternatives
    ],
)
def test_a_yes_no_question_is_answered_by_the_sentence_that_restates_it(
    question, response, expected
):
    yes_no = parse_options("(a) Yes (b) No")
    assert extract_choice(response, yes_no, shown_labels=AB, question=question) == expected


@pytest.mark.parametrize(
    "index, response, expected",
    [
        (12, "The peacock's tail is not opened; its feathers trail on the ground.", "b"),
        (11, "The peacock has opened its tail, displaying its colorful eye-spots.", "a"),
        (16, "There is no shadow on the flower; the petals are evenly lit.", "b"),
        (15, "A dark shadow falls on the flower from the leaf above it.", "a"),
        (68, "The sky is completely clear, without any clouds.", "b"),
        (67, "A few white clouds drift near the horizon.", "a"),
        (40, "The duck is standing on the grass, not floating.", "b"),
        (39, "The duck is floating on the pond.", "a"),
        (74, "The ground is not wet.", "b"),
        (206, "The coffee cup is made of ceramic, not glass.", "b"),
        (205, "The coffee cup is made of glass, so the coffee shows through it.", "a"),
        (10, 'The "Z" key is not visible; the bottom row is cut off.', "b"),
        (9, "I can see the Z key at the bottom left of the keyboard.", "a"),
        (70, "The snake sticks out its tongue but does not touch its skin.", "b"),
        (69, "The snake sticks out its tongue and touches its skin with it.", "a"),
        (238, "The ground is not completely covered by red fallen leaves; grass shows.", "b"),
        (41, "The spider has eight legs.", "a"),
        (42, "The spider does not have 8 legs; two are missing.", "b"),
        # after a long explanation, in the concluding sentence
        (
            12,
            "The feathers lie flat along the ground behind the bird. An opened tail would stand "
            "up in a fan.\n\nTherefore, the peacock has not opened its tail.",
            "b",
        ),  # fmt: skip
        # not restated, or only in part: not read
        (74, "The ground is dry.", None),
        (69, "The snake is sticking out its tongue.", None),
        (237, "The ground is covered by leaves.", None),
        (247, "There are fruits but no vegetables in the heart-shaped part.", None),
        (185, "The person is standing next to the scale.", None),
        (12, "If the peacock had opened its tail, we would see the eye-spots.", None),
        # the claim's words, but not said of its subject
        (40, "The duck is standing on the grass, and a leaf is floating in the pond.", None),
        (114, "The bus is seen from the front and its windows are hidden.", None),
        (20, "The animal is clearly visible, but its dorsal fin is under the water.", None),
        (12, "The question asks whether the peacock has opened its tail.", None),
        # numeric ranges are no count
        (54, "There are roughly 30 to 50 pills, too many to count at a glance.", None),
        (54, "I estimate 40-60 pills.", None),
    ],
)
def test_real_yes_no_questions_answered_by_a_sentence(index, response, expected):
    assert _read_asked(index, response) == expected


# ----------------------------------------------------------------------------- statements


@pytest.mark.parametrize(
    "index, response, expected",
    [
        (
            30,
            "To check whether the statement is correct, I look at the side of the bus. The "
            'windows are clearly visible, so the statement "We cannot see the window on the '
            'school bus" is incorrect.',
            "b",
        ),
        (
            29,
            "The bus is seen from the front and its windows are hidden. The statement is correct.",
            "a",
        ),
        (63, "The statement is true: a small daisy lies in the shadow of a taller one.", "a"),
        (64, "The statement is not correct; all the daisies are in full sun.", "b"),
        (290, "All the grapes are green, so the statement is false.", "b"),
        (65, 'The statement "There is no letter D on this image" is accurate.', "a"),
        # another statement, a hedge, or a contradiction: not read
        (30, 'The statement "the bus is yellow" is correct, but that is not what is asked.', None),
        (30, "I need to check whether the statement is correct.", None),
        (63, "Yes, the statement is incorrect.", None),
        (63, "The statement is correct. Looking again, the statement is incorrect.", None),
    ],
)
def test_the_statement_is_correct_or_incorrect(index, response, expected):
    assert _read_asked(index, response) == expected


# ----------------------------------------------------------------------------- word forms


@pytest.mark.parametrize(
    "options, response, expected",
    [
        ("(a) Goose (b) Duck", "Two geese are swimming in the pond.", "a"),
        ("(a) Mouse (b) Hamster", "Several mice sit in the cage.", "a"),
        ("(a) Foot (b) Hand", "Both feet are on the ground.", "a"),
        ("(a) Child (b) Adult", "Three children are playing.", "a"),
        ("(a) Tooth (b) Tongue", "The dog's teeth are showing.", "a"),
        ("(a) Person (b) Animal", "Two people are on the bench.", "a"),
        ("(a) Leaf (b) Flower", "The leaves are green.", "a"),
        ("(a) Cookie (b) Cake", "The cookies are stacked.", "a"),
        ("(a) Up (b) Down", "The needle is pointing downwards.", "b"),
        ("(a) Up (b) Down", "The needle points upward.", "a"),
        ("(a) Left (b) Right", "The dog faces rightward.", "b"),
        ("(a) Left (b) Right", "The car is moving leftwards.", "a"),
        ("(a) Front (b) Back", "The people are walking backwards.", "b"),
        ('(a) "Welcome home" (b) "Welcome home!"', 'The sign reads "Welcome home."', "a"),
        ('(a) "Welcome home" (b) "Welcome home!"', 'The sign reads "Welcome home!"', "b"),
        ('(a) "Welcome home" (b) "Welcome home!"', 'The sign reads "Welcome home!".', "b"),
        ('(a) "Welcome home" (b) "Good night"', 'The banner says "Welcome home."', "a"),
        # a form of both options, or of neither
        ("(a) Goose (b) Duck", "A goose and two ducks.", None),
        ("(a) Up (b) Down", "The needle swings up and down.", None),
        ("(a) Inward (b) Outward", "The trunk is in the water.", None),
        ("(a) Up (b) Down", "The ladybug is upside down.", None),
        ("(a) Upright (b) Upside down", "The ladybug lies upside down.", "b"),
    ],
)
def test_word_forms_of_an_option(options, response, expected):
    assert extract_choice(response, parse_options(options), shown_labels=AB) == expected


@pytest.mark.parametrize(
    "index, response, expected",
    [
        (104, "The needle is pointing downwards, toward the 6.", "b"),
        (110, "The bird's wings are flapping down.", "b"),
        (6, "The dog is looking rightward.", "b"),
        (236, "The individuals are facing backwards, away from the camera.", "b"),
        (201, 'The words are "Happy Easter."', "a"),
        (202, 'The words are "Happy Easter!"', "b"),
    ],
)
def test_word_forms_on_real_questions(index, response, expected):
    assert _read_asked(index, response) == expected


# ----------------------------------------------------------------------------- stays unparseable


@pytest.mark.parametrize(
    "index, response",
    [
        # colours that are not the option's
        (26, "The chicken's body is brown."),
        (26, "The chicken has reddish-brown feathers."),
        (158, "The frame is grey."),
        (38, "The flowers in the background are purple."),
        (38, "The flowers are magenta."),
        (182, "The stripe is light grey."),
        (208, "The bell pepper is orange."),
        (234, "The sky is navy."),
        # descriptions that never commit
        (
            2,
            "The image shows a monarch butterfly perched on a purple flower. Its wings show "
            "orange and black patterns with white spots along the edges.",
        ),  # fmt: skip
        (6, "The dog is a golden retriever sitting on a lawn in front of a wooden fence."),
        (12, "The peacock stands on a gravel path with its long green feathers."),
        (16, "The flower is a pink rose with dew on its petals."),
        # numeric ranges
        (47, "There are 5-6 spots on the animal."),
        (48, "The animal has 5 to 7 spots."),
        (48, "There are between 5 and 10 spots."),
        (118, "I can see 1-2 eyes."),
        (153, "There are 1-2 red apples."),
    ],
)
def test_what_a_grader_would_not_decide_stays_unparseable(index, response):
    assert _read_asked(index, response) is None


def test_a_range_of_counts_above_one_is_more_than_one():
    assert _read_asked(154, "There are 2-3 red apples in the bowl.") == "b"


def test_no_new_rule_reads_a_reply_that_decides_nothing_on_any_real_question():
    """Replies that weigh, suppose, restate or hedge, on every real question and variant with its
    question given: none may read as an option (a false "right" is worse than an unparseable)."""
    for index, row in _ROWS.items():
        for transform in (None, ablations.change_symbols, ablations.swap_options):
            options = row["Options"]
            if transform:
                options, _ = transform(options, row["Correct Answer"])
            first, second = parse_options(options)
            one, two = first.text, second.text
            shown = shown_labels((first, second))
            replies = [
                "I cannot tell from the image.",
                f"The question asks: {row['Question']}",
                f"It could be {one.lower()} or {two.lower()}.",
                f"{shown[0]} or {shown[1]}",
                f"- ({first.label}) {one}: the image would have to show this clearly.\n"
                f"- ({second.label}) {two}: the image would have to show this clearly.",
                f"If the answer were ({first.label}), the picture would look different.",
                f"So the answer is either ({first.label}) {one} or ({second.label}) {two}.",
                f"It is unclear whether the answer is ({first.label}) or ({second.label}).",
                f"Final answer: {one} or {two}",
                f"The image is too blurry to decide.\n{shown[0]}. {one}\n{shown[1]}. {two}",
                f"The answer would be ({second.label}) if the image were sharper.",
            ]
            for reply in replies:
                got = extract_choice(
                    reply, (first, second), shown_labels=shown, question=row["Question"]
                )
                assert got is None, (index, transform and transform.__name__, reply)
