"""The two kinds of tokenizer the tests run with, trained on the spot (~10 ms each).

* ``byte_level``: the tiny flavour's byte-level BPE (:func:`mof_models.tiny.build_tokenizer`);
  it adds no special tokens, so BOS comes only from the chat template.
* ``metaspace``: behaves like Llama/Vicuna/LLaVA's ``LlamaTokenizerFast``: SentencePiece-style
  ``▁`` word starts (Metaspace, prepended to the first piece only) and a post-processor that
  ADDS BOS. Tokenizing conversation segments one by one differs from tokenizing the whole text
  here (a segment start gains ``▁``), and a rendered template that writes BOS gets a second one.
"""

from __future__ import annotations

import string

from mof_models.tiny import SPECIAL_TOKENS, TOKENIZER_CORPUS, build_tokenizer, wrap_tokenizer


def build_metaspace_tokenizer(vocab_size: int = 400, *, image_token_attribute: bool = True):
    """A Llama-like BPE: Metaspace pre-tokenizer/decoder, BOS added to every encoding,
    left-padded, with the ``<image>`` token (``image_token_attribute`` as in build_tokenizer)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    bpe.decoder = decoders.Metaspace(prepend_scheme="first")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=list(string.printable),  # any ASCII text, no <unk>
    )
    bpe.train_from_iterator([TOKENIZER_CORPUS] * 4, trainer)
    bos = ("<s>", bpe.token_to_id("<s>"))
    # LlamaTokenizerFast's post-processor (add_bos_token=True, add_eos_token=False)
    bpe.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[bos]
    )
    return wrap_tokenizer(bpe, image_token_attribute=image_token_attribute)


TOKENIZERS = {"byte_level": build_tokenizer, "metaspace": build_metaspace_tokenizer}


def build_named_tokenizer(name: str, **kwargs):
    """One of :data:`TOKENIZERS` by name (test ids and checkpoint markers use the names)."""
    return TOKENIZERS[name](**kwargs)
