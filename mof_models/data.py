"""Training data for MoF models: LLaVA conversation records -> masked token sequences.

A record is LLaVA's format (``llava_v1_5_mix665k.json``, ``LLaVA-Pretrain/blip_laion_cc_sbu_558k
.json``)::

    {"id": "000000033471", "image": "coco/train2017/000000033471.jpg",
     "conversations": [{"from": "human", "value": "<image>\\nWhat are the colors of the bus?"},
                       {"from": "gpt", "value": "The bus is white and red."}, ...]}

``image`` is a path under the image folder (or, from a hub dataset, an image); records without
``image`` are text-only. Turns alternate human/gpt, starting with human. Labels keep only the
assistant tokens (``chat`` format: each gpt turn and the end-of-turn token the template appends;
``plain`` format, LLaVA's stage-1 ``plain`` template: the caption after the image). Every error
names the record (index and id) and the field.

Images go to the processor as they are (``image_aspect_ratio: crop``, LLaVA's stage 1: resize and
center crop) or first padded to a square with the processor's mean colour (``pad``, LLaVA-1.5's
and the MMVP fork's stage 2, ``--image_aspect_ratio pad``), so the whole picture is seen.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mof_models.processing_mof import needs_special_tokens

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100  # label of tokens that are not learned (transformers' loss ignores them)
IMAGE_ASPECT_RATIOS = ("crop", "pad")
IMAGE_TOKEN = "<image>"  # LLaVA's placeholder in the records (the processor's token may differ)
ROLES = {"human": "user", "gpt": "assistant"}
FORMATS = ("chat", "plain")
_MAX_REPORTED = 5


class DataError(ValueError):
    """A malformed record or a missing image; the message names record and field."""


@dataclass(frozen=True)
class Conversation:
    """A validated record: chat messages (``role``/``content``) and its image reference."""

    where: str  # "record 17 (id '000000033471')", for error messages
    image: Any  # path (str), an image, an undecoded hub image (dict), or None
    messages: tuple[dict[str, str], ...]


# ----------------------------------------------------------------------------- records


def load_records(path: str | os.PathLike) -> list[dict]:
    """A LLaVA JSON file (a list of records) or JSON Lines (one record per line)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        records = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a JSON list of records, got {type(records).__name__}")
    return records


def parse_record(record: Any, index: int) -> Conversation:
    """Validate one LLaVA record; ``<image>`` is moved to the front of its turn, as LLaVA does."""
    where = f"record {index}"
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected an object, got {type(record).__name__}")
    if "id" in record:
        where += f" (id {record['id']!r})"
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise DataError(f"{where}: field 'conversations' must be a non-empty list")
    image = record.get("image")
    if image is not None and not _is_image_ref(image):
        raise DataError(f"{where}: field 'image' must be a path or an image, got {image!r:.80}")
    messages = tuple(_message(where, i, turn) for i, turn in enumerate(turns))
    _check_images_in_text(where, messages, image is not None)
    return Conversation(where, image, tuple(_image_first(m) for m in messages))


def _message(where: str, i: int, turn: Any) -> dict[str, str]:
    field = f"conversations[{i}]"
    if not isinstance(turn, dict):
        raise DataError(f"{where}: {field} must be an object with 'from' and 'value'")
    speaker, value = turn.get("from"), turn.get("value")
    expected = "human" if i % 2 == 0 else "gpt"
    if speaker != expected:
        raise DataError(
            f"{where}: {field}.from must be {expected!r} (turns alternate human/gpt, starting "
            f"with human), got {speaker!r}"
        )
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: {field}.value must be a non-empty string")
    return {"role": ROLES[speaker], "content": value}


def _check_images_in_text(where: str, messages: tuple[dict, ...], has_image: bool) -> None:
    if messages[-1]["role"] != "assistant":
        raise DataError(f"{where}: field 'conversations' must end with a gpt turn")
    counts = [m["content"].count(IMAGE_TOKEN) for m in messages]
    if any(c and m["role"] == "assistant" for c, m in zip(counts, messages, strict=True)):
        raise DataError(f"{where}: {IMAGE_TOKEN} appears in a gpt turn of 'conversations'")
    if has_image and sum(counts) != 1:
        raise DataError(
            f"{where}: a record with an 'image' needs exactly one {IMAGE_TOKEN} in its human "
            f"turns, found {sum(counts)}"
        )
    if not has_image and sum(counts):
        raise DataError(f"{where}: 'conversations' has {IMAGE_TOKEN} but the record has no 'image'")


def _image_first(message: dict[str, str]) -> dict[str, str]:
    """``"...\\n<image>"`` -> ``"<image>\\n..."`` (LLaVA's preprocess_multimodal)."""
    content = message["content"]
    if IMAGE_TOKEN not in content:
        return message
    rest = content.replace(IMAGE_TOKEN, "").strip()
    return {"role": message["role"], "content": f"{IMAGE_TOKEN}\n{rest}"}


def _is_image_ref(image: Any) -> bool:
    if isinstance(image, str):
        return bool(image.strip())
    if isinstance(image, dict):  # a hub Image feature read with decode=False
        return bool(image.get("bytes") or image.get("path"))
    return hasattr(image, "convert")  # a PIL image


def parse_records(records: Sequence, image_folder: str | os.PathLike | None) -> list[Conversation]:
    """Validate every record up front (and that every image file exists); report all problems."""
    conversations, problems = [], []
    folder = Path(image_folder) if image_folder is not None else None
    for index in range(len(records)):
        try:
            conversation = parse_record(records[index], index)
            _check_image_file(conversation, folder)
            conversations.append(conversation)
        except DataError as err:
            problems.append(str(err))
    if problems:
        shown = "\n  ".join(problems[:_MAX_REPORTED])
        more = f"\n  ... and {len(problems) - _MAX_REPORTED} more" if len(problems) > 5 else ""
        raise DataError(f"{len(problems)} bad record(s):\n  {shown}{more}")
    return conversations


def _check_image_file(conversation: Conversation, folder: Path | None) -> None:
    if not isinstance(conversation.image, str):
        return
    if folder is None:
        raise DataError(f"{conversation.where}: has an image path but no image folder was given")
    path = folder / conversation.image
    if not path.is_file():
        raise DataError(f"{conversation.where}: image file {path} not found")


# ----------------------------------------------------------------------------- tokens


class ConversationEncoder:
    """Messages -> ``input_ids`` and ``labels`` with ``<image>`` expanded to the image tokens.

    The rendered conversation is tokenized once, as a whole, with special tokens only when the
    template wrote no BOS (:func:`~mof_models.processing_mof.needs_special_tokens`), exactly as
    inference tokenizes it; segment by segment would differ for SentencePiece-style tokenizers,
    whose pieces start with ``▁`` where a segment starts. A token is learned when its first
    character lies in an assistant span (character offsets: the tokenizer must be a fast one).
    ``chat``: the spans are found by rendering each prefix of the conversation (the template
    must render it as a prefix of the text, which Vicuna/LLaVA templates do).
    """

    def __init__(self, processor, *, conversation_format: str, max_length: int) -> None:
        if conversation_format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {conversation_format!r}")
        self.tokenizer = processor.tokenizer
        if not self.tokenizer.is_fast:
            raise ValueError(
                f"training needs a fast tokenizer (character offsets), got "
                f"{type(self.tokenizer).__name__}"
            )
        self.chat_template = processor.chat_template
        self.image_token_id = processor.image_token_id
        self.num_image_tokens = processor.num_image_tokens
        self.format = conversation_format
        self.max_length = max_length

    def encode(self, conversation: Conversation) -> tuple[list[int], list[int]]:
        if self.format == "plain":
            text, spans = self._plain_text(conversation)
        else:
            text, spans = self._chat_text(conversation)
        encoded = self.tokenizer(
            text,
            add_special_tokens=needs_special_tokens(self.tokenizer, text),
            return_offsets_mapping=True,
        )
        input_ids = encoded["input_ids"]
        labels = [
            token if any(start <= first < end for start, end in spans) else IGNORE_INDEX
            for token, (first, _) in zip(input_ids, encoded["offset_mapping"], strict=True)
        ]
        input_ids, labels = self._expand_image(input_ids, labels)
        return self._truncate(conversation.where, input_ids, labels)

    def _plain_text(self, conversation: Conversation) -> tuple[str, list[tuple[int, int]]]:
        """LLaVA's stage-1 ``plain`` template: ``<s><image>{caption}\\n``, caption learned."""
        if conversation.image is None or len(conversation.messages) != 2:
            raise DataError(f"{conversation.where}: 'plain' format needs one image and 2 turns")
        prompt = f"{self.tokenizer.bos_token or ''}{IMAGE_TOKEN}"
        text = f"{prompt}{conversation.messages[1]['content']}\n"
        return text, [(len(prompt), len(text))]

    def _chat_text(self, conversation: Conversation) -> tuple[str, list[tuple[int, int]]]:
        """The rendered conversation and the character spans of its assistant turns."""
        messages = list(conversation.messages)
        full = self._render(messages, generation_prompt=False)
        spans = []
        for k, message in enumerate(messages):
            if message["role"] == "assistant":
                start = len(self._checked_prefix(full, messages[:k], True, conversation.where))
                end = len(self._checked_prefix(full, messages[: k + 1], False, conversation.where))
                spans.append((start, end))
        return full, spans

    def _checked_prefix(self, full: str, messages: list, generation_prompt: bool, where: str):
        prefix = self._render(messages, generation_prompt=generation_prompt)
        if not full.startswith(prefix):
            raise DataError(
                f"{where}: the chat template does not render a conversation prefix as a prefix "
                "of the text, so assistant tokens cannot be located; use a Vicuna/LLaVA-style "
                "template"
            )
        return prefix

    def _render(self, messages: list, *, generation_prompt: bool) -> str:
        if not messages:
            return ""
        return self.tokenizer.apply_chat_template(
            messages,
            chat_template=self.chat_template,
            tokenize=False,
            add_generation_prompt=generation_prompt,
        )

    def _expand_image(self, input_ids: list[int], labels: list[int]):
        if self.image_token_id not in input_ids:
            return input_ids, labels
        i = input_ids.index(self.image_token_id)
        n = self.num_image_tokens
        return (
            input_ids[:i] + [self.image_token_id] * n + input_ids[i + 1 :],
            labels[:i] + [IGNORE_INDEX] * n + labels[i + 1 :],
        )

    def _truncate(self, where: str, input_ids: list[int], labels: list[int]):
        if len(input_ids) > self.max_length:
            if self.image_token_id in input_ids[self.max_length :]:
                raise DataError(
                    f"{where}: max_length={self.max_length} would cut the image tokens "
                    f"({self.num_image_tokens} per image); raise max_length"
                )
            input_ids, labels = input_ids[: self.max_length], labels[: self.max_length]
        if all(label == IGNORE_INDEX for label in labels):
            raise DataError(f"{where}: no assistant tokens within max_length={self.max_length}")
        return input_ids, labels


# ----------------------------------------------------------------------------- torch side


def pad_to_square(image, colour: tuple[int, ...]):
    """``image`` centred on a square of ``colour`` whose side is its longer side (LLaVA's
    ``expand2square``: offset ``(long - short) // 2``)."""
    from PIL import Image

    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    square = Image.new(image.mode, (side, side), colour)
    square.paste(image, ((side - width) // 2, (side - height) // 2))
    return square


def mean_colour(image_processor) -> tuple[int, ...]:
    """The processor's mean as 0-255 values, truncated as LLaVA does (CLIP: (122, 116, 104))."""
    return tuple(int(x * 255) for x in image_processor.image_mean)


class MofConversationDataset:
    """Map-style dataset of ``{"input_ids", "labels", "pixel_values" or None}`` tensors."""

    def __init__(
        self,
        conversations,
        encoder: ConversationEncoder,
        image_processor,
        image_folder,
        image_aspect_ratio: str = "crop",
    ):
        if image_aspect_ratio not in IMAGE_ASPECT_RATIOS:
            raise ValueError(
                f"image_aspect_ratio must be one of {IMAGE_ASPECT_RATIOS}, "
                f"got {image_aspect_ratio!r}"
            )
        self.conversations = conversations
        self.encoder = encoder
        self.image_processor = image_processor
        self.image_folder = Path(image_folder) if image_folder is not None else None
        self.image_aspect_ratio = image_aspect_ratio

    def __len__(self) -> int:
        return len(self.conversations)

    def __getitem__(self, index: int) -> dict:
        import torch

        conversation = self.conversations[index]
        input_ids, labels = self.encoder.encode(conversation)
        pixel_values = None
        if conversation.image is not None:
            image = self._open_image(conversation)
            if self.image_aspect_ratio == "pad":
                image = pad_to_square(image, mean_colour(self.image_processor))
            processed = self.image_processor(images=[image], return_tensors="pt")
            pixel_values = processed["pixel_values"][0]  # (3, H, W)
        return {
            "input_ids": torch.tensor(input_ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
            "pixel_values": pixel_values,
        }

    def _open_image(self, conversation: Conversation):
        from PIL import Image

        image = conversation.image
        try:
            if isinstance(image, str):
                image = Image.open(self.image_folder / image)
            elif isinstance(image, dict):
                source = io.BytesIO(image["bytes"]) if image.get("bytes") else image["path"]
                image = Image.open(source)
            return image.convert("RGB")
        except (OSError, ValueError) as err:
            raise DataError(f"{conversation.where}: cannot read its image ({err})") from err


@dataclass
class MofDataCollator:
    """Right-pads a batch; stacks the images of the records that have one, in order."""

    pad_token_id: int

    def __call__(self, items: list[dict]) -> dict:
        import torch
        from torch.nn.utils.rnn import pad_sequence

        input_ids = pad_sequence(
            [x["input_ids"] for x in items], batch_first=True, padding_value=self.pad_token_id
        )
        labels = pad_sequence(
            [x["labels"] for x in items], batch_first=True, padding_value=IGNORE_INDEX
        )
        attention_mask = torch.zeros_like(input_ids)
        for row, item in enumerate(items):
            attention_mask[row, : len(item["input_ids"])] = 1
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
        images = [x["pixel_values"] for x in items if x["pixel_values"] is not None]
        if images:
            batch["pixel_values"] = torch.stack(images)  # (num_images, 3, H, W)
        return batch


def build_dataset(
    records: Sequence,
    processor,
    *,
    image_folder,
    conversation_format,
    max_length,
    image_aspect_ratio: str = "crop",
):
    """Validate ``records`` and wrap them for the Trainer."""
    conversations = parse_records(records, image_folder)
    encoder = ConversationEncoder(
        processor, conversation_format=conversation_format, max_length=max_length
    )
    logger.info("%d training records (%s format)", len(conversations), conversation_format)
    return MofConversationDataset(
        conversations, encoder, processor.image_processor, image_folder, image_aspect_ratio
    )
