"""Reading MMVP options and extracting which option a free-form response chose.

Pure functions, no heavy imports. The extractor reads a response the way a careful human grader
does, in three steps, and returns ``None`` (scored wrong) whenever it is unsure:

1. **A stated label wins.** A label at the start of a line (``B``, ``(b)``, ``B) Closed``,
   ``B\n\nExplanation: ...``, ``Answer: B``, ``**B**``, ``\\boxed{B}``, ``B is correct``) or after
   "answer is" decides, whatever the explanation says. It is void only when its own line also names
   the other label (options echoed back) or the text right after it is the other option
   (``B. Open`` for ``(a) Open (b) Closed``).
2. **Otherwise the option text of the first sentence that commits to one option.** Words are
   compared whole (``casino open`` is not a negation), singular and plural alike, number words as
   digits; a negation covers the rest of its clause (``on the soil, not on the floor``), ``than``
   too (``more thin than round``). A multi-word option may have extra words between its words, or
   be named by the words that tell it apart (``seen from the side`` for ``Side view``). Yes/no
   questions read the first word (so does ``Correct`` / ``Incorrect`` when the text names
   neither); ``One`` / ``More than one`` reads counts (``three bananas``); options equal once
   normalised (``Happy Easter`` / ``Happy Easter!``) need an exact match.
3. **A label in passing** (``... which is option B``) counts only when the text agrees.

The English article "a" is never option A (lmms-eval's built-in parser reads it so), and a
response that names both options (``either open or closed``, ``A or B``) is unparseable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

_OPTION = re.compile(r"\((\w)\)\s*(.*?)\s*(?=\(\w\)|$)", re.S)
_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "both": "2",
}  # fmt: skip


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


def extract_choice(response: str, options: tuple[Option, ...], *, shown_labels=None) -> str | None:
    """The label (as in ``options``) of the option the response chose, or ``None``.

    ``shown_labels`` are the labels the prompt displayed, in option order, when they differ from the
    data's (lmms-eval's prompt shows ``A.``/``B.`` for ``(a)``/``(b)``); both forms are accepted.
    """
    labels = _LabelForms(options, shown_labels)
    text = _strip_markup(response)
    stated = _stated_labels(text, labels, options)
    if stated:
        return _only(stated)
    by_text = _read_option_text(text, options)
    passing = _labels_in_passing(text, labels)
    if passing:
        # "The wings are open, as option B shows" is a contradiction, not an answer.
        return _only(passing) if not by_text or by_text == passing else None
    return _only(by_text)


def _only(labels: set[str]) -> str | None:
    """The one label of a decided reading; ``None`` for both or neither."""
    return next(iter(labels)) if len(labels) == 1 else None


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
# What may come before a stated label: at the start of a line, bullets, quotes, headings and an
# optional "Answer:" / "The correct option is" / "My final answer would be -"; anywhere in the
# text, "answer is" / "option:" / "choice would be".
_LINE_LEAD = r"(?im)^[ \t>#*-]*"
_ANSWER_INTRO = (
    r"(?:(?:the\s+|my\s+)?(?:final\s+|correct\s+|best\s+)?"
    r"(?:answer|option|choice)(?:\s+is|\s+would\s+be)?\s*[:=-]?\s*)?"
)
_ANSWER_IS = r"(?i)\b(?:answer|option|choice)(?:\s+is|\s+would\s+be|\s*:)\s*:?\s*"
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
        self.stated_after_answer = re.compile(_ANSWER_IS + answer)
        self.in_brackets = re.compile(rf"(?i)\(\s*({any_label})\s*\){_REJECTED}")  # "(B)"
        self.after_option = re.compile(rf"(?i)\b(?:option|choice)\s+{bracketed}(?!\w){_REJECTED}")
        self.capital = re.compile(rf"(?<![\w(])({self.capitals}){_REJECTED}{_ANSWER_ENDS}")
        self.capital_pair = re.compile(  # "A or B", "both A and B"
            rf"(?<![\w(])({self.capitals})\s+(?:or|and|nor)\s+({self.capitals})(?!\w)"
        )
        written = "|".join(filter(None, (any_label, self.capitals)))
        self.listed = re.compile(rf"(?:^|[\s,;])[(\[]?({written})[).:](?=\s)")  # "A) Open, B) ..."

    def data_label(self, written: str) -> str:
        return self.to_data[written.lower()]


_BOXED = re.compile(r"\\boxed\s*\{\s*(?:\\text(?:bf)?\s*\{)?([^{}]*)\}?\s*\}")
_MARKUP = re.compile(r"\*\*|__|`|\$")


def _strip_markup(response: str) -> str:
    """Markdown and LaTeX around an answer: ``**B**``, ``\\boxed{B}``, ``$B$``, ``# Answer``."""
    # A boxed label is a stated answer, wherever it stands ("Thus, \\boxed{B}.").
    text = _BOXED.sub(r"answer: \1", response)
    return _MARKUP.sub("", text).strip()


def _stated_labels(text: str, labels: _LabelForms, options: tuple[Option, ...]) -> set[str]:
    """Labels stated as the answer: at the start of a line (after an optional "Answer:"), or
    after "answer is". Several, or one contradicted on its own line, mean unparseable."""
    # "The answer is B." outranks option lines of an explanation ("A. Open: wrong, ...").
    matches = list(labels.stated_after_answer.finditer(text)) or _stated_lines(
        text, labels, options
    )
    stated: set[str] = set()
    for match in matches:
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
    lines = list(labels.stated_at_line_start.finditer(text))
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
    return _echoed_options(_words(rest), options) == {labels.data_label(match[1])}


def _rest_of_line(text: str, start: int) -> str:
    end = text.find("\n", start)
    return text[start : end if end >= 0 else len(text)]


def _contradictions(label: str, rest: str, labels: _LabelForms, options) -> set[str]:
    """Other labels a stated label's own line points at: the options echoed back ("(a) Open (b)
    Closed", "A or B"), or the other option's text right after the label ("B. Open")."""
    listed = {labels.data_label(m) for m in labels.listed.findall(rest)}  # "A) Open, B) Closed"
    found = (_labels_in_passing(rest, labels) | listed) - {label}
    echoed = _echoed_options(_words(_LEADING_PUNCTUATION.sub("", rest)), options)
    if echoed and label not in echoed:
        found |= echoed
    return found


def _echoed_options(words: list[str], options) -> set[str]:
    """Options whose text ``words`` start with, the longest only ("OK/SELECT" is not "OK")."""
    option_words = {o.label: _words(o.text) for o in options}
    lengths = {lab: len(ws) for lab, ws in option_words.items() if ws and words[: len(ws)] == ws}
    longest = max(lengths.values(), default=0)
    return {label for label, n in lengths.items() if n == longest}


def _is_other_options_text(text: str, stated: set[str], options) -> bool:
    """The response is one word that is another option's text: "1" for "(1) 12 (2) 1"."""
    words = _words(text)
    return len(words) == 1 and any(
        _words(o.text) == words for o in options if o.label not in stated
    )


def _labels_in_passing(text: str, labels: _LabelForms) -> set[str]:
    """Labels mentioned anywhere: ``(B)``, ``option B``, a capital ``B.`` after "is"/"choose",
    both of ``A or B``; not "Option A is incorrect" nor "B, not A". Lower-case bare letters are
    words, and capitals in a list ("the keys Q, W, A, S") are letters, not labels."""
    mentions = [*labels.in_brackets.finditer(text), *labels.after_option.finditer(text)]
    if labels.capitals:
        capitals = labels.capital.finditer(text)
        mentions += [m for m in capitals if _PICKED_BY.search(text[: m.start()])]
    found = {labels.data_label(m[1]) for m in mentions if not _NEGATED_BY.search(text[: m.start()])}
    if labels.capitals:
        pairs = labels.capital_pair.findall(text)
        found |= {labels.data_label(written) for pair in pairs for written in pair}
    return found


# ----------------------------------------------------------------------------- option text

_ARTICLES = {"a", "an", "the"}
# Words that carry no choice: left out when an option's words may have others between them.
_FILLERS = {"is", "are", "be", "of", "to", "it", "its", "there", "that", "this", "on", "in", "at",
            "by", "from", "with", "some", "all", "very", "relatively", "directly"}  # fmt: skip
# A negation covers the rest of its clause: "on the soil, not on the floor", "thin rather than
# round". Whole words only, so "casino open" and "volcano left" are not negations.
_NEGATORS = {"not", "no", "never", "neither", "nor", "without", "than", "instead", "unlike", "less",
             "fewer", "cannot"}  # fmt: skip
_CLAUSE_BREAK = re.compile(
    r"[,;:()]|\s[-–—]\s|\b(?:but|however|although|though|whereas|while|yet)\b", re.I
)
_MAX_GAP = 4  # extra words allowed between two of an option's words ("a wall that stands between")


def _read_option_text(text: str, options: tuple[Option, ...]) -> set[str]:
    """Options the response names by their text, read from its first committing sentence."""
    texts = sorted(tuple(_words(o.text)) for o in options)
    if texts == [("no",), ("yes",)]:
        return _yes_or_no(text, options, {"yes": "yes", "no": "no"})
    if len(set(texts)) < len(texts):
        return _exact_text(text, options)
    found = _first_commitment(text, options)
    if texts == [("correct",), ("incorrect",)]:  # "Is the following statement correct?"
        said = _yes_or_no(text, options, {"yes": "correct", "no": "incorrect"})
        return found | said  # "Yes, the statement is incorrect": both, unparseable
    return found


def _first_commitment(text: str, options: tuple[Option, ...]) -> set[str]:
    """The options named by the first sentence that names any without negation."""
    for sentence in _sentences(text):
        found = _sentence_choices(_clauses(sentence), options)
        if found:
            return found
    return set()


def _words(text: str) -> list[str]:
    """Lower-case words without articles, "n't" as "not", counts as digits, plurals singular:
    "Two bowls of yogurts" and "2 bowl of yogurt" compare equal."""
    text = re.sub(r"n['’]t\b", " not", text.lower()).replace("cannot", "can not")
    text = _IDIOMS.sub(lambda m: _IDIOM_MEANS.get(m[0].split()[0], "fine"), text)
    words = re.findall(r"\d+(?:[.,]\d+)*|[^\W_]+", text)  # "2.5" is not "2"
    return [_singular(_count_word(words, i)) for i, w in enumerate(words) if w not in _ARTICLES]


# Words that look like an option or a negation but are neither: "right next to" (just),
# "that's right" (correct), "no doubt" (surely); "one of them" / "the one on the left" (a
# pronoun, not a count, see _count_word).
_IDIOMS = re.compile(
    r"\bright\s+(?=(?:next|at|behind|above|below|beside|under|there|here|now|away|in\s+front"
    r"|in\s+the\s+(?:middle|cent(?:er|re)))\b)|\b(?:all|that['’]?s|you['’]re)\s+right\b"
    r"|\bno\s+doubt\b"
)
_IDIOM_MEANS = {"right": "just ", "no": "surely"}  # any other idiom means "fine"
_PRONOUN_ONE_BEFORE = {"the", "each", "every", "any", "no", "this", "that", "which", "another"}


def _count_word(words: list[str], i: int) -> str:
    """Number words as digits ("both" is 2), except the pronoun "one" ("one of the eyes", "the
    one on the left", "one on each side")."""
    word = words[i]
    if word == "one":
        before = words[i - 1] if i else ""
        after = " ".join(words[i + 1 : i + 3])
        if before in _PRONOUN_ONE_BEFORE or re.match(r"(?:of|another|on each)\b", after):
            return word
    return _NUMBER_WORDS.get(word, word)


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _sentences(text: str) -> list[str]:
    """Sentences and lines, without questions (a restated question names both options)."""
    parts = re.split(r"(?<=[.!?])\s+|\s*\n\s*", text)
    return [p for p in parts if p.strip() and not p.rstrip().endswith("?")]


def _clauses(sentence: str) -> list[list[str]]:
    return [_words(c) for c in _CLAUSE_BREAK.split(sentence) if c and c.strip()]


def _yes_or_no(text: str, options: tuple[Option, ...], means: dict[str, str]) -> set[str]:
    """The first word ("No, the key is hidden"), or "the answer is no", as the option ``means``
    names: itself on yes/no questions, "incorrect" for "no" on "is the statement correct?"."""
    match = re.match(r"[\W_]*(yes|no)\b(?!\s+(?:or|and)\b)", text, re.I) or re.search(
        r"\banswer\s*(?:is|:)\s*:?\s*[\"']?(yes|no)\b", text, re.I
    )
    if not match:
        return set()
    return {o.label for o in options if _words(o.text) == [means[match[1].lower()]]}


def _exact_text(text: str, options: tuple[Option, ...]) -> set[str]:
    """Options equal once normalised ("Happy Easter" / "Happy Easter!"): the whole response, or a
    quoted part of it, must be one option exactly, punctuation included."""
    whole = {o.label for o in options if _unquote(text) == _unquote(o.text)}
    if whole:
        return whole
    quoted = {_unquote(q) for q in re.findall(r"[\"“]([^\"”]+)[\"”]", text)}
    return {o.label for o in options if _unquote(o.text) in quoted}


def _unquote(text: str) -> str:
    return text.strip().strip("\"'“”‘’").strip().casefold()


def _sentence_choices(clauses: list[list[str]], options: tuple[Option, ...]) -> set[str]:
    """Options a sentence names without negation, by the strictest matcher that finds one."""
    if _is_count_question(options):
        return _count_choices(clauses, options)
    words = _OptionWords.of(options)
    # Strictest first: the option's words as written, then its content words with others between,
    # then only the words that tell it apart, in clauses that lack the words options share
    # ("from the side" is "Side view"; "blue with a light haze" is not "Light blue").
    stages = [
        _spans(words.as_written, clauses, words, gap=0),
        _spans(words.content, clauses, words, gap=_MAX_GAP),
    ]
    if all(words.distinct.values()) and any(len(ws) > 1 for ws in words.content.values()):
        apart = [c for c in clauses if not words.shared & set(c)]
        stages.append(_spans(words.distinct, apart, words, gap=_MAX_GAP))
    every_span = [span for stage in stages for span in stage]
    for spans in stages:
        if _is_hedge(spans):
            return {span.label for span in spans}
        # Inside a looser match of another option counts too: "OK and SELECT" is "OK/SELECT".
        found = _positive(spans, every_span)
        if found:
            return found
    return set()


@dataclass(frozen=True)
class _OptionWords:
    """Each option's words (by label): as written; its content words (no fillers); the content
    words no other option has (``distinct``); and the content words options share."""

    as_written: dict[str, list[str]]
    content: dict[str, list[str]]
    distinct: dict[str, list[str]]
    shared: set[str]

    @classmethod
    def of(cls, options: tuple[Option, ...]) -> _OptionWords:
        as_written = {o.label: _words(o.text) for o in options}
        content = {
            lab: [w for w in ws if w not in _FILLERS] or ws for lab, ws in as_written.items()
        }
        distinct = {
            lab: [w for w in ws if not any(w in others for others in _values_but(content, lab))]
            for lab, ws in content.items()
        }
        every = {w for ws in content.values() for w in ws}
        return cls(
            as_written, content, distinct, every - {w for ws in distinct.values() for w in ws}
        )

    def only_others_have(self, label: str) -> set[str]:
        return {w for ws in _values_but(self.distinct, label) for w in ws}


def _values_but(by_label: dict[str, list[str]], label: str) -> list[list[str]]:
    return [ws for other, ws in by_label.items() if other != label]


class _Span(NamedTuple):
    """Where an option's words were found: ``clause[start:end]``."""

    label: str
    clause: list[str]
    start: int
    end: int


def _spans(phrases: dict[str, list[str]], clauses, words: _OptionWords, *, gap: int) -> list[_Span]:
    """Each option's ``phrases`` in ``clauses``, at most ``gap`` other words between two of its
    words. Such a loose match is void when its clause also has words only another option has
    ("facing sideways to the ocean" is not "Facing the ocean")."""
    spans = []
    for clause in clauses:
        for label, phrase in phrases.items():
            barred = words.only_others_have(label)
            for start, end in _find(phrase, clause, gap, barred):
                if not (gap and barred & set(clause[:start] + clause[end:])):
                    spans.append(_Span(label, clause, start, end))
    return spans


def _is_hedge(spans: list[_Span]) -> bool:
    """Two options joined by "or" in one clause ("not visible or visible"): no choice."""
    return any(
        one.clause is other.clause
        and one.label != other.label
        and one.end <= other.start
        and "or" in one.clause[one.end : other.start]
        for one in spans
        for other in spans
    )


def _find(phrase: list[str], clause: list[str], gap: int, barred: set[str]):
    """Spans ``(start, end)`` of ``phrase``'s words in order in ``clause``, at most ``gap`` words
    between two of them; the words between may not negate or name another option."""
    if not phrase:
        return
    for start, word in enumerate(clause):
        if word != phrase[0]:
            continue
        at = start
        for want in phrase[1:]:
            window = clause[at + 1 : at + 2 + gap]
            if want not in window:
                break
            between = window[: window.index(want)]
            if set(between) & (_NEGATORS | barred):
                break
            at += 1 + window.index(want)
        else:
            yield start, at + 1


def _positive(spans: list[_Span], every_span: list[_Span]) -> set[str]:
    """Labels of ``spans`` neither inside another option's span ("shirt" in "t shirt", "1" in
    "more than 1") nor negated by an earlier word of their clause."""
    return {
        span.label
        for span in spans
        if not any(_encloses(other, span) for other in every_span)
        and not set(span.clause[: span.start]) & _NEGATORS
    }


def _encloses(outer: _Span, inner: _Span) -> bool:
    """``outer`` is another option's longer match around ``inner``, in the same clause."""
    return (
        outer.label != inner.label
        and outer.clause is inner.clause
        and outer.start <= inner.start
        and inner.end <= outer.end
        and (outer.start, outer.end) != (inner.start, inner.end)
    )


def _is_count_question(options: tuple[Option, ...]) -> bool:
    return sorted(_words(o.text) for o in options) == [["1"], ["more", "than", "1"]]


def _count_choices(clauses: list[list[str]], options: tuple[Option, ...]) -> set[str]:
    """``(a) One (b) More than one``: "three bananas" is more than one, "only one tree" is one."""
    one = next(o.label for o in options if _words(o.text) == ["1"])
    more = next(o.label for o in options if o.label != one)
    found = set()
    for clause in clauses:
        if set(clause) & (_NEGATORS - {"than"}):
            continue  # "only one apple, not three"
        joined = " ".join(clause)
        if re.search(r"\bsingle\b", joined):
            found.add(one)
        if re.search(r"\b(?:more than 1|multiple|several|many)\b", joined):
            found.add(more)
        counts = [int(w) for w in re.sub(r"\bmore than 1\b", "", joined).split() if w.isdigit()]
        found |= {one if n == 1 else more for n in counts if n > 0}
    return found
