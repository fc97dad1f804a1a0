"""LLaVA conversation data: validation errors, label masks, image tokens, collation, sources."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from mof_models.data import (
    IGNORE_INDEX,
    ConversationEncoder,
    DataError,
    MofDataCollator,
    build_dataset,
    load_records,
    parse_record,
    parse_records,
)
from tests.support.mof import (
    images,
)
from tests.support.tiny_tokenizers import TOKENIZERS, build_named_tokenizer


@pytest.fixture(scope="module", params=sorted(TOKENIZERS))
def processor(request):
    """A tiny I-MoF processor with each kind of tokenizer (byte-level; Llama-like Metaspace)."""
    from mof_models.tiny import tiny_mof_config, tiny_mof_processor

    tokenizer = build_named_tokenizer(request.param)
    return tiny_mof_processor(tiny_mof_config("interleave", tokenizer=tokenizer), tokenizer)


def record(*turns, image="a.jpg", **extra):
    speakers = ["human", "gpt"] * len(turns)
    return {
        "id": "r1",
        **({"image": image} if image else {}),
        # speakers alternate for as many turns as given (the list is longer on purpose)
        "conversations": [{"from": s, "value": v} for s, v in zip(speakers, turns, strict=False)],
        **extra,
    }


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([], r"record 3: expected an object, got list"),
        ({"id": 7}, r"record 3 \(id 7\): field 'conversations' must be a non-empty list"),
        (
            {"id": "x", "conversations": [{"from": "bot", "value": "hi"}]},
            r"conversations\[0\]\.from must be 'human' .* got 'bot'",
        ),
        (record("<image>\nQ", ""), r"conversations\[1\]\.value must be a non-empty string"),
        (record("<image>\nQ"), "must end with a gpt turn"),
        (record("Q", "A"), r"needs exactly one <image> in its human turns, found 0"),
        (record("<image>\nQ", "A", image=None), "has <image> but the record has no 'image'"),
        (record("<image>\nQ", "<image> A"), "<image> appears in a gpt turn"),
        (record("<image>\nQ", "A", image=3), "field 'image' must be a path or an image"),
    ],
)
def test_malformed_records_name_record_and_field(bad, message):
    with pytest.raises(DataError, match=message):
        parse_record(bad, 3)


def test_all_problems_are_reported_with_missing_images(tmp_path):
    images(1)[0].save(tmp_path / "a.jpg")
    records = [record("<image>\nQ", "A"), record("<image>\nQ", "A", image="gone.jpg"), {"id": 9}]
    with pytest.raises(DataError) as err:
        parse_records(records, tmp_path)
    text = str(err.value)
    assert text.startswith("2 bad record(s)")
    assert f"record 1 (id 'r1'): image file {tmp_path / 'gone.jpg'} not found" in text
    assert "record 2 (id 9): field 'conversations'" in text


def test_load_records_json_and_jsonl(tmp_path):
    (tmp_path / "d.json").write_text(json.dumps([record("<image>\nQ", "A")]))
    (tmp_path / "d.jsonl").write_text(json.dumps(record("<image>\nQ", "A")) + "\n\n")
    assert load_records(tmp_path / "d.json") == load_records(tmp_path / "d.jsonl")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DataError, match="not valid JSON"):
        load_records(tmp_path / "bad.json")


def learned_runs(processor, ids, labels) -> list[str]:
    """The decoded runs of consecutive learned tokens (labels must equal the ids there)."""
    runs, run = [], []
    for token, label in zip([*ids, None], [*labels, IGNORE_INDEX], strict=True):
        if label != IGNORE_INDEX:
            assert label == token
            run.append(token)
        elif run:
            runs.append(processor.tokenizer.decode(run).strip())
            run = []
    return runs


def chat(*turns, image=None) -> list[dict]:
    """Processor-style messages; the first user turn shows ``image``."""
    messages = []
    for i, text in enumerate(turns):
        content = [{"type": "text", "text": text}]
        if i == 0 and image is not None:
            content.insert(0, {"type": "image", "image": image})
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": content})
    return messages


def reference_ids(processor, messages, generation_prompt=False) -> list[int]:
    """transformers' own path: render the template and tokenize it with the images."""
    out = processor.apply_chat_template(
        messages, add_generation_prompt=generation_prompt, tokenize=True, return_dict=True
    )
    return list(out["input_ids"][0])


def test_training_ids_are_the_inference_ids_with_one_bos(processor):
    encoder = ConversationEncoder(processor, conversation_format="chat", max_length=512)
    conv = parse_record(record("What colour?\n<image>", "Red", "And now?", "Blue Left"), 0)
    ids, labels = encoder.encode(conv)
    bos = processor.tokenizer.bos_token_id
    assert ids[0] == bos and ids.count(bos) == 1
    assert ids.count(processor.image_token_id) == 32  # one <image> -> num_image_tokens
    image = images(1)[0]
    turns = ("What colour?", "Red", "And now?", "Blue Left")
    assert ids == reference_ids(processor, chat(*turns, image=image))
    # the first prompt is exactly what inference feeds, and nothing of it is learned
    prompt = reference_ids(processor, chat(turns[0], image=image), generation_prompt=True)
    assert ids[: len(prompt)] == prompt
    assert set(labels[: len(prompt)]) == {IGNORE_INDEX}


def test_a_template_without_bos_gets_the_tokenizers_own(processor):
    """llava-hf's templates write no BOS: the tokenizer adds its special tokens then, in
    training as in transformers' processors (Llama: one BOS; byte-level: none)."""
    from mof_models.processing_mof import LLAVA_CHAT_TEMPLATE

    without_bos = copy.copy(processor)
    without_bos.chat_template = LLAVA_CHAT_TEMPLATE.removeprefix("{{ bos_token }}")
    encoder = ConversationEncoder(without_bos, conversation_format="chat", max_length=512)
    ids, labels = encoder.encode(parse_record(record("<image>\nUp?", "No", "Sure?", "Yes"), 0))
    assert ids == reference_ids(without_bos, chat("Up?", "No", "Sure?", "Yes", image=images(1)[0]))
    adds_bos = without_bos.tokenizer("x")["input_ids"][0] == processor.tokenizer.bos_token_id
    assert ids.count(processor.tokenizer.bos_token_id) == int(adds_bos)
    assert learned_runs(without_bos, ids, labels) == ["No</s>", "Yes</s>"]


def test_only_assistant_tokens_are_learned(processor):
    encoder = ConversationEncoder(processor, conversation_format="chat", max_length=512)
    conv = parse_record(record("What colour?\n<image>", "Red", "And now?", "Blue Left"), 0)
    ids, labels = encoder.encode(conv)
    assert learned_runs(processor, ids, labels) == ["Red</s>", "Blue Left</s>"]
    text_only = parse_record(record("Is it up?", "Up, surely", image=None), 0)
    ids, labels = encoder.encode(text_only)
    assert ids == reference_ids(processor, chat("Is it up?", "Up, surely"))
    assert learned_runs(processor, ids, labels) == ["Up, surely</s>"]


def test_plain_format_learns_the_caption(processor):
    encoder = ConversationEncoder(processor, conversation_format="plain", max_length=512)
    ids, labels = encoder.encode(parse_record(record("<image>\nDescribe.", "A red square."), 0))
    assert learned_runs(processor, ids, labels) == ["A red square."]
    assert ids[0] == processor.tokenizer.bos_token_id and ids[1] == processor.image_token_id
    assert ids.count(processor.tokenizer.bos_token_id) == 1


def test_truncation_never_cuts_the_image(processor):
    conv = parse_record(record("<image>\nQ", "A long answer " * 20), 0)
    ids, labels = ConversationEncoder(processor, conversation_format="chat", max_length=60).encode(
        conv
    )
    assert len(ids) == len(labels) == 60
    with pytest.raises(DataError, match="max_length=20 would cut the image tokens"):
        ConversationEncoder(processor, conversation_format="chat", max_length=20).encode(conv)
    long_prompt = parse_record(record("<image>\n" + "Is it up? " * 30, "A"), 0)
    with pytest.raises(DataError, match="no assistant tokens within max_length=60"):
        ConversationEncoder(processor, conversation_format="chat", max_length=60).encode(
            long_prompt
        )


def test_dataset_and_collator(processor, tmp_path):
    images(1)[0].save(tmp_path / "a.jpg")
    records = [record("<image>\nQ", "A"), record("Text only?", "Yes", image=None)]
    dataset = build_dataset(
        records, processor, image_folder=tmp_path, conversation_format="chat", max_length=256
    )
    items = [dataset[0], dataset[1]]
    assert items[0]["pixel_values"].shape == (3, 32, 32) and items[1]["pixel_values"] is None
    batch = MofDataCollator(pad_token_id=processor.tokenizer.pad_token_id)(items)
    assert batch["pixel_values"].shape == (1, 3, 32, 32)  # only records with an image
    n0 = len(items[0]["input_ids"])
    assert batch["input_ids"].shape == (2, n0) and batch["attention_mask"][0].all()
    short = len(items[1]["input_ids"])
    assert batch["attention_mask"][1].tolist() == [1] * short + [0] * (n0 - short)  # right pad
    assert (batch["labels"][1, short:] == IGNORE_INDEX).all()
    assert (batch["input_ids"] == processor.image_token_id).sum() == 32


def test_unreadable_image_names_the_record(processor, tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"not a jpeg")
    dataset = build_dataset(
        [record("<image>\nQ", "A")],
        processor,
        image_folder=tmp_path,
        conversation_format="chat",
        max_length=256,
    )
    with pytest.raises(DataError, match=r"record 0 \(id 'r1'\): cannot read its image"):
        dataset[0]


def test_synthetic_training_file_is_llava_json_with_the_mmvp_prompt(synthetic_train_dir):
    records = load_records(synthetic_train_dir.mmvp_dir / "train.json")
    assert len(records) == 300
    first = records[0]["conversations"]
    assert first[0]["value"].startswith("<image>\n")
    assert first[0]["value"].endswith(
        "\nAnswer with the option's letter from the given choices directly."
    )
    assert first[1]["value"] in ("A", "B")
    assert (synthetic_train_dir.mmvp_dir / records[0]["image"]).is_file()
    assert parse_records(records, synthetic_train_dir.mmvp_dir)


def test_hub_dataset_with_embedded_images(processor, tmp_path):
    import datasets

    from mof_models.train import load_training_data
    from mof_models.train_config import DataSettings

    rows = [
        {"image": images(1)[0], "conversations": record("<image>\nQ", "B")["conversations"]},
        {"image": images(2)[1], "conversations": record("<image>\nR", "A")["conversations"]},
    ]
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "conversations": [
                {"from": datasets.Value("string"), "value": datasets.Value("string")}
            ],
        }
    )
    datasets.Dataset.from_list(rows, features=features).to_parquet(tmp_path / "train.parquet")
    settings = DataSettings(
        hub={"path": "parquet", "data_files": str(tmp_path / "train.parquet"), "split": "train"}
    )
    dataset = load_training_data(settings, processor)
    item = dataset[1]
    assert item["pixel_values"].shape == (3, 32, 32)
    assert torch.equal(
        item["pixel_values"],
        processor.image_processor(images=[images(2)[1]], return_tensors="pt")["pixel_values"][0],
    )


# ----------------------------------------------------------------------------- image aspect ratio


@pytest.mark.parametrize("size", [(40, 24), (24, 41), (32, 32)])
def test_pad_to_square_centres_the_image_on_the_mean_colour(size):
    """LLaVA's expand2square: side = longer side, offset (long - short) // 2, background the
    processor mean x 255 truncated."""
    import numpy as np
    from PIL import Image

    from mof_models.data import mean_colour, pad_to_square

    class Processor:
        image_mean = (0.48145466, 0.4578275, 0.40821073)

    colour = mean_colour(Processor)
    assert colour == (122, 116, 104)
    width, height = size
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    side = max(size)
    expected = np.empty((side, side, 3), dtype=np.uint8)
    expected[:] = colour
    top, left = (side - height) // 2, (side - width) // 2
    expected[top : top + height, left : left + width] = pixels
    padded = pad_to_square(Image.fromarray(pixels), colour)
    assert np.array_equal(np.asarray(padded), expected)


def test_pad_option_feeds_the_padded_image_to_the_processor(processor, tmp_path):
    from PIL import Image

    from mof_models.data import mean_colour, pad_to_square

    wide = Image.new("RGB", (64, 32), (250, 10, 10))
    wide.save(tmp_path / "a.png")
    record_ = record("<image>\nQ", "A", image="a.png")
    by_mode = {
        mode: build_dataset(
            [record_], processor, image_folder=tmp_path, conversation_format="chat",
            max_length=256, image_aspect_ratio=mode,
        )[0]["pixel_values"]
        for mode in ("crop", "pad")
    }  # fmt: skip
    image_processor = processor.image_processor
    padded = pad_to_square(wide, mean_colour(image_processor))
    expected = image_processor(images=[padded], return_tensors="pt")["pixel_values"][0]
    assert torch.equal(by_mode["pad"], expected)
    assert not torch.allclose(by_mode["pad"], by_mode["crop"])  # crop sees only the red middle
    with pytest.raises(ValueError, match="image_aspect_ratio must be one of"):
        build_dataset(
            [record_], processor, image_folder=tmp_path, conversation_format="chat",
            max_length=256, image_aspect_ratio="square",
        )  # fmt: skip


def test_paper_stage_2_configs_pad_images_and_stage_1_crops():
    from mof_models.train_config import PACKAGE_DIR, ConfigError, load_config

    configs = sorted((PACKAGE_DIR / "configs").glob("[!_]*.yaml"))
    ratios = {p.stem: load_config(p).data.image_aspect_ratio for p in configs}
    stage2 = {name for name in ratios if "stage2" in name}
    assert stage2 >= {"imof224_stage2", "imof336_stage2", "imof224_stage2_lora"}
    assert {ratios[name] for name in stage2} == {"pad"}
    assert {ratios[name] for name in ratios if "stage1" in name} == {"crop"}
    with pytest.raises(ConfigError, match="data.image_aspect_ratio must be crop or pad"):
        load_config(configs[0], {"data.image_aspect_ratio": "square"})
