"""Which option a response names by its words: the first sentence that commits to one option,
the answer word of a yes/no question, a sentence that restates the question, "the statement is
incorrect"; counts for One / More than one. Pure functions, used by :mod:`mmvp_tasks.answers`."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from mmvp_tasks.answer_words import CLAUSE_BREAK, NEGATORS, clauses, numbers, sentences, words

if TYPE_CHECKING:
    from mmvp_tasks.answers import Option

# Words that carry no choice: left out when an option's words may have others between them.
_FILLERS = {"is", "are", "be", "of", "to", "it", "its", "there", "that", "this", "on", "in", "at",
            "by", "from", "with", "some", "all", "very", "relatively", "directly"}  # fmt: skip
_MAX_GAP = 4  # extra words allowed between two of an option's words ("a wall that stands between")


def read_option_text(text: str, options: tuple[Option, ...], question: str | None) -> set[str]:
    """Options the response names by their text: its first committing sentence; on yes/no and
    Correct/Incorrect questions its answer word and the sentences that answer the question."""
    texts = sorted(tuple(ws) for ws in option_words(options).values())
    if texts == [("no",), ("yes",)]:
        said = _yes_or_no(text, options, {"yes": "yes", "no": "no"})
        return said | _restated_question(text, options, question)
    if len(set(texts)) < len(texts):
        return _exact_text(text, options)
    if texts == [("correct",), ("incorrect",)]:  # "Is the following statement correct?"
        said = _yes_or_no(text, options, {"yes": "correct", "no": "incorrect"})
        # "Yes, the statement is incorrect": both, unparseable
        return said | _statement_verdicts(text, options, question)
    return _first_commitment(text, options)


def options_named_exactly(text: str, options: tuple[Option, ...]) -> set[str]:
    """Options whose words are all of ``text``'s: "Closed." and "**closed**" for Closed; the
    exact text when options have the same words ("Happy Easter" / "Happy Easter!")."""
    by_label = option_words(options)
    if len({tuple(ws) for ws in by_label.values()}) < len(by_label):
        return _equal_options(text, options)
    found = words(text)
    return {label for label, ws in by_label.items() if ws == found}


@lru_cache(maxsize=1024)
def option_words(options: tuple[Option, ...]) -> dict[str, list[str]]:
    """Each option's words, by label (shared between calls: not to be changed)."""
    return {o.label: words(o.text) for o in options}


def options_mentioned(text: str, options: tuple[Option, ...]) -> set[str]:
    """Options ``text`` names without negation, all of them when it hedges ("open or closed")."""
    return _sentence_choices(clauses(text), options)


# A clause with a condition: "If the wings were open, ...", "(a) would fit if ...".
_CONDITION = re.compile(
    r"(?i)[^,;.!?\n]*\b(?:if|whether|unless|suppose|supposing|assuming)\b[^,;.!?\n]*"
)


def _first_commitment(text: str, options: tuple[Option, ...], skipped=()) -> set[str]:
    """The options named by the first sentence that names any without negation (and matches no
    pattern of ``skipped``), its clauses with a condition aside ("If the wings were open, ...")."""
    for sentence in sentences(text):
        if any(pattern.search(sentence) for pattern in skipped):
            continue
        found = _sentence_choices(clauses(_CONDITION.sub(" ", sentence)), options)
        if found:
            return found
    return set()


_FIRST_YES_OR_NO = re.compile(r"[\W_]*(yes|no)\b(?!\s+(?:or|and)\b)", re.I)
_ANSWER_YES_OR_NO = re.compile(r"\banswer\s*(?:is|:)\s*:?\s*[\"']?(yes|no)\b", re.I)


def _yes_or_no(text: str, options: tuple[Option, ...], means: dict[str, str]) -> set[str]:
    """The first word ("No, the key is hidden"), or "the answer is no", as the option ``means``
    names: itself on yes/no questions, "incorrect" for "no" on "is the statement correct?"."""
    match = _FIRST_YES_OR_NO.match(text) or _ANSWER_YES_OR_NO.search(text)
    if not match:
        return set()
    return {lab for lab, ws in option_words(options).items() if ws == [means[match[1].lower()]]}


# ---------------------------------------------------------------------- the question restated

# A sentence that hedges or supposes answers nothing: "it is unclear whether the lamp is on",
# "if the lamp were on, ...", "the lamp might be on".
_HEDGE = re.compile(
    r"(?i)\b(?:if|whether|unless|might|may|could|would|should|perhaps|maybe|possibly|unclear"
    r"|uncertain|unsure|ambiguous|unable|not\s+sure|(?:hard|difficult|impossible)\s+to\s+"
    r"(?:tell|say|determine|judge|confirm)|can(?:not|['’]t|\s+not)\s+(?:tell|determine|confirm"
    r"|be\s+sure))\b"
)
# "Is the following statement correct: X" -> X is the claim; otherwise the question is.
_STATEMENT_QUESTION = re.compile(r"(?i)\bstatement\s+(?:is\s+)?(?:correct|true|accurate)\b\s*:?")
_YES_NO_QUESTION = re.compile(
    r"(?i)^\W*(?:is|are|was|were|does|do|did|has|have|had|can|could|will|would)\b"
)
_IN_THE_IMAGE = re.compile(
    r"(?i)\b(?:based\s+on|in|on|from|within)\s+(?:the|this)\s+(?:image|picture|photo|photograph"
    r"|scene|frame)\b"
)
_ASIDE = re.compile(r"\([^()]*\)")  # "(e.g nest, basket)"
# Words a restating sentence need not repeat: auxiliaries, pronouns, "any".
_UNSTRESSED = {"is", "are", "was", "were", "be", "been", "being", "am", "do", "doe", "did", "has",
               "have", "had", "can", "could", "will", "would", "shall", "should", "may", "might",
               "must", "it", "its", "they", "them", "their", "there", "this", "that", "these",
               "those", "you", "your", "we", "our", "i", "my", "any", "s", "already", "currently",
               "also", "really", "actually", "indeed", "and"}  # fmt: skip
# "Can you see X?" is answered by "X is (not) visible", "X is shown", "I cannot see X".
_SEEN = {"see", "seeing", "seen", "visible", "show", "shown", "appear", "observe", "notice",
         "noticeable", "discernible"}  # fmt: skip
_IS_SEEN = "<seen>"
_CLAIM_NEGATORS = {"not", "no", "never", "neither", "nor", "without", "none", "nothing", "nobody"}
_CLAIM_CLAUSE_BREAK = re.compile(rf"{CLAUSE_BREAK.pattern}|\band\b", re.I)
_CONTRAST = re.compile(r"(?i);|\b(?:but|however|although|though|whereas|while|yet)\b")


@dataclass(frozen=True)
class _Claim:
    """What a yes/no question asks: the words a sentence must restate, and whether the question
    itself is negated ("Is the following statement correct: We cannot see the window")."""

    stems: Counter
    negated: bool
    conjoined: bool  # "stick out its tongue and touch its skin": "and" joins the claim's parts


@lru_cache(maxsize=1024)
def _claim(question: str) -> _Claim | None:
    """The claim of a yes/no question; ``None`` for questions a sentence cannot restate safely:
    alternatives ("fruits or vegetables"), or no question word."""
    question = _ASIDE.sub(" ", _IN_THE_IMAGE.sub(" ", question))
    statement = _STATEMENT_QUESTION.search(question)
    if not statement and not _YES_NO_QUESTION.match(question):
        return None
    claim = question[statement.end() :] if statement else question
    if re.search(r"(?i)\bor\b", claim):
        return None
    said = words(claim)
    negated = sum(w in _CLAIM_NEGATORS for w in said) % 2 == 1
    stems = [_stem(w) for w in said if w not in _CLAIM_NEGATORS and w not in _UNSTRESSED]
    conjoined = "and" in said
    return _Claim(Counter(stems), negated, conjoined) if stems else None


def _stem(word: str) -> str:
    """A crude stem, so that "opened"/"open", "floating"/"floats", "sitting"/"sit" compare equal;
    perception words as one ("visible", "seen", "shown")."""
    if word in _SEEN:
        return _IS_SEEN
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouslz":
        word = word[:-1]  # "sitt" -> "sit"
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def _restated_question(text: str, options: tuple[Option, ...], question: str | None) -> set[str]:
    """Yes/No by the sentences that restate the question's claim, with or without a negation
    covering it: "Is the lamp switched on?" -> "The lamp is not switched on." is No. They must
    agree; a sentence that restates only part of the claim, or hedges, answers nothing."""
    claim = _claim(question) if question else None
    if claim is None:
        return set()
    agreements = {agrees for s in sentences(text) for agrees in _agreements(s, claim)}
    said = {"yes" if agrees else "no" for agrees in agreements}
    return {label for label, ws in option_words(options).items() if ws[0] in said}


def _agreements(sentence: str, claim: _Claim) -> set[bool]:
    """Whether ``sentence`` states the claim (True) or its negation (False), or both when its
    parts disagree ("on in the mirror, but the lamp itself is not on"); none when it hedges or
    does not restate all of the claim. Read part by part ("but", ";"), then, for a negation only,
    as a whole ("sticks out its tongue but does not touch its skin")."""
    if _HEDGE.search(sentence):
        return set()
    parts = [_negated(part, claim) for part in _CONTRAST.split(sentence) if part]
    negated = {n for n in parts if n is not None} or ({True} & {_negated(sentence, claim)})
    return {n == claim.negated for n in negated}


def _negated(text: str, claim: _Claim) -> bool | None:
    """Whether ``text`` restates the claim negated; ``None`` when it does not restate it. A
    negation covers the rest of its clause. Affirmed, the claim must stand in one clause ("the
    duck is on the grass, and a leaf is floating" does not say the duck floats); negated, it may
    span clauses ("made of wood, not metal")."""
    clauses = _stemmed_clauses(text, _CLAIM_CLAUSE_BREAK)
    missing = claim.stems.copy()
    negated = False
    for stems in clauses:
        for i, stem in enumerate(stems):
            if missing[stem] > 0:
                missing[stem] -= 1
                negated |= bool(_CLAIM_NEGATORS.intersection(stems[:i]))
    if +missing:
        return None
    if negated:
        return True
    if claim.conjoined:
        clauses = _stemmed_clauses(text, CLAUSE_BREAK)
    in_one_clause = any(not claim.stems - Counter(stems) for stems in clauses)
    return False if in_one_clause else None


def _stemmed_clauses(text: str, breaks: re.Pattern) -> list[list[str]]:
    return [[_stem(w) for w in words(c)] for c in breaks.split(text) if c]


# "The statement "We cannot see the window" is incorrect", "the statement is not true".
_VERDICT = re.compile(
    r"(?i)\bstatement(?:\s*[:,]?\s*[\"“](?P<quoted>[^\"”]+)[\"”])?"
    r"(?:\s+(?:in|from|of)\s+the\s+question)?,?\s+(?:is|seems|appears)\s+(?:to\s+be\s+)?"
    r"(?P<negated>not\s+)?(?:(?:entirely|completely|fully|indeed|actually)\s+)?"
    r"(?P<verdict>correct|incorrect|true|false|accurate|inaccurate|right|wrong)\b"
)
_TRUE = {"correct", "true", "accurate", "right"}


def _statement_verdicts(text: str, options: tuple[Option, ...], question: str | None) -> set[str]:
    """Correct/Incorrect by the sentences that call the question's statement correct or not; a
    quoted statement must be the question's, and a hedging sentence ("to check whether the
    statement is correct") says nothing. Without them, the first committing sentence of the
    others; without the question, the first committing sentence."""
    statement = _STATEMENT_QUESTION.search(question) if question else None
    if statement is None:
        return _first_commitment(text, options)
    asked = words(_IN_THE_IMAGE.sub(" ", question[statement.end() :]))
    said = set()
    for sentence in sentences(text):
        if _HEDGE.search(sentence):
            continue
        for match in _VERDICT.finditer(sentence):
            if match["quoted"] and words(_IN_THE_IMAGE.sub(" ", match["quoted"])) != asked:
                continue  # another statement
            holds = (match["verdict"].lower() in _TRUE) != bool(match["negated"])
            said.add("correct" if holds else "incorrect")
    if not said:
        # not "The question asks: Is the following statement correct: ...", nor verdicts on others
        return _first_commitment(text, options, skipped=(_VERDICT, _STATEMENT_QUESTION))
    return {label for label, ws in option_words(options).items() if ws[0] in said}


# ----------------------------------------------------------------------------- exact text


def _exact_text(text: str, options: tuple[Option, ...]) -> set[str]:
    """Options equal once normalised ("Happy Easter" / "Happy Easter!"): the whole response, or a
    quoted part of it, must be one option exactly, punctuation included; a full stop or comma
    inside the closing quote is the sentence's ("Happy Easter." is "Happy Easter")."""
    whole = _equal_options(text, options)
    if whole:
        return whole
    quoted = re.findall(r"[\"“]([^\"”]+)[\"”]", text)
    return {label for q in quoted for label in _equal_options(q, options)}


def _equal_options(text: str, options: tuple[Option, ...]) -> set[str]:
    exact = {o.label for o in options if _unquote(text) == _unquote(o.text)}
    if exact:
        return exact
    return {o.label for o in options if _unquote(text).rstrip(".,") == _unquote(o.text)}


def _unquote(text: str) -> str:
    return text.strip().strip("\"'“”‘’").strip().casefold()


# ----------------------------------------------------------------------------- option words


def _sentence_choices(sentence: list[list[str]], options: tuple[Option, ...]) -> set[str]:
    """Options a sentence (its clauses' words) names without negation, by the strictest matcher
    that finds one."""
    if _is_count_question(options):
        return _count_choices(sentence, options)
    option_words = _OptionWords.of(options)
    # Strictest first: the option's words as written, then its content words with others between,
    # then only the words that tell it apart, in clauses that lack the words options share
    # ("from the side" is "Side view"; "blue with a light haze" is not "Light blue").
    stages = [
        _spans(option_words.as_written, sentence, option_words, gap=0),
        _spans(option_words.content, sentence, option_words, gap=_MAX_GAP),
    ]
    distinct = option_words.distinct
    if all(distinct.values()) and any(len(ws) > 1 for ws in option_words.content.values()):
        apart = [c for c in sentence if not option_words.shared & set(c)]
        stages.append(_spans(distinct, apart, option_words, gap=_MAX_GAP))
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
    @lru_cache(maxsize=1024)
    def of(cls, options: tuple[Option, ...]) -> _OptionWords:
        as_written = option_words(options)
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


def _spans(
    phrases: dict[str, list[str]], found_in, option_words: _OptionWords, *, gap: int
) -> list[_Span]:
    """Each option's ``phrases`` in ``clauses``, at most ``gap`` other words between two of its
    words. Such a loose match is void when its clause also has words only another option has
    ("facing sideways to the ocean" is not "Facing the ocean")."""
    spans = []
    for clause in found_in:
        for label, phrase in phrases.items():
            barred = option_words.only_others_have(label)
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
            if set(between) & (NEGATORS | barred):
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
        and not set(span.clause[: span.start]) & NEGATORS
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
    return sorted(option_words(options).values()) == [["1"], ["more", "than", "1"]]


def _count_choices(sentence: list[list[str]], options: tuple[Option, ...]) -> set[str]:
    """``(a) One (b) More than one``: "three bananas" is more than one, "only one tree" is one."""
    one = next(label for label, ws in option_words(options).items() if ws == ["1"])
    more = next(o.label for o in options if o.label != one)
    found = set()
    for clause in sentence:
        if set(clause) & (NEGATORS - {"than"}):
            continue  # "only one apple, not three"
        joined = " ".join(clause)
        if re.search(r"\bsingle\b", joined):
            found.add(one)
        if re.search(r"\b(?:more than 1|multiple|several|many)\b", joined):
            found.add(more)
        counts = [n for w in re.sub(r"\bmore than 1\b", "", joined).split() for n in numbers(w)]
        found |= {one if n == 1 else more for n in counts if n > 0}
    return found
