"""Where the images to mine come from: a folder, a file listing paths, or a hub image dataset.

Every source is an ordered list of string ids (a path, or ``dataset:NAME:SPLIT:ROW``) with
``load(row)`` returning an RGB PIL image, or raising ``UnreadableImageError`` (the encoder then
skips that image). Sources pickle without their loaded data, so Ray workers reopen them where they
run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


class EmptyInputError(ValueError):
    """The input lists no image."""


class UnreadableImageError(ValueError):
    """An image cannot be opened or decoded: ``image`` (its id) and ``reason``."""

    def __init__(self, image: str, reason: str) -> None:
        super().__init__(f"{image}: {reason}")
        self.image, self.reason = image, reason


class PathSource:
    """Images by file path; ``ids`` are the paths as listed."""

    def __init__(self, paths: list[str], origin: str) -> None:
        if not paths:
            raise EmptyInputError(f"{origin}: no images")
        bad = next((p for p in paths if "\n" in p or not p.strip()), None)
        if bad is not None:
            raise ValueError(f"{origin}: invalid image path {bad!r}")
        self.ids, self.origin = paths, origin

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, row: int):
        return open_image(self.ids[row])


class DatasetSource:
    """Rows of a ``datasets`` image dataset: a hub id or a local folder ``load_dataset`` reads."""

    def __init__(self, name: str, split: str = "train", column: str = "image") -> None:
        self.name, self.split, self.column = name, split, column
        self._dataset = None
        size = len(self.dataset)
        if not size:
            raise EmptyInputError(f"dataset {name!r} split {split!r}: no rows")
        self.ids = [f"dataset:{name}:{split}:{row}" for row in range(size)]

    @property
    def dataset(self):
        if self._dataset is None:
            from datasets import load_dataset

            dataset = load_dataset(self.name, split=self.split)
            if self.column not in dataset.column_names:
                raise ValueError(
                    f"dataset {self.name!r} split {self.split!r} has no column {self.column!r} "
                    f"(columns: {dataset.column_names}); pick one with --image-column"
                )
            self._dataset = dataset
        return self._dataset

    def __len__(self) -> int:
        return len(self.ids)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_dataset": None}

    def load(self, row: int):
        try:
            return self.dataset[row][self.column].convert("RGB")
        except Exception as err:  # any decoder failure: that image is skipped
            raise UnreadableImageError(self.ids[row], _why(err)) from None


def open_image(path: str):
    """The image at ``path`` as RGB, or an error naming the file."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except FileNotFoundError:
        raise UnreadableImageError(path, "image not found") from None
    except Exception as err:  # PIL's decoders raise many kinds on malformed files
        raise UnreadableImageError(path, _why(err)) from None


def _why(err: Exception) -> str:
    return f"unreadable image ({type(err).__name__}: {err})"


@contextmanager
def strict_decoding() -> Iterator[None]:
    """Truncated image files fail to decode, whatever else in the process asked: lmms-eval's task
    module sets PIL's ``LOAD_TRUNCATED_IMAGES`` on import, which pads a truncated file with grey
    and would have it encoded as a picture."""
    from PIL import ImageFile

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before


def folder_source(folder: str | os.PathLike) -> PathSource:
    """Image files under ``folder`` (recursively, by suffix), sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    paths = sorted(
        str(p) for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir()
    )
    return PathSource(paths, f"{folder} (image suffixes {sorted(IMAGE_SUFFIXES)})")


def path_list_source(list_file: str | os.PathLike) -> PathSource:
    """One image path per line; relative paths are relative to the list file's folder."""
    list_file = Path(list_file)
    if not list_file.is_file():
        raise FileNotFoundError(f"{list_file}: file not found")
    lines = [line.strip() for line in list_file.read_text(encoding="utf-8").splitlines()]
    paths = [str(list_file.parent / line) for line in lines if line]
    return PathSource(paths, str(list_file))
