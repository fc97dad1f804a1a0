"""MMVP data card and loader.

MMVP (Tong et al., CVPR 2024): 150 "CLIP-blind" image pairs, one binary question per pair asked of
both images = 300 questions. Hub dataset ``MMVP/MMVP`` (MIT): ``Questions.csv`` with columns
``Index,Question,Options,Correct Answer`` and ``MMVP Images/<Index>.jpg``. The hub repository is an
imagefolder, so ``datasets.load_dataset`` sees only the images; the CSV is read here. Some revisions
spell the first header ``lndex``; headers are normalised.

Rows ``2k-1`` and ``2k`` form pair ``k`` (same question and options, different images). Two pairs
have swapped answers upstream (99/100 elephant tusks, 279/280 elderly person; MMVP issues #14 and
#30, lmms-eval #1018): the ``corrected`` answer key (default) swaps them back, ``original`` keeps
the upstream key. Every document records the key it was scored with.

The readers take the data directory as an argument; :func:`resolve_data_dir` is what the
environment names (``MMVP_DATA_DIR=/path``, a local copy in the same layout, else the hub at
``MMVP_REVISION``), for the task hooks and the tools. Field values are kept as written (the
original scripts send them to models and judges unstripped); they are stripped only to validate
them.

Visual patterns: no official per-question mapping exists. ``patterns.csv`` beside the questions or
a given mapping file (the hooks' ``MMVP_PATTERNS_CSV``) supply one; for the real MMVP questions the
unofficial CC0 mapping of the AMVICC project (``questions/patterns_amvicc.csv``, shipped with this
package) is the default. The 300 questions themselves (no images) ship in
``questions/Questions.csv`` (MIT): :data:`SHIPPED_QUESTIONS`, readable by tools that need no images.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from mmvp_tasks.answers import OptionsFormatError, answer_label, parse_options
from mmvp_tasks.patterns import PATTERN_BY_CODE

HUB_REPO = "MMVP/MMVP"
QUESTIONS_FILE = "Questions.csv"
IMAGES_DIR = "MMVP Images"
PATTERNS_FILE = "patterns.csv"  # optional Index -> pattern code, written by `mmvp synth`
# Shipped with the package (mmvp_tasks/questions/NOTICE.md): the 300 real questions (MIT, original
# key, no images) and the unofficial Index -> pattern mapping of the AMVICC project (CC0).
SHIPPED_DIR = Path(__file__).with_name("questions")
SHIPPED_QUESTIONS = SHIPPED_DIR / QUESTIONS_FILE
AMVICC_PATTERNS = SHIPPED_DIR / "patterns_amvicc.csv"
COLUMNS = ("Index", "Question", "Options", "Correct Answer")
ANSWER_KEYS = ("corrected", "original")

# (first Index, second Index, question): pairs whose two answers are swapped in the upstream key.
# Matched on the question too, so a data set that is not MMVP is never "corrected".
KEY_ERRATA = (
    (99, 100, "Does the elephant have long or short tusks?"),
    (279, 280, "Is the elderly person standing or sitting in the picture?"),
)


class DataValidationError(ValueError):
    """The data set on disk is not a valid MMVP layout; the message names file, row and field."""


class DataUnavailableError(DataValidationError):
    """No local data was given and the hub cannot be reached (or has no such data set)."""


@dataclass(frozen=True)
class Question:
    index: int
    question: str
    options: str
    correct_answer: str
    image_path: Path
    pattern: str  # pattern code, "" when no mapping is known

    @property
    def pair_id(self) -> int:
        """Pairs are (1, 2), (3, 4), ...: grouped by Index, never by row order."""
        return (self.index - 1) // 2 + 1


def resolve_data_dir() -> Path:
    """The environment's data directory: ``MMVP_DATA_DIR`` if set, else a snapshot of the hub
    dataset (cached by huggingface_hub) at ``MMVP_REVISION`` (default: the newest)."""
    local = os.environ.get("MMVP_DATA_DIR")
    if local:
        return Path(local).expanduser()
    return hub_snapshot(HUB_REPO, "MMVP_DATA_DIR", os.environ.get("MMVP_REVISION") or None)


def hub_snapshot(repo: str, env_var: str, revision: str | None = None) -> Path:
    """A local snapshot of the hub dataset ``repo``; when neither the hub nor a cached copy is at
    hand, one :class:`DataUnavailableError` saying how to give a local copy instead."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return Path(snapshot_download(repo, repo_type="dataset", revision=revision))
    except (HfHubHTTPError, OSError) as err:  # offline, unreachable, unknown repo or revision
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataUnavailableError(
            f"the hub dataset {repo} is unreachable and not in the local cache ({reason}); "
            f"give a local copy in its layout instead: {env_var}=/path/to/copy (the `mmvp` "
            "commands take --data /path/to/copy)"
        ) from None


def read_questions(
    data_dir: str | os.PathLike,
    answer_key: str = "corrected",
    patterns_csv: str | os.PathLike | None = None,
    *,
    images: bool = True,
) -> list[Question]:
    """Read and validate ``Questions.csv`` and (unless ``images=False``) its images; apply
    ``answer_key`` and the pattern mapping (:func:`pattern_mapping`)."""
    if answer_key not in ANSWER_KEYS:
        raise ValueError(f"answer_key must be one of {ANSWER_KEYS}, got {answer_key!r}")
    data_dir = Path(data_dir)
    csv_path = data_dir / QUESTIONS_FILE
    rows = read_csv_rows(csv_path, COLUMNS, aliases={"lndex": "Index"})
    questions = [_to_question(csv_path, line, row, images) for line, row in rows]
    _check_pairs(csv_path, questions)
    patterns = _read_patterns(pattern_mapping(data_dir, questions, patterns_csv))
    questions = [replace(q, pattern=patterns.get(q.index, "")) for q in questions]
    if answer_key == "corrected":
        questions = _apply_errata(questions)
    return questions


def read_csv_rows(path: Path, columns, aliases=None) -> list[tuple[int, dict[str, str]]]:
    """Rows as ``(line number, {column: value})``, values as written; headers stripped and
    aliases applied. A row with fewer fields than the header is an error naming the row."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        header = [(aliases or {}).get(h.strip(), h.strip()) for h in next(reader, [])]
        missing = [c for c in columns if c not in header]
        if missing:
            raise DataValidationError(f"{path}: missing column(s) {missing}; header is {header}")
        rows = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(values) < len(header):
                raise DataValidationError(
                    f"{path}: row {reader.line_num}: {len(values)} field(s), expected "
                    f"{len(header)} ({', '.join(header)}); missing field(s) "
                    f"{header[len(values) :]}"
                )
            # Fields past the header's (a trailing comma) carry no column: left out, as before.
            fields = zip(header, values[: len(header)], strict=True)
            rows.append((reader.line_num, dict(fields)))
    except csv.Error as err:  # e.g. a field over the csv module's size limit
        raise DataValidationError(f"{path}: row {reader.line_num + 1}: not CSV ({err})") from None
    return rows


def read_text(path: Path) -> str:
    """A UTF-8 text file (a leading byte-order mark dropped); bytes that are not UTF-8 are an
    error naming the file and line."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataValidationError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataValidationError(f"{path}: is a directory, not a file") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataValidationError(
            f"{path}: line {line}: not UTF-8 text (byte 0x{data[err.start]:02x})"
        ) from None


def pattern_mapping(
    data_dir: Path, questions: list[Question], patterns_csv: str | os.PathLike | None = None
) -> Path | None:
    """``patterns.csv`` beside the questions, else ``patterns_csv``, else the shipped
    unofficial AMVICC mapping when the questions are MMVP's, else none."""
    local = Path(data_dir) / PATTERNS_FILE
    if local.is_file():
        return local
    if patterns_csv:
        return Path(patterns_csv).expanduser()
    return AMVICC_PATTERNS if is_mmvp(questions) else None


def is_mmvp(questions: list[Question]) -> bool:
    """The real MMVP question set (300 questions; the errata pairs' questions where MMVP has
    them), so MMVP-specific corrections and mappings never touch another data set."""
    by_index = {q.index: q for q in questions}
    return len(questions) == 300 and all(
        first in by_index and _same_text(by_index[first].question, text)
        for first, _, text in KEY_ERRATA
    )


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _read_patterns(path: Path | None) -> dict[int, str]:
    if path is None:
        return {}
    patterns = {}
    for line, row in read_csv_rows(path, ("Index", "Pattern")):
        code = row["Pattern"].strip()
        if code not in PATTERN_BY_CODE:
            raise DataValidationError(
                f"{path}: row {line}: field 'Pattern': unknown code {code!r}, "
                f"expected one of {sorted(PATTERN_BY_CODE)}"
            )
        patterns[_parse_index(path, line, row["Index"])] = code
    return patterns


def _parse_index(path: Path, line: int, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise DataValidationError(
            f"{path}: row {line}: field 'Index': {value!r} is not an integer"
        ) from None


def _to_question(path: Path, line: int, row: dict[str, str], images: bool) -> Question:
    index = _parse_index(path, line, row["Index"])
    where = f"{path}: row {line} (Index {index})"
    try:
        labels = [o.label for o in parse_options(row["Options"])]
        answer = answer_label(row["Correct Answer"])
    except OptionsFormatError as err:
        raise DataValidationError(f"{where}: field 'Options'/'Correct Answer': {err}") from None
    if answer not in labels:
        raise DataValidationError(
            f"{where}: field 'Correct Answer': {row['Correct Answer']!r} is not one of the "
            f"option labels {labels} in {row['Options']!r}"
        )
    image = path.parent / IMAGES_DIR / f"{index}.jpg"
    if images:
        check_image(image, where)
    return Question(index, row["Question"], row["Options"], f"({answer})", image, pattern="")


def check_image(path: Path, where: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.verify()
    except FileNotFoundError:
        raise DataValidationError(f"{where}: image {path} is missing") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise DataValidationError(f"{where}: image {path} is unreadable: {err}") from None


def _check_pairs(path: Path, questions: list[Question]) -> None:
    duplicates = [i for i, n in Counter(q.index for q in questions).items() if n > 1]
    if duplicates:
        raise DataValidationError(f"{path}: duplicate Index value(s) {sorted(duplicates)}")
    if len(questions) % 2:
        raise DataValidationError(
            f"{path}: {len(questions)} rows, an odd number: MMVP questions come in pairs"
        )
    by_index = {q.index: q for q in questions}
    for q in questions:
        mate = by_index.get(q.index + 1 if q.index % 2 else q.index - 1)
        if mate is None:
            raise DataValidationError(f"{path}: Index {q.index} has no pair partner")
        for field in ("question", "options"):
            if getattr(q, field).strip() != getattr(mate, field).strip():
                raise DataValidationError(
                    f"{path}: pair {q.pair_id} (Index {q.index} and {mate.index}): field "
                    f"'{field.capitalize()}' differs: {getattr(q, field)!r} vs "
                    f"{getattr(mate, field)!r}"
                )


def _apply_errata(questions: list[Question]) -> list[Question]:
    by_index = {q.index: q for q in questions}
    swapped: dict[int, str] = {}
    for first, second, text in KEY_ERRATA:
        a, b = by_index.get(first), by_index.get(second)
        if a and b and _same_text(a.question, text):
            swapped |= {first: b.correct_answer, second: a.correct_answer}
    return [replace(q, correct_answer=swapped.get(q.index, q.correct_answer)) for q in questions]
