"""Untrusted strings (model names, logged answers, messages quoting them) made safe to show: on a
terminal, in a Markdown table cell, in HTML and in JSON embedded in HTML.

A control character (a carriage return, an escape sequence, a bidirectional override, a line
separator) never reaches the output as itself: it is written as its escape, e.g. ``\\x1b``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from html import escape

# Unicode categories that are not visible text: controls, format characters (bidi overrides,
# zero-width marks), surrogates, private use, unassigned, and line/paragraph separators.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Characters that would end a table cell or start emphasis, code, a link, an image, a heading or
# an autolink (``https://``, ``a@b.c``), escaped with a backslash as CommonMark allows for any
# ASCII punctuation; < > & " are written as HTML entities instead.
_MARKDOWN_MARKS = frozenset("\\`*_[]#!|~:@")
_WWW = re.compile(r"(www)\.", re.IGNORECASE)  # GitHub's extended autolinks start at "www."


def visible(text) -> str:
    """``text`` with every invisible character written as its escape (``\\r`` -> ``\\x0d``)."""
    return "".join(_escape(c) if _is_invisible(c) else c for c in str(text))


def for_terminal(text) -> str:
    """Printable output: line breaks kept, every other control character escaped."""
    return "\n".join(visible(line) for line in str(text).split("\n"))


def markdown_cell(text) -> str:
    """A Markdown table cell that renders ``text`` literally, on one line, in one cell."""
    out = []
    for c in visible(text):
        if c in '<>&"':
            out.append(escape(c))
        elif c in _MARKDOWN_MARKS:
            out.append("\\" + c)
        else:
            out.append(c)
    return _WWW.sub(r"\1\\.", "".join(out))


def html_text(text) -> str:
    """Text for an HTML element or a quoted attribute."""
    return escape(visible(text), quote=True)


def json_for_html(value) -> str:
    """JSON that stays data inside ``<script type="application/json">``: no ``</script>``, no
    comment or CDATA opener, no line separators that older parsers treat as line ends."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(raw, escaped)
    return text


def _is_invisible(c: str) -> bool:
    return unicodedata.category(c) in _INVISIBLE


def _escape(c: str) -> str:
    code = ord(c)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def shown(value, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages that quote untrusted input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
