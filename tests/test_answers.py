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
