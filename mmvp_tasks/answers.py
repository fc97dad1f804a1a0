"""Reading MMVP options and extracting which option a free-form response chose.

Pure functions, no heavy imports. The extractor accepts what a careful human grader accepts:
the option label in any common form (``B``, ``(b)``, ``b)``, ``Option B``, ``The answer is
(B).``) or the option's text (``Right``, ``closed``, ``More than one``), case- and
punctuation-insensitive. It never reads the English article "a" as option A (lmms-eval's
built-in parser does), and a response that points at both options or at neither is unparseable
(``None``), which scores as wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPTION = re.compile(r"\((\w)\)\s*(.*?)\s*(?=\(\w\)|$)", re.S)
_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
}  # fmt: skip
_NEGATIONS = ("not", "no", "isn t", "aren t", "doesn t", "don t", "neither", "nor")


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


def _normalise(text: str) -> str:
    """Lower case, punctuation to spaces, number words to digits, single spaces."""
    words = re.sub(r"[^\w]+", " ", text.lower().replace("_", " ")).split()
    return " ".join(_NUMBER_WORDS.get(w, w) for w in words)


def _label_mentions(response: str, labels: list[str]) -> set[str]:
    """Labels the response points at explicitly (``(b)``, ``Option B``, ``B.`` ...)."""
    alt = "|".join(re.escape(lab) for lab in labels)
    stripped = response.strip()
    whole = re.fullmatch(rf"(?i)\(?({alt})\)?[.:)]?", stripped)
    if whole:
        return {whole[1].lower()}
    patterns = [
        rf"(?i)\(({alt})\)",  # (b)
        rf"(?i)^({alt})[).:](?:\s|$)",  # "b) ...", "B. Closed", "A: ..."
        rf"(?i)\b(?:option|choice)\s*:?\s*({alt})\b",  # "Option B", "choice: b"
        # "The answer is B." / "Answer: b" but not "the answer is a closed box"
        rf"(?i)\banswer\s*(?:is|would be|:)\s*:?\s*({alt})(?=\s*(?:[.,;:!?]|$))",
    ]
    found = {m.lower() for p in patterns for m in re.findall(p, stripped)}
    # A bare capital label counts only when not followed by a word: "B" or "... is B." but never
    # the article in "A dog ...". Lower-case bare letters are left to the text matcher.
    upper = "|".join(re.escape(lab.upper()) for lab in labels if lab.isalpha())
    if upper:
        after = r"(?=\s*(?:[.,;:!?)]|$)|\s+(?:or|and)\s)"  # "... is B." / "A or B"
        found |= {m.lower() for m in re.findall(rf"(?<![\w(])({upper}){after}", stripped)}
    return found


def _text_mentions(response: str, options: tuple[Option, ...]) -> set[str]:
    """Options whose text occurs in the response as whole words, not inside a longer option's text
    ("shirt" inside "t-shirt", "one" inside "more than one") and not negated ("not visible")."""
    norm = f" {_normalise(response)} "
    texts = {o.label: _normalise(o.text) for o in options}
    if len(set(texts.values())) < len(texts):
        return set()  # options identical once normalised ("Happy Easter" / "Happy Easter!")
    spans: dict[str, list[tuple[int, int]]] = {
        label: [(m.start(), m.end()) for m in re.finditer(rf"(?<= ){re.escape(t)}(?= )", norm)]
        for label, t in texts.items()
    }
    found = set()
    for label, own in spans.items():
        for start, end in own:
            inside_other = any(
                s <= start and end <= e and (s, e) != (start, end)
                for other, their in spans.items()
                if other != label
                for s, e in their
            )
            negated = norm[:start].rstrip().endswith(_NEGATIONS)
            if not inside_other and not negated:
                found.add(label)
    return found


def extract_choice(response: str, options: tuple[Option, ...], *, shown_labels=None) -> str | None:
    """The label (as in ``options``) of the option the response chose, or ``None``.

    ``shown_labels`` are the labels the prompt displayed, in option order, when they differ from the
    data's (lmms-eval's prompt shows ``A.``/``B.`` for ``(a)``/``(b)``); both forms are accepted.
    """
    labels = [o.label for o in options]
    shown = [s.lower() for s in (shown_labels or labels)]
    to_data = dict(zip(shown, labels)) | {lab: lab for lab in labels}
    by_label = {to_data[m] for m in _label_mentions(response, sorted(to_data))}
    by_text = _text_mentions(response, options)
    if len(by_label) == 1:
        (label,) = by_label
        # An explicit label decides unless the text points only elsewhere ("B. Open" for (a) Open).
        return None if by_text and label not in by_text else label
    if by_label:
        return None  # several labels, e.g. the options echoed back
    return by_text.pop() if len(by_text) == 1 else None
