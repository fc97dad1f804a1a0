"""How a response's words are compared with an option's or a question's: the normal form of a
word, sentences, clauses and negations. Pure functions, used by :mod:`mmvp_tasks.answers`."""

from __future__ import annotations

import re

_ARTICLES = {"a", "an", "the"}
_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "both": "2",
}  # fmt: skip
_IRREGULAR_PLURALS = {
    "geese": "goose", "mice": "mouse", "feet": "foot", "teeth": "tooth", "children": "child",
    "people": "person", "men": "man", "women": "woman", "oxen": "ox", "dice": "die",
    "leaves": "leaf", "knives": "knife", "wolves": "wolf", "halves": "half", "shelves": "shelf",
    "calves": "calf", "loaves": "loaf", "hooves": "hoof", "scarves": "scarf", "wives": "wife",
    "lives": "life", "thieves": "thief", "buses": "bus", "tomatoes": "tomato",
    "potatoes": "potato", "mangoes": "mango", "cacti": "cactus",
}  # fmt: skip
# Direction adverbs read as their direction: "downwards" is Down, "leftward" is Left.
_DIRECTIONS = {"upward": "up", "downward": "down", "leftward": "left", "rightward": "right",
               "backward": "back"}  # fmt: skip
# A negation covers the rest of its clause: "on the soil, not on the floor", "thin rather than
# round". Whole words only, so "casino open" and "volcano left" are not negations.
NEGATORS = {"not", "no", "never", "neither", "nor", "without", "than", "instead", "unlike", "less",
            "fewer", "cannot"}  # fmt: skip
CLAUSE_BREAK = re.compile(
    r"[,;:()]|\s[-–—]\s|\b(?:but|however|although|though|whereas|while|yet)\b", re.I
)
# Words that look like an option or a negation but are neither: "right next to", "the right
# choice" (just), "that's right" (correct), "no doubt" (surely), "upside down" (not Down); "one of
# them" / "the one on the left" (a pronoun, not a count, see _count_word).
_IDIOMS = re.compile(
    r"\bright\s+(?=(?:next|at|behind|above|below|beside|under|there|here|now|away|choice|answer"
    r"|option|in\s+front"
    r"|in\s+the\s+(?:middle|cent(?:er|re)))\b)|\b(?:all|that['’]?s|you['’]re)\s+right\b"
    r"|\bno\s+doubt\b|\bupside\s+down\b"
)
_IDIOM_MEANS = {"right": "just ", "no": "surely", "upside": "upsidedown"}  # others: "fine"
_PRONOUN_ONE_BEFORE = {"the", "each", "every", "any", "no", "this", "that", "which", "another"}
_CONTRACTED_NOT = re.compile(r"n['’]t\b")
# A word, a number ("2.5" is not "2") or a range of numbers ("5-6", "5 to 10", "between 5 and 10"),
# which names no one count.
_NUMBER = r"\d+(?:[.,]\d+)*"
_WHOLE_NUMBER = re.compile(_NUMBER)
_WORD = re.compile(
    rf"between\s+{_NUMBER}\s+and\s+{_NUMBER}|{_NUMBER}(?:(?:\s*[-–—]\s*|\s+to\s+){_NUMBER})?"
    r"|[^\W_]+"
)
_PRONOUN_ONE_AFTER = re.compile(r"(?:of|another|on each)\b")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")


def words(text: str) -> list[str]:
    """Lower-case words without articles, "n't" as "not", counts as digits, plurals singular,
    direction adverbs as their direction: "Two bowls of yogurts" and "2 bowl of yogurt" compare
    equal, so do "geese" and "goose", "downwards" and "down"."""
    text = _CONTRACTED_NOT.sub(" not", text.lower()).replace("cannot", "can not")
    text = _IDIOMS.sub(lambda m: _IDIOM_MEANS.get(m[0].split()[0], "fine"), text)
    found = [_range(w) for w in _WORD.findall(text)]
    return [_normal(_count_word(found, i)) for i, w in enumerate(found) if w not in _ARTICLES]


def _range(word: str) -> str:
    """A range of numbers as ``low-high`` ("5 to 10" -> "5-10"), any other word as it is."""
    is_range = word[0].isdigit() and not _WHOLE_NUMBER.fullmatch(word) or word.startswith("between")
    return "-".join(_WHOLE_NUMBER.findall(word)) if is_range else word


def numbers(word: str) -> list[int]:
    """The whole numbers a word names: "3" -> [3], the range "2-4" -> [2, 4], "open" -> []."""
    parts = word.split("-")
    return [int(p) for p in parts] if all(p.isdigit() for p in parts) else []


def _count_word(found: list[str], i: int) -> str:
    """Number words as digits ("both" is 2), except the pronoun "one" ("one of the eyes", "the
    one on the left", "one on each side")."""
    word = found[i]
    if word == "one":
        before = found[i - 1] if i else ""
        after = " ".join(found[i + 1 : i + 3])
        if before in _PRONOUN_ONE_BEFORE or _PRONOUN_ONE_AFTER.match(after):
            return word
    return _NUMBER_WORDS.get(word, word)


def _normal(word: str) -> str:
    singular = _singular(_IRREGULAR_PLURALS.get(word, word))
    return _DIRECTIONS.get(singular, singular)


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 2 and word.endswith("ie"):
        return word[:-2] + "y"  # "cookie" as "cookies" -> "cooky"
    return word


def sentences(text: str) -> list[str]:
    """Sentences and lines, without questions (a restated question names both options)."""
    return [p for p in _SENTENCE_BREAK.split(text) if p.strip() and not p.rstrip().endswith("?")]


def clauses(sentence: str) -> list[list[str]]:
    return [words(c) for c in CLAUSE_BREAK.split(sentence) if c and c.strip()]
