"""The mmvp_clip / mmvp_open_clip adapters on tiny random encoders built from configs.

The scoring path is checked against a straightforward re-implementation of the original per-pair
loop (``original_pair_loop`` in tests/support/vlm_reference.py, with OpenAI clip's transform
built from torchvision; benchmarks/bench_vlm_scoring.py times the two): identical per-pattern
numbers and per-statement choices on the synthetic set, ties included, and on a non-square copy
whose sizes hit the crop-rounding case.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from lmms_mmvp.demo import lmms_eval_command
from mmvp_tasks import vlm_scoring
from mmvp_tasks.patterns import PATTERNS
from mmvp_tasks.vlm_data import read_statements, scoring_documents
from model_adapters.clip import (
    ClipAdapter,
    OpenClipAdapter,
    TransformersEncoder,
    image_text_logits,
)
from tests.support import vlm_reference as ref
from tests.support.cli import run_evaluation

TINY_TEXT_LENGTH = 64  # max_position_embeddings of the tiny text towers


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: one thread avoids OpenMP hand-offs that dominate on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_clip_parts():
    """``(CLIPModel, image processor, tokenizer)``: 32 px images, hidden 32, random weights."""
    return ref.build_clip(vit_b16=False)


@pytest.fixture(scope="module")
def tiny_clip_dir(tiny_clip_parts, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny_clip")
    for part in tiny_clip_parts:
        part.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_siglip_dir(tmp_path_factory) -> Path:
    """A random SiglipModel with a non-trivial logit scale and bias (both init to 0)."""
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    tokenizer = ref.build_tokenizer(max_length=TINY_TEXT_LENGTH)
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    config = SiglipConfig(
        text_config={
            **small,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": TINY_TEXT_LENGTH,
            **{"bos_token_id": 2, "eos_token_id": 3, "pad_token_id": 1},
        },
        vision_config={**small, "image_size": 32, "patch_size": 8},
    )
    torch.manual_seed(0)
    model = SiglipModel(config).eval()
    with torch.no_grad():
        model.logit_scale.fill_(math.log(10.0))
        model.logit_bias.fill_(-3.0)
    out = tmp_path_factory.mktemp("tiny_siglip")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def _open_clip_config(sigmoid: bool) -> dict:
    config = {
        "embed_dim": 16,
        "vision_cfg": {
            "image_size": 32,
            "layers": 2,
            "width": 32,
            "patch_size": 8,
            "head_width": 16,
        },
        "text_cfg": {
            "context_length": 32,
            "vocab_size": 49408,
            "width": 32,
            "heads": 2,
            "layers": 2,
        },
    }
    if sigmoid:  # SigLIP-style: learned bias, bidirectional text tower pooled at the last token
        config["init_logit_bias"] = -10.0
        config["text_cfg"] |= {"no_causal_mask": True, "pool_type": "last"}
    return config


@pytest.fixture(scope="module", params=[False, True], ids=["clip", "sigmoid"])
def open_clip_dir(request, tmp_path_factory) -> Path:
    """An open_clip ``local-dir:`` checkpoint: config + random weights (OpenAI BPE tokenizer)."""
    import open_clip
    from safetensors.torch import save_file

    out = tmp_path_factory.mktemp("open_clip")
    config = {"model_cfg": _open_clip_config(request.param), "preprocess_cfg": {}}
    (out / "open_clip_config.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    model = open_clip.create_model(f"local-dir:{out}", load_weights=False)
    save_file(model.state_dict(), out / "open_clip_model.safetensors")
    return out


@pytest.fixture(scope="module")
def clip_adapter(tiny_clip_dir):
    return ClipAdapter(pretrained=str(tiny_clip_dir), device="cpu", batch_size=16)


@pytest.fixture(scope="module")
def documents(synthetic_data):
    return scoring_documents(read_statements(synthetic_data.mmvp_vlm_dir))


def _open_rgb(doc):
    return [Image.open(doc["image"]).convert("RGB")]


def _score(adapter, documents) -> list[float]:
    """Run the adapter's loglikelihood on mmvp_vlm-style requests for ``documents``."""
    adapter.task_dict = {"mmvp_vlm": {"test": documents}}
    target = lambda doc: vlm_scoring.statement_text(doc["Statement"])  # noqa: E731
    requests = [
        SimpleNamespace(args=("", target, _open_rgb, i, "mmvp_vlm", "test"))
        for i in range(len(documents))
    ]
    scores = adapter.loglikelihood(requests)
    assert all(isinstance(s, float) and greedy is False for s, greedy in scores)
    return [s for s, _ in scores]


def _forward_logits(model, image_processor, tokenizer, documents, padding="max_length"):
    """``logits_per_text`` of the model's own forward, one statement against its pair's images."""
    expected = []
    for first, second in zip(documents[0::2], documents[1::2], strict=True):
        images = _open_rgb(first) + _open_rgb(second)
        pixel_values = image_processor(images=images, return_tensors="pt")["pixel_values"]
        input_ids = tokenizer(
            vlm_scoring.statement_text(first["Statement"]),
            padding=padding,
            truncation=True,
            max_length=TINY_TEXT_LENGTH,
            return_tensors="pt",
        )["input_ids"]
        with torch.no_grad():
            expected += model(input_ids=input_ids, pixel_values=pixel_values)["logits_per_text"][
                0
            ].tolist()
    return expected


# ----------------------------------------------------------------------------- transformers


def test_clip_scores_are_the_models_logits(clip_adapter, documents):
    docs = documents[:12] + documents[-8:]
    encoder = clip_adapter.encoder
    expected = _forward_logits(encoder.model, encoder.image_processor, encoder.tokenizer, docs)
    assert _score(clip_adapter, docs) == pytest.approx(expected, abs=1e-5)


def test_each_distinct_image_and_text_is_encoded_once(clip_adapter, documents):
    encoder, seen = clip_adapter.encoder, {"images": [], "texts": []}

    class Counting:
        logit_scale, logit_bias, device = encoder.logit_scale, encoder.logit_bias, encoder.device

        def encode_images(self, images):
            seen["images"].append(len(images))
            return encoder.encode_images(images)

        def encode_texts(self, texts):
            seen["texts"].append(len(texts))
            return encoder.encode_texts(texts)

    pairs = [(_open_rgb(d)[0], vlm_scoring.statement_text(d["Statement"])) for d in documents]
    logits = image_text_logits(Counting(), pairs, batch_size=64)
    assert len(logits) == 540
    distinct_texts = len({text for _, text in pairs})  # templates repeat some statements
    assert sum(seen["images"]) == 270 and sum(seen["texts"]) == distinct_texts < 270
    assert seen["images"] == [64, 64, 64, 64, 14]  # batched
    # the adapter batches by 16: other batch shapes, last-bit differences
    assert _score(clip_adapter, documents) == pytest.approx(logits, abs=1e-5)


def test_batched_scoring_equals_the_original_pair_loop(tiny_clip_parts, synthetic_data):
    model, _, tokenizer = tiny_clip_parts
    data_dir = synthetic_data.mmvp_vlm_dir
    batched, records = ref.batched_pattern_scores(*tiny_clip_parts, data_dir, batch_size=32)
    original, chosen = ref.original_pair_loop(model, tokenizer, data_dir, TINY_TEXT_LENGTH)
    assert batched == original
    assert _choices(records) == chosen
    assert 0 < sum(batched.values()) < 900  # a random model: some pairs right, not all


def test_ties_pick_image_2_in_both_implementations(tiny_clip_parts, synthetic_data, tmp_path):
    """Pairs whose two images are identical: every statement ties (P = 0.5) and picks image 2."""
    model, _, tokenizer = tiny_clip_parts
    data_dir = Path(shutil.copytree(synthetic_data.mmvp_vlm_dir, tmp_path / "mmvp_vlm"))
    tied = [p for p in PATTERNS if p.code in ("ca", "tx")]
    for k, pattern in enumerate(PATTERNS):
        if pattern in tied:
            folder = data_dir / "MLLM_VLM Images" / pattern.vlm_type
            for odd in range(30 * k + 1, 30 * k + 30, 2):
                shutil.copy(folder / f"{odd}.jpg", folder / f"{odd + 1}.jpg")
    batched, records = ref.batched_pattern_scores(*tiny_clip_parts, data_dir, batch_size=32)
    original, chosen = ref.original_pair_loop(model, tokenizer, data_dir, TINY_TEXT_LENGTH)
    assert batched == original
    assert _choices(records) == chosen
    tied_ids = {r["question_id"] for r in records if r["pattern"] in {p.code for p in tied}}
    assert len(tied_ids) == 60 and all(chosen[i] == 2 for i in tied_ids)
    assert all(batched[p.code] == 0.0 for p in tied)


# Non-square sizes whose resized long side L gives (L - 32) % 4 == 3 for 32 px models: OpenAI's
# crop offset rounds (L - 32) / 2 up, a truncating one does not (78x64 -> 39x32, 64x86 -> 32x43).
ROUNDING_SIZES = ((78, 64), (64, 86), (142, 128), (100, 50))


@pytest.fixture(scope="module")
def non_square_vlm_dir(synthetic_data, tmp_path_factory) -> Path:
    """The synthetic MMVP-VLM set with every image stretched to one of ``ROUNDING_SIZES``."""
    out = tmp_path_factory.mktemp("non_square") / "mmvp_vlm"
    data_dir = Path(shutil.copytree(synthetic_data.mmvp_vlm_dir, out))
    paths = sorted((data_dir / "MLLM_VLM Images").rglob("*.jpg"))
    for n, path in enumerate(paths):
        size = ROUNDING_SIZES[n % len(ROUNDING_SIZES)]
        Image.open(path).convert("RGB").resize(size, Image.Resampling.BILINEAR).save(path)
    return data_dir


@pytest.mark.parametrize("size", [*ROUNDING_SIZES, (32, 32), (64, 64), (33, 90), (47, 31)])
@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_openai_preprocessing_is_clips_transform_pixel_for_pixel(size, mode):
    """Against torchvision's Compose as OpenAI clip builds it; the transformers processor
    truncates the crop offset and moves the crop one pixel on the rounding sizes."""
    from transformers import CLIPImageProcessor

    from model_adapters.clip import OpenAIClipPreprocess

    torch.manual_seed(sum(size))
    array = torch.randint(0, 256, (size[1], size[0], 4), dtype=torch.uint8).numpy()
    image = Image.fromarray(array, "RGBA").convert(mode)
    original = ref.openai_clip_transform(32)(image)
    ours = OpenAIClipPreprocess(32)(images=[image])["pixel_values"][0]
    assert ours.dtype == original.dtype == torch.float32 and torch.equal(ours, original)
    if size in ROUNDING_SIZES and mode == "RGB":
        processor = CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        )
        theirs = processor(images=[image], return_tensors="pt")["pixel_values"][0]
        assert not torch.allclose(theirs, original, atol=1e-2)


def test_clip_models_default_to_openai_preprocessing(tiny_clip_parts, tiny_siglip_dir):
    from transformers import AutoImageProcessor, AutoModel

    from model_adapters.clip import OpenAIClipPreprocess

    model, processor, tokenizer = tiny_clip_parts
    default = TransformersEncoder(model, processor, tokenizer)
    assert isinstance(default.image_processor, OpenAIClipPreprocess)
    assert default.image_processor.n_px == 32
    own = TransformersEncoder(model, processor, tokenizer, preprocess="processor")
    assert own.image_processor is processor
    siglip = AutoModel.from_pretrained(tiny_siglip_dir)
    siglip_processor = AutoImageProcessor.from_pretrained(tiny_siglip_dir)
    encoder = TransformersEncoder(siglip, siglip_processor, tokenizer)
    assert encoder.image_processor is siglip_processor  # SigLIP keeps its own
    with pytest.raises(ValueError, match="preprocess=openai is OpenAI CLIP's transform"):
        TransformersEncoder(siglip, siglip_processor, tokenizer, preprocess="openai")
    with pytest.raises(ValueError, match="preprocess must be one of"):
        TransformersEncoder(model, processor, tokenizer, preprocess="torchvision")


def test_non_square_images_score_as_the_original_pair_loop(tiny_clip_parts, non_square_vlm_dir):
    """Identical choices and per-pattern numbers with OpenAI's transform (the default); the
    checkpoint's processor would change some choices on these images."""
    model, processor, tokenizer = tiny_clip_parts
    data_dir = non_square_vlm_dir
    batched, records = ref.batched_pattern_scores(*tiny_clip_parts, data_dir, batch_size=32)
    original, chosen = ref.original_pair_loop(model, tokenizer, data_dir, TINY_TEXT_LENGTH)
    assert batched == original
    assert _choices(records) == chosen
    _, own = ref.batched_pattern_scores(
        *tiny_clip_parts, data_dir, batch_size=32, preprocess="processor"
    )
    flipped = sum(chosen[i] != c for i, c in _choices(own).items())
    assert flipped > 0  # the processor's crop moves one pixel on every image here


def _choices(records) -> dict[int, int]:
    by_statement: dict[int, dict[int, float]] = {}
    for r in records:
        by_statement.setdefault(r["question_id"], {})[r["image_slot"]] = r["match_score"]
    return {i: vlm_scoring.chosen_image(s[1], s[2]) for i, s in by_statement.items()}


def test_siglip_scores_are_its_sigmoid_logits(tiny_siglip_dir, documents):
    adapter = ClipAdapter(pretrained=str(tiny_siglip_dir), device="cpu", batch_size=16)
    encoder = adapter.encoder
    assert type(encoder.model).__name__ == "SiglipModel"
    assert encoder.logit_bias.item() == -3.0 and encoder.logit_scale.item() == pytest.approx(10)
    docs = documents[:8] + documents[300:308]
    # SigLIP's own forward, fed as the original scripts feed it: fixed-length ids, no mask
    expected = _forward_logits(encoder.model, encoder.image_processor, encoder.tokenizer, docs)
    assert _score(adapter, docs) == pytest.approx(expected, abs=1e-5)


def test_a_model_without_both_towers_is_refused():
    from transformers import CLIPVisionConfig, CLIPVisionModel

    config = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2
    )
    model = CLIPVisionModel(config)
    with pytest.raises(ValueError, match="CLIPVisionModel is not an image-text dual encoder"):
        TransformersEncoder(model, None, ref.build_tokenizer())


def test_generation_is_refused_clearly(clip_adapter):
    with pytest.raises(NotImplementedError, match="image-text encoder; it can only run loglik"):
        clip_adapter.generate_until([])


def test_a_request_must_carry_exactly_one_image(clip_adapter, documents):
    clip_adapter.task_dict = {"t": {"test": documents}}
    request = SimpleNamespace(args=("", "a photo of x", lambda d: [], 0, "t", "test"))
    with pytest.raises(ValueError, match="one image per request; t doc 0 has 0"):
        clip_adapter.loglikelihood([request])


# ----------------------------------------------------------------------------- open_clip


def test_open_clip_scores_are_the_models_logits(open_clip_dir, documents):
    adapter = OpenClipAdapter(model_name=f"local-dir:{open_clip_dir}", device="cpu", batch_size=8)
    encoder, docs = adapter.encoder, documents[:8] + documents[520:]
    expected = []
    for first, second in zip(docs[0::2], docs[1::2], strict=True):
        images = torch.stack([encoder.preprocess(_open_rgb(d)[0]) for d in (first, second)])
        text = encoder.tokenizer([vlm_scoring.statement_text(first["Statement"])])
        with torch.no_grad():
            expected += encoder.model.get_logits(images, text)[1][0].tolist()
    assert _score(adapter, docs) == pytest.approx(expected, abs=1e-5)
    sigmoid = encoder.model.logit_bias is not None
    assert sigmoid == (encoder.logit_bias is not None)


def test_open_clip_builds_architectures_by_name(open_clip_dir, documents):
    """A registered architecture name with ``pretrained=None`` (random) or a weights file."""
    import open_clip

    name = f"mmvp-test-{open_clip_dir.name}"
    config = json.loads((open_clip_dir / "open_clip_config.json").read_text())["model_cfg"]
    (open_clip_dir / "by_name").mkdir(exist_ok=True)
    (open_clip_dir / "by_name" / f"{name}.json").write_text(json.dumps(config))
    open_clip.add_model_config(open_clip_dir / "by_name")

    weights = str(open_clip_dir / "open_clip_model.safetensors")
    by_file = OpenClipAdapter(model_name=name, pretrained=weights, device="cpu", batch_size=8)
    local = OpenClipAdapter(model_name=f"local-dir:{open_clip_dir}", device="cpu", batch_size=8)
    random_init = OpenClipAdapter(model_name=name, pretrained=None, device="cpu", batch_size=8)
    docs = documents[:8]
    assert _score(by_file, docs) == pytest.approx(_score(local, docs), abs=1e-6)
    assert len(_score(random_init, docs)) == 8


# ----------------------------------------------------------------------------- real CLI


@pytest.mark.slow
def test_lmms_eval_cli_scores_mmvp_vlm_with_mmvp_clip(tiny_clip_dir, synthetic_data, tmp_path):
    """``lmms-eval --model mmvp_clip --tasks mmvp_vlm`` on the synthetic set; the results file is
    checked (the CLI exits 0 even when an evaluation fails)."""
    from model_adapters.manifests import MODELS

    assert "mmvp_clip" in MODELS, "mmvp_clip is not registered in model_adapters/manifests.py"
    env = {**os.environ, "MMVP_VLM_DATA_DIR": str(synthetic_data.mmvp_vlm_dir)}
    env["HF_HUB_OFFLINE"] = "1"
    command = lmms_eval_command(tiny_clip_dir, "mmvp_vlm", tmp_path, limit=None, model="mmvp_clip")
    data, path, log = run_evaluation(command, tmp_path, env=env, timeout=600)
    scores = data["results"]["mmvp_vlm"]
    assert scores["mmvp_vlm_scored_pairs,none"] == 135, log[-3000:]
    assert scores["mmvp_vlm_incomplete_pairs,none"] == 0
    per_pattern = [scores[f"mmvp_vlm_{p.slug},none"] for p in PATTERNS]
    assert all(
        0 <= s <= 100 and (s * 15 / 100) == pytest.approx(round(s * 15 / 100)) for s in per_pattern
    )
    assert scores["mmvp_vlm_average,none"] == pytest.approx(sum(per_pattern) / 9)

    (samples_file,) = path.parent.glob("*_samples_mmvp_vlm.jsonl")
    samples = [json.loads(line) for line in samples_file.read_text().splitlines()]
    assert len(samples) == 540
    records = [s["mmvp_vlm_average"] for s in samples]
    assert vlm_scoring.pattern_scores(records) == {
        p.code: v for p, v in zip(PATTERNS, per_pattern, strict=True)
    }
    assert samples[0]["target"].startswith("a photo of ")
