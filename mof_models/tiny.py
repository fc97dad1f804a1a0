"""The tiny MoF flavour: random checkpoints built from configs, for tests, the debug config
and the demo (which trains one: ``lmms_mmvp.demo.train_tiny_checkpoint``).

Same code paths as real checkpoints (``save_pretrained`` / Auto classes), small random weights:
CLIP 32-wide and DINOv2 48-wide (32 for ``additive``, which needs equal widths), 2 layers each,
32 px images in 8 px patches (16 tokens per encoder), a 2-layer Llama of width 128 (head_dim 64,
as vLLM's CPU attention kernels need), and a byte-level BPE tokenizer trained on the spot.
"""

from __future__ import annotations

import json
from pathlib import Path

from mof_models.processing_mof import IMAGE_TOKEN, LLAVA_CHAT_TEMPLATE

_MARKER = "tiny_mof_checkpoint.json"
PATCH = 8
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", IMAGE_TOKEN]
TOKENIZER_CORPUS = (  # the tiny tokenizers' training text
    "USER: ASSISTANT: Answer with the option's letter from the given choices directly. "
    "A. B. (a) (b) (1) (2) Yes No Left Right Open Closed Red Blue One More than one The answer is "
    "Is the arrow pointing up or down? Which side is the circle on? What colour is the square? "
)


def build_tokenizer(vocab_size: int = 400, *, image_token_attribute: bool = True, corpus: str = ""):
    """A byte-level BPE trained on a small built-in corpus plus ``corpus`` (e.g. the training
    prompts, so that their words become single tokens), left-padded, with the ``<image>`` token.

    ``image_token_attribute=False`` leaves out the tokenizer's ``image_token`` attribute (the token
    stays in the vocabulary): InstructBLIP's processor sets its own and fails on a string one.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator([TOKENIZER_CORPUS] * 4 + corpus.splitlines(), trainer)
    return wrap_tokenizer(bpe, image_token_attribute=image_token_attribute)


def wrap_tokenizer(bpe, *, image_token_attribute: bool = True):
    """A trained ``tokenizers.Tokenizer`` with :data:`SPECIAL_TOKENS` as a left-padding
    ``PreTrainedTokenizerFast`` (``padding_side`` given here: set later, it is not saved)."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        padding_side="left",
        **({"extra_special_tokens": {"image_token": IMAGE_TOKEN}} if image_token_attribute else {}),
    )


def tiny_mof_config(mixing: str = "interleave", *, image_size: int = 32, tokenizer=None, **kw):
    """A valid tiny ``MofConfig``; ``kw`` overrides top-level fields (``alpha``, ...)."""
    from transformers import CLIPVisionConfig, Dinov2Config, LlamaConfig

    from mof_models.configuration_mof import CLIP_MIXINGS, DINO_MIXINGS, MofConfig

    tokenizer = tokenizer or build_tokenizer()
    clip = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        image_size=image_size, patch_size=PATCH, projection_dim=32,
    )  # fmt: skip
    dino = Dinov2Config(
        hidden_size=32 if mixing == "additive" else 48, num_hidden_layers=2,
        num_attention_heads=2, mlp_ratio=2, image_size=image_size, patch_size=PATCH,
    )  # fmt: skip
    text = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, head_dim=64, max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False,
    )  # fmt: skip
    return MofConfig(
        clip_config=clip if mixing in CLIP_MIXINGS else None,
        dino_config=dino if mixing in DINO_MIXINGS else None,
        text_config=text,
        mixing=mixing,
        image_size=image_size,
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        **kw,
    )


def tiny_mof_processor(config, tokenizer=None):
    from transformers import CLIPImageProcessor

    from mof_models.processing_mof import MofProcessor

    size = config.image_size
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": size},
        crop_size={"height": size, "width": size},
        image_mean=list(config.image_mean),
        image_std=list(config.image_std),
    )
    return MofProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer or build_tokenizer(),
        num_image_tokens=config.num_image_tokens,
        chat_template=LLAVA_CHAT_TEMPLATE,
    )


def build_tiny_mof(
    mixing: str = "interleave",
    *,
    seed: int = 0,
    image_size: int = 32,
    tokenizer=None,
    tokenizer_corpus: str | None = None,
    vocab_size: int = 400,
    **kw,
):
    """``(model, processor)``: a random tiny MoF model (eval mode) and its processor;
    ``tokenizer`` defaults to :func:`build_tokenizer`'s, trained with ``vocab_size`` entries and
    the text file ``tokenizer_corpus`` when given."""
    import torch

    from mof_models.modeling_mof import MofForConditionalGeneration

    if tokenizer is None:
        corpus = Path(tokenizer_corpus).read_text(encoding="utf-8") if tokenizer_corpus else ""
        tokenizer = build_tokenizer(vocab_size, corpus=corpus)
    config = tiny_mof_config(mixing, image_size=image_size, tokenizer=tokenizer, **kw)
    torch.manual_seed(seed)
    model = MofForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tiny_mof_processor(config, tokenizer)


def save_tiny_mof(out_dir: str | Path, mixing: str = "interleave", *, seed: int = 0) -> Path:
    """Save a tiny MoF checkpoint to ``out_dir`` (reused when already complete)."""
    out_dir = Path(out_dir)
    settings = {"kind": "mof", "mixing": mixing, "seed": seed}
    marker = out_dir / _MARKER
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return out_dir
    model, processor = build_tiny_mof(mixing, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    marker.write_text(json.dumps(settings))  # last: marks the directory complete
    return out_dir
