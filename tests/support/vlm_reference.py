"""Reference for MMVP-VLM scoring: tiny random CLIPs and a re-implementation of the original
evaluate_vlm.py per-pair loop, used by tests/test_clip_adapter.py and
benchmarks/bench_vlm_scoring.py.

:func:`original_pair_loop` follows the paper's script: per pair, both images preprocessed by
OpenAI clip's transform (:func:`openai_clip_transform`, built with torchvision as ``clip.load``
builds it), then two forward calls (one per statement, padded to 77 tokens), each re-encoding
both images.
:func:`batched_pattern_scores` is the ``mmvp_clip`` adapter's code path.
"""

from __future__ import annotations

import csv
from pathlib import Path

from mmvp_tasks.patterns import PATTERNS
from mmvp_tasks.vlm_data import IMAGES_DIR

CORPUS = "a photo of an arrow pointing to the left right up down red blue green circle square "


def build_tokenizer(max_length: int = 77):
    """A byte-level BPE trained on a few words, adding BOS/EOS like CLIP's tokenizer (offline)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<pad>", "<s>", "</s>"]  # EOS id 3: CLIP pools at the first EOS token
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator([CORPUS] * 4, trainer)
    bpe.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 2), ("</s>", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        model_max_length=max_length,
    )


def build_clip(*, vit_b16: bool, text_layers: int = 12, seed: int = 0):
    """A random ``CLIPModel`` + image processor + tokenizer: ViT-B/16-sized or tiny (32 px)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    tokenizer = build_tokenizer(77 if vit_b16 else 64)
    ids = {"bos_token_id": 2, "eos_token_id": 3, "pad_token_id": 1}
    if vit_b16:
        vision = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                      num_attention_heads=12, image_size=224, patch_size=16)  # fmt: skip
        text = dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=text_layers,
                    num_attention_heads=8, max_position_embeddings=77)  # fmt: skip
        projection_dim = 512
    else:
        vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, image_size=32, patch_size=8)  # fmt: skip
        text = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                    num_attention_heads=2, max_position_embeddings=64)  # fmt: skip
        projection_dim = 16
    config = CLIPConfig(
        text_config={**text, **ids, "vocab_size": len(tokenizer)},
        vision_config=vision,
        projection_dim=projection_dim,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    size = vision["image_size"]
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}
    )
    return model, image_processor, tokenizer


def openai_clip_transform(n_px: int):
    """OpenAI clip's ``_transform(n_px)`` (clip/clip.py), the preprocessing of evaluate_vlm.py:
    torchvision's Resize (bicubic, short side), CenterCrop, RGB, ToTensor, Normalize."""
    from torchvision.transforms import (
        CenterCrop,
        Compose,
        InterpolationMode,
        Normalize,
        Resize,
        ToTensor,
    )

    return Compose(
        [
            Resize(n_px, interpolation=InterpolationMode.BICUBIC),
            CenterCrop(n_px),
            lambda image: image.convert("RGB"),
            ToTensor(),
            Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
        ]
    )


# ----------------------------------------------------------------------------- the two scorers


def batched_logits(encoder, documents, batch_size: int) -> list[float]:
    """The mmvp_clip adapter's code path: each distinct image and statement encoded once."""
    from PIL import Image

    from mmvp_tasks.vlm_scoring import statement_text
    from model_adapters.clip import image_text_logits

    pairs = (
        (Image.open(d["image"]).convert("RGB"), statement_text(d["Statement"])) for d in documents
    )
    return image_text_logits(encoder, pairs, batch_size)


def batched_pattern_scores(
    model, image_processor, tokenizer, data_dir, batch_size: int, preprocess: str = "auto"
):
    """``(per-pattern scores, records)`` through the adapter's code path and the task's scoring."""
    from mmvp_tasks import vlm_scoring
    from mmvp_tasks.vlm_data import read_statements, scoring_documents
    from model_adapters.clip import TransformersEncoder

    encoder = TransformersEncoder(model, image_processor, tokenizer, preprocess)
    documents = scoring_documents(read_statements(data_dir))
    logits = batched_logits(encoder, documents, batch_size)
    records = [vlm_scoring.make_record(d, s) for d, s in zip(documents, logits, strict=True)]
    return vlm_scoring.pattern_scores(records), records


def read_rows(data_dir) -> list[list[str]]:
    with (Path(data_dir) / "Questions.csv").open(newline="") as f:
        return list(csv.reader(f))[1:]


def original_choices(model, tokenizer, data_dir, rows, max_length: int = 77):
    """evaluate_vlm.py's per-pair loop, re-implemented: ``{Question ID: chosen image slot}``.

    Consecutive rows form a pair; both images load from the first row's Type folder and go
    through OpenAI clip's transform at the model's input size; two forward calls per pair, one
    per statement (padded to ``max_length``, no attention mask), each re-encoding both images;
    P(image 1) is the softmax of ``logits_per_text``; image 1 iff P > 0.5.
    """
    import torch
    from PIL import Image

    preprocess = openai_clip_transform(model.config.vision_config.image_size)
    chosen: dict[int, int] = {}
    for first, second in zip(rows[0::2], rows[1::2], strict=True):
        folder = Path(data_dir) / IMAGES_DIR / first[1]
        images = [Image.open(folder / f"{row[0]}.jpg") for row in (first, second)]
        pixel_values = torch.stack([preprocess(image) for image in images])
        for row in (first, second):
            input_ids = tokenizer(
                "a photo of " + row[2],
                truncation=True,
                max_length=max_length,
                padding="max_length",
                return_tensors="pt",
            )["input_ids"]
            with torch.no_grad():
                output = model(input_ids=input_ids, pixel_values=pixel_values)
            prob_first = output["logits_per_text"].softmax(dim=-1)[0, 0]
            chosen[int(row[0])] = 1 if prob_first > 0.5 else 2
    return chosen


def original_tally(rows, chosen: dict[int, int]) -> dict[str, float]:
    """evaluate_vlm.py's scores: pattern by row order (``pairs // 15``), pair right iff both
    statements pick their own image (odd ID: image 1), correct pairs / 15 x 100."""
    correct = [0] * len(PATTERNS)
    pairs = list(zip(rows[0::2], rows[1::2], strict=True))
    for number, pair in enumerate(pairs):
        truth = [1 if int(row[0]) % 2 else 2 for row in pair]
        correct[number // 15] += [chosen[int(row[0])] for row in pair] == truth
    per_pattern = len(pairs) // len(PATTERNS)
    return {p.code: (c / per_pattern) * 100 for p, c in zip(PATTERNS, correct, strict=True)}


def original_pair_loop(model, tokenizer, data_dir, max_length: int = 77):
    """The whole original evaluation: ``(per-pattern scores, {Question ID: chosen image slot})``."""
    rows = read_rows(data_dir)
    chosen = original_choices(model, tokenizer, data_dir, rows, max_length)
    return original_tally(rows, chosen), chosen
