"""Reading MMVP options and extracting which option a free-form response chose.

Pure functions, no heavy imports. The extractor reads a response the way a careful human grader
does, in three steps, and returns ``None`` (scored wrong) whenever it is unsure:

1. **A final answer wins over its explanation.** An answer statement (``The answer is (b)``,
   ``the right choice is **(a) Closed**``, ``Final answer: No``, ``Answer: B``, ``\\boxed{b}``,
   ``<answer>B</answer>``) anywhere, or else a label at the start of the first line or alone on
   a line (``B\n\nExplanation: ...``, ``**B**``, ``B is correct``); a concluding last sentence
   (``So, (b) No.``, ``Therefore, the dog faces right.``); a last line that is only an option
   (``B``, ``(b) Closed``, ``**Right**``). They must agree. A statement is void when it supposes
   (``If the answer is (a), ...``, ``whether the answer is A or B``); it names both options when
   it hedges (``The answer is (a) or (b)``) or when its own line names the other label or the
   other option right after it (``B. Open`` for ``(a) Open (b) Closed``).
2. **Otherwise the option text of the first sentence that commits to one option**
   (:mod:`mmvp_tasks.answer_text`). Words are compared whole, in a normal form
   (:mod:`mmvp_tasks.answer_words`): singular and plural alike (``geese``/``goose``), direction
   adverbs as their direction (``downwards`` is Down), number words as digits, a range of numbers
   (``5-10``) as no count; a negation covers the rest of its clause (``on the soil, not on the
   floor``). Yes/no questions read the first word (``No, ...``) and the sentences that restate the
   question's claim (``The lamp is not switched on.``); Correct/Incorrect questions read
   ``the statement ... is incorrect``; ``One`` / ``More than one`` reads counts; options equal
   once normalised (``Happy Easter`` / ``Happy Easter!``) need an exact match.
3. **A label in passing** (``... which is option B``) counts only when the text agrees.

The English article "a" is never option A (lmms-eval's built-in parser reads it so), and a
response that names both options (``either open or closed``, ``A or B``) is unparseable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mmvp_tasks.answer_text import (
    option_words,
    options_mentioned,
    options_named_exactly,
    read_option_text,
)
from mmvp_tasks.answer_words import sentences, words

_OPTION = re.compile(r"\((\w)\)\s*(.*?)\s*(?=\(\w\)|$)", re.S)


class OptionsFormatError(ValueError):
    """An ``Options`` string that is not of the form ``(a) X (b) Y``."""


@dataclass(frozen=True)
class Option:
    label: str  # as written in the data, lower case: "a", "b", "1", ...
    text: str


def parse_options(options: str) -> tuple[Option, ...]:
    """Split ``"(a) Open (b) Closed"`` into labelled options, in order."""
    found = tuple(Option(m[1].lower(), m[2].strip()) for m in _OPTION.finditer(options.strip()))
    if len(found) < 2:
        raise OptionsFormatError(
            f"expected at least two options like '(a) X (b) Y', got {options!r}"
        )
    if not options.strip().startswith("("):
        raise OptionsFormatError(f"text before the first option label in {options!r}")
    labels = [o.label for o in found]
    if len(set(labels)) != len(labels):
        raise OptionsFormatError(f"repeated option label in {options!r}")
    if any(not o.text for o in found):
        raise OptionsFormatError(f"an option without text in {options!r}")
    return found


def format_options(options: tuple[Option, ...]) -> str:
    """Inverse of :func:`parse_options`: ``(a) Open (b) Closed``."""
    return " ".join(f"({o.label}) {o.text}" for o in options)


def answer_label(correct_answer: str) -> str:
    """``"(b)"`` / ``"b"`` / ``"B"`` -> ``"b"``."""
    label = correct_answer.strip().strip("()").strip().lower()
    if not re.fullmatch(r"\w", label):
        raise OptionsFormatError(f"answer {correct_answer!r} is not an option label like '(a)'")
    return label


# ----------------------------------------------------------------------------- entry point


def extract_choice(
    response: str, options: tuple[Option, ...], *, shown_labels=None, question: str | None = None
) -> str | None:
    """The label (as in ``options``) of the option the response chose, or ``None``.

    ``shown_labels`` are the labels the prompt displayed, in option order, when they differ from the
    data's (lmms-eval's prompt shows ``A.``/``B.`` for ``(a)``/``(b)``); both forms are accepted.
    ``question`` (the question's text) lets a sentence that restates it answer a yes/no question,
    and "the statement ... is incorrect" a Correct/Incorrect one.
    """
    labels = _label_forms(options, tuple(shown_labels) if shown_labels else None)
    choices = _Choices(options, labels, question)
    text = _strip_markup(response)
    return _only(_final_answer(text, choices) or _read_text(text, choices))


def _only(labels: set[str]) -> str | None:
    """The one label of a decided reading; ``None`` for both or neither."""
    return next(iter(labels)) if len(labels) == 1 else None


@dataclass(frozen=True)
class _Choices:
    """What a response is read against."""

    options: tuple[Option, ...]
    labels: _LabelForms
    question: str | None


def _read_text(text: str, choices: _Choices) -> set[str]:
    """Steps 2 and 3: the option text of the first committing sentence, checked against the
    labels mentioned in passing ("The wings are open, as option B shows" names both). The options
    listed back on lines of their own ("A. Open\nB. Closed") commit to neither."""
    text = _without_option_lists(text, choices)
    by_text = read_option_text(text, choices.options, choices.question)
    passing = _labels_in_passing(text, choices.labels)
    if passing and by_text and passing != by_text:
        return passing | by_text
    return passing or by_text


def _without_option_lists(text: str, choices: _Choices) -> str:
    lines = text.split("\n")
    listed = [bool(_line_option(line, choices)) for line in lines]

    def in_list(i: int) -> bool:
        return listed[i] and (i > 0 and listed[i - 1] or i + 1 < len(lines) and listed[i + 1])

    return "\n".join(line for i, line in enumerate(lines) if not in_list(i))


# ----------------------------------------------------------------------------- final answer


def _final_answer(text: str, choices: _Choices) -> set[str]:
    """Step 1: the labels the response's final answer names (none, one, or several when its
    statements disagree)."""
    closing = _concluding_sentence(text, choices) | _last_line_option(text, choices)
    stated = _answer_statements(text, choices) or _stated_labels(
        text, choices, only_bare=bool(closing)
    )
    return stated | closing


# "The answer is", "Answer:", "Final answer:", "the right choice is", "My choice would be:",
# "the answer is most likely"; after "answer:" the answer may stand on the next line.
_ANSWER_STATEMENT = re.compile(
    r"(?i)\b(?:answer(?:\s+to\s+(?:the|this)\s+question)?(?:\s+is|\s+would\s+be|\s*:)\s*:?\s*"
    r"|(?:correct|right|best|final|my|chosen|selected)\s+(?:option|choice)"
    r"(?:\s+is|\s+would\s+be|\s*:)[ \t]*:?[ \t]*)"
    r"(?:(?:most\s+)?(?:likely|probably|clearly|definitely)[ \t]+)?"
)
_SUPPOSED = re.compile(r"(?i)\b(?:if|whether|unless|suppose|supposing|assuming|assume)\b")
_CONDITION = re.compile(r"(?i)\b(?:if|unless|whether)\b")
# Where the option an answer statement names ends: "Left. The dog ...", "no, because ...".
_ANSWER_END = re.compile(
    r"[,;:]|[.!?](?=\s|$)|\s[-–—]\s|\b(?:because|since|as|given|but|however|although|though"
    r"|while|whereas)\b",
    re.I,
)
_CLAUSE_END = re.compile(r"[.!?](?=\s|$)|[\n,;:]|\s[-–—]\s")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


def _answer_statements(text: str, choices: _Choices) -> set[str]:
    """Labels named by the answer statements ("The answer is (b)"), but for supposed or asked
    ones ("If the answer is (a), ...", "The answer would be (a) if ...", "The answer is (b)?")."""
    named: set[str] = set()
    for match in _ANSWER_STATEMENT.finditer(text):
        sentence_end = _SENTENCE_END.search(text, match.end())
        asked = sentence_end is not None and sentence_end[0] == "?"
        if not asked and not _supposed(text, match.start(), match.end()):
            named |= _statement_choice(_rest_of_line(text, match.end()), choices)
    return named


def _supposed(text: str, start: int, end: int) -> bool:
    """``text[start:end]`` stands in a supposition: its sentence has "if", "whether", "assuming"
    before it, or its clause "if", "unless" after it ("(a) if the wings were spread")."""
    sentence_start = 1 + max(text.rfind(mark, 0, start) for mark in (". ", "! ", "? ", "\n"))
    clause_end = _CLAUSE_END.search(text, end)
    return bool(
        _SUPPOSED.search(text, sentence_start, start)
        or _CONDITION.search(text, end, clause_end.start() if clause_end else len(text))
    )


def _statement_choice(answer: str, choices: _Choices) -> set[str]:
    """What the rest of an answer statement's line names: the label it starts with (with its
    line's contradictions, see :func:`_stated_labels`), else the option its first words are
    ("Left.", "no, because ..."), its labels ("option (b)"), or both when it hedges."""
    stated = _stated_labels(answer, choices)
    if stated:
        return stated
    first = _ANSWER_END.split(answer, 1)[0]
    hedged = options_mentioned(first, choices.options)  # "open or closed"
    return (
        options_named_exactly(first, choices.options)
        | (hedged if len(hedged) > 1 else set())
        | _labels_in_passing(first, choices.labels)
    )


# A concluding sentence starts "So", "Thus", "Therefore", "Hence", "In conclusion", ...
_CONCLUSION = re.compile(
    r"(?i)^[\W_]*(?:so|thus|therefore|hence|overall|in\s+(?:conclusion|summary|short)"
    r"|to\s+(?:conclude|sum\s+up|summari[sz]e)|conclusion)\b[\s,:]*"
)
# "..., which matches option B", "this corresponds to option (b)"; not "does not match option A"
_MATCHES_OPTION = re.compile(
    r"(?i)(?<!not\s)\b(?:match(?:es)?|corresponds?\s+to|consistent\s+with|fits|supports"
    r"|points\s+to)\s+(?=(?:option|choice)\b)"
)


def _concluding_sentence(text: str, choices: _Choices) -> set[str]:
    """What the last sentence names when it concludes: "So, (b) No.", "Therefore, B.", "Thus,
    the dog is facing right.", "..., which matches option B." (read as a response of its own)."""
    last = _last_sentence(text)
    conclusion = _CONCLUSION.match(last) or _MATCHES_OPTION.search(last)
    if conclusion is None or _CONDITION.search(last):
        return set()
    rest = last[conclusion.end() :]
    return _stated_labels(rest, choices) or _read_text(rest, choices)


def _last_sentence(text: str) -> str:
    """The last sentence that is not a question (see :func:`sentences`)."""
    for line in reversed(text.splitlines()):
        found = sentences(line)
        if found:
            return found[-1]
    return ""


def _last_line_option(text: str, choices: _Choices) -> set[str]:
    """The option the last line names when it is only an option ("B", "(b) Closed", "Right."),
    unless it ends a list of the options ("A. Open\nB. Closed")."""
    *before, last = text.rsplit("\n", 2)[-2:] if text else [""]
    named = _line_option(last, choices)
    if named and before and _line_option(before[0], choices):
        return set()
    return named


_LINE_MARKS = " \t>#*-•→"
_LABEL_LIKE = re.compile(r"[(\[]?\w\s*[)\].:](?:\s|$)")


def _line_option(line: str, choices: _Choices) -> set[str]:
    """Options a line names when it is nothing but an option: its label, its text, or both;
    a label with another option's text ("B. Open") names both."""
    body = line.strip(_LINE_MARKS)
    if len(body) > 20 + max(len(o.text) for o in choices.options):
        return set()
    labelled = choices.labels.label_line.fullmatch(body)
    if not labelled and _LABEL_LIKE.match(body):
        return set()  # "A. No" when the labels are 1 and 2
    named = options_named_exactly(body, choices.options)
    if labelled:
        label = choices.labels.data_label(labelled[1])
        text = options_named_exactly(labelled[2], choices.options) if labelled[2] else {label}
        named |= ({label} | text) if text else set()
    return named


# ----------------------------------------------------------------------------- labels

# Regex parts around a label. A label ends where an answer may end: "B." / "B\n" / "B, the
# wings" / "B - ..." / "B is correct" / "B because", never "A butterfly" (the article), "12" or
# "2.5" (numbers), "A, S, D" (keys); and it is no answer when rejected ("A is not", "(A) was
# wrong").
_REJECTED = r"(?![)\]]?(?i:\s*(?:is|was)\s+(?:not|incorrect|wrong))\b)"
_ANSWER_ENDS = (
    r"(?=\s*$|\s*\n|\s*[.:;!)\]](?!\d)|,\s+(?-i:[a-z])|\s+[-–—]\s"
    r"|\s+is\s+(?:the\s+)?(?:correct|right|best|answer)\b|\s+(?:because|since)\b)"
)
# What may come before a label stated at the start of a line: bullets, quotes, headings and an
# optional "Answer:" / "The correct option is" / "My final answer would be -".
_LINE_LEAD = r"(?im)^[ \t>#*-]*"
_ANSWER_INTRO = (
    r"(?:(?:the\s+|my\s+)?(?:final\s+|correct\s+|best\s+)?"
    r"(?:answer|option|choice)(?:\s+is|\s+would\s+be)?\s*[:=-]?\s*)?"
)
# Before a capital label in passing: a verb that picks it ("I choose B", "it's B").
_PICKED_BY = re.compile(r"(?i)(?:^|\b(?:is|['’]s|be|choose|chose|select|pick|with|say)\s+)$")
_NEGATED_BY = re.compile(r"(?i)\b(?:not|than|instead\s+of)\s*$")  # "B, not A", "B rather than A"
_LEADING_PUNCTUATION = re.compile(r"^[\s.:;,)\]\-–—]+")  # between a label and its option text
_ANSWER_WORD = re.compile(r"(?i)answer|option|choice")


class _LabelForms:
    """The labels a response may use (the data's and the prompt's), mapped to the data's, and the
    patterns that find them (group 1 is the label as written)."""

    def __init__(self, options: tuple[Option, ...], shown_labels=None):
        data = [o.label for o in options]
        shown = [s.lower() for s in (shown_labels or data)]
        self.to_data = dict(zip(shown, data, strict=True)) | {lab: lab for lab in data}
        any_label = "|".join(re.escape(lab) for lab in sorted(self.to_data, key=len, reverse=True))
        self.capitals = "|".join(re.escape(s.upper()) for s in shown if s.isalpha())
        bracketed = rf"[(\[]?\s*({any_label})\s*[)\]]?"  # "B", "(b)", "[B]"
        answer = bracketed + _REJECTED + _ANSWER_ENDS
        self.stated_at_line_start = re.compile(_LINE_LEAD + _ANSWER_INTRO + answer)
        self.in_brackets = re.compile(rf"(?i)\(\s*({any_label})\s*\){_REJECTED}")  # "(B)"
        self.after_option = re.compile(rf"(?i)\b(?:option|choice)\s+{bracketed}(?!\w){_REJECTED}")
        self.capital = re.compile(rf"(?<![\w(])({self.capitals}){_REJECTED}{_ANSWER_ENDS}")
        paired = "|".join(re.escape(s.upper()) for s in shown if s.isalpha() or s.isdigit())
        self.pair = re.compile(  # "A or B", "both A and B", "1 or 2"
            rf"(?<![\w(])({paired})\s+(?:or|and|nor)\s+({paired})(?!\w)" if paired else r"(?!)"
        )
        written = "|".join(filter(None, (any_label, self.capitals)))
        self.listed = re.compile(rf"(?:^|[\s,;])[(\[]?({written})[).:](?=\s)")  # "A) Open, B) ..."
        # A line that is a label, maybe with text: "B", "(b)", "Option B", "B) Closed", "B: Closed"
        self.label_line = re.compile(
            rf"(?i)(?:(?:option|choice)\s+)?[(\[]?\s*({any_label})"
            r"(?:\s*[)\]][.:]?|\s*[.:\-–—]|$)\s*(.*)"
        )

    def data_label(self, written: str) -> str:
        return self.to_data[written.lower()]


@lru_cache(maxsize=1024)
def _label_forms(options: tuple[Option, ...], shown_labels: tuple[str, ...] | None) -> _LabelForms:
    return _LabelForms(options, shown_labels)


# Where a response states its answer in markup: \boxed{B}, <answer>B</answer>, GLM's
# <|begin_of_box|>B<|end_of_box|>. Each reads as "answer: B", wherever it stands.
_BOXED = re.compile(r"\\boxed\s*\{\s*(?:\\text(?:bf)?\s*\{)?([^{}]*)\}?\s*\}")
_ANSWER_TAGS = [
    re.compile(r"<\|begin_of_box\|>(.*?)<\|end_of_box\|>", re.S),
    re.compile(r"<answer>(.*?)</answer>", re.S),
]
_MARKUP = re.compile(r"\*\*|__|`|\$")


def _strip_markup(response: str) -> str:
    """Markdown and LaTeX around an answer: ``**B**``, ``\\boxed{B}``, ``$B$``, ``# Answer``."""
    text = response
    for tag in (_BOXED, *_ANSWER_TAGS):
        text = tag.sub(r"answer: \1", text)
    return _MARKUP.sub("", text).strip()


def _stated_labels(text: str, choices: _Choices, *, only_bare: bool = False) -> set[str]:
    """Labels stated at the start of a line (after an optional "Answer:"). Several, or one
    contradicted on its own line, mean unparseable. With ``only_bare`` (the response closes with
    a final answer), only labels alone on their line count: the lines of its explanation that
    start with a label ("Option (a) Open would mean ...", "A. Open - ...") state nothing."""
    labels, options = choices.labels, choices.options
    stated: set[str] = set()
    lines = _stated_lines(text, labels, options)
    if only_bare:
        lines = [m for m in lines if not _rest_of_line(text, m.end()).strip(" .:)]")]
    for match in lines:
        label = labels.data_label(match[1])
        stated.add(label)
        stated |= _contradictions(label, _rest_of_line(text, match.end()), labels, options)
    if len(stated) == 1 and _is_other_options_text(text, stated, options):
        stated |= {o.label for o in options}  # "1" for "(1) 12 (2) 1": label or option text?
    return stated


def _stated_lines(text: str, labels: _LabelForms, options) -> list[re.Match]:
    """Labels at the start of a line, when one of them decides (see :func:`_decides`); other
    option lines contradict it only when they echo their option ("A. Open\nB. Closed"), not when
    an explanation starts with a label ("B\n\n(A) would mean open wings")."""
    lines = [
        m for m in labels.stated_at_line_start.finditer(text) if not _supposed(text, *m.span())
    ]
    if not any(_decides(m, text) for m in lines):
        return []  # "1. The left wing ..." in a list is not an answer on its own
    return [m for m in lines if _decides(m, text) or _echoes_own_option(m, text, labels, options)]


def _decides(match: re.Match, text: str) -> bool:
    """A line-start label is an answer on the first line, alone on its line, or after "Answer:";
    elsewhere ("...\n2. The right wing is ...") it may only contradict one."""
    first_line = "\n" not in text[: match.start()]
    alone = not _rest_of_line(text, match.end()).strip(" .:)]")
    return first_line or alone or bool(_ANSWER_WORD.search(match[0]))


def _echoes_own_option(match: re.Match, text: str, labels: _LabelForms, options) -> bool:
    rest = _LEADING_PUNCTUATION.sub("", _rest_of_line(text, match.end()))
    return labels.data_label(match[1]) in _echoed_options(words(rest), options)


def _rest_of_line(text: str, start: int) -> str:
    end = text.find("\n", start)
    return text[start : end if end >= 0 else len(text)]


def _contradictions(label: str, rest: str, labels: _LabelForms, options) -> set[str]:
    """Other labels a stated label's own line points at: the options echoed back ("(a) Open (b)
    Closed", "A or B"), or the other option's text right after the label ("B. Open")."""
    listed = {  # "A) Open, B) Closed", but not "(b) Closed, not (a) Open"
        labels.data_label(m[1])
        for m in labels.listed.finditer(rest)
        if not _NEGATED_BY.search(rest, 0, m.start() + 1)
    }
    found = (_labels_in_passing(rest, labels) | listed) - {label}
    echoed = _echoed_options(words(_LEADING_PUNCTUATION.sub("", rest)), options)
    if echoed and label not in echoed:
        found |= echoed
    return found


def _echoed_options(said: list[str], options) -> set[str]:
    """Options whose text the words ``said`` start with, the longest only ("OK/SELECT" is not
    "OK")."""
    by_label = option_words(options)
    lengths = {lab: len(ws) for lab, ws in by_label.items() if ws and said[: len(ws)] == ws}
    longest = max(lengths.values(), default=0)
    return {label for label, n in lengths.items() if n == longest}


def _is_other_options_text(text: str, stated: set[str], options) -> bool:
    """The response is one word that is another option's text: "1" for "(1) 12 (2) 1"."""
    if len(text) > 40:
        return False  # not one word: spare reading a long text
    said = words(text)
    others = [ws for label, ws in option_words(options).items() if label not in stated]
    return len(said) == 1 and said in others


def _labels_in_passing(text: str, labels: _LabelForms) -> set[str]:
    """Labels mentioned anywhere: ``(B)``, ``option B``, a capital ``B.`` after "is"/"choose",
    both of ``A or B``; not "Option A is incorrect" nor "B, not A". Lower-case bare letters are
    words, and capitals in a list ("the keys Q, W, A, S") are letters, not labels."""
    mentions = [*labels.in_brackets.finditer(text), *labels.after_option.finditer(text)]
    if labels.capitals:
        capitals = labels.capital.finditer(text)
        mentions += [m for m in capitals if _just_before(_PICKED_BY, text, m.start())]
    found = {
        labels.data_label(m[1])
        for m in mentions
        if not _just_before(_NEGATED_BY, text, m.start()) and not _supposed(text, *m.span())
    }
    pairs = labels.pair.findall(text)
    return found | {labels.data_label(written) for pair in pairs for written in pair}


def _just_before(pattern: re.Pattern, text: str, position: int) -> bool:
    """``pattern`` (ending in ``$``) matches the words right before ``position``."""
    return bool(pattern.search(text, max(0, position - 40), position))
