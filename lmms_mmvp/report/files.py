"""Reading files that come from strangers: size limits, UTF-8, bounded JSON nesting.

Every reader raises :class:`InputError` with one message naming the file (and the line, where
there is one); the commands print it and exit with status 2, never with a traceback. Limits are
far above what a real run writes: a full ``mmvp_ablation`` samples file is about 2 MiB, a
results file about 100 KiB.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from mmvp_tasks.data import DataValidationError, read_text

MAX_JSON_BYTES = 32 * 2**20  # a results file or a leaderboard entry
MAX_LINES_BYTES = 256 * 2**20  # a samples file or an answers file
MAX_DEPTH = 32  # lmms-eval's results files nest 6 levels deep


class InputError(ValueError):
    """A file that cannot be read as what it should be; the message names the file and line."""


def read_json(path: Path):
    """The JSON value in ``path`` (at most ``MAX_JSON_BYTES``)."""
    return parse_json(read_limited_text(path, MAX_JSON_BYTES), str(path))


def read_json_lines(path: Path) -> Iterator[tuple[int, object]]:
    """``(line number, value)`` for every non-blank line of a JSON Lines file (at most
    ``MAX_LINES_BYTES``)."""
    text = read_limited_text(path, MAX_LINES_BYTES)
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield number, parse_json(line, f"{path}: line {number}")


def check_size(path: Path, max_bytes: int) -> None:
    """An existing file of at most ``max_bytes``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(
            f"{path}: {size:,} bytes, over the limit of {max_bytes:,} for this kind of file"
        )


def read_limited_text(path: Path, max_bytes: int) -> str:
    check_size(path, max_bytes)
    try:
        return read_text(path)
    except DataValidationError as err:  # not UTF-8: names the line
        raise InputError(str(err)) from None


def parse_json(text: str, where: str):
    """``json.loads`` with one message for every way it can fail, and nesting bounded."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{where}: not JSON ({err})") from None
    except (ValueError, RecursionError) as err:  # e.g. an integer of 5,000 digits, deep nesting
        raise InputError(f"{where}: not JSON this reader accepts ({_short(err)})") from None
    if _depth(value) > MAX_DEPTH:
        raise InputError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels")
    return value


def _depth(value) -> int:
    """Nesting depth, iteratively (a recursive walk could itself overflow)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _short(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) <= 120 else text[:117] + "..."
