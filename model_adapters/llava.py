"""``mmvp_llava``: LLaVA checkpoints in the transformers format (``llava-hf/llava-1.5-7b-hf``, ...).

    lmms-eval --model mmvp_llava --model_args pretrained=llava-hf/llava-1.5-7b-hf,dtype=float16 \
        --tasks mmvp --batch_size 8

Batched generation with left padding and the checkpoint's own chat template (``chat_template=``
overrides it). The rendered prompt gets the tokenizer's special tokens only when the template
wrote no BOS (``mof_models.processing_mof.needs_special_tokens``, as transformers' processors
decide), so Llama tokenizers never give two BOS; MoF training tokenizes the same way. Unlike
lmms-eval's ``llava_hf`` it needs no ``decord`` and batches on CPU too.
"""

from __future__ import annotations

from model_adapters.hf_generation import HFGenerativeAdapter
from mof_models.processing_mof import needs_special_tokens


class LlavaAdapter(HFGenerativeAdapter):
    def __init__(self, pretrained: str = "llava-hf/llava-1.5-7b-hf", **kwargs) -> None:
        super().__init__(pretrained, **kwargs)

    def _load(self, pretrained, *, chat_template=None, attn_implementation=None, **kwargs):
        from transformers import AutoProcessor

        model = self._load_model(pretrained, attn_implementation=attn_implementation, **kwargs)
        kwargs.pop("dtype")
        processor = AutoProcessor.from_pretrained(pretrained, **kwargs)
        processor.tokenizer.padding_side = "left"  # batched generation continues on the right
        if chat_template is not None:
            processor.chat_template = chat_template
        if not processor.chat_template:
            raise ValueError(
                f"{pretrained} has no chat template; pass one with chat_template=... in model_args"
            )
        return model, processor

    def _load_model(self, pretrained, **kwargs):
        from transformers import LlavaForConditionalGeneration

        return LlavaForConditionalGeneration.from_pretrained(pretrained, **kwargs)

    def _inputs(self, prompts, images):
        conversations = [
            [
                {
                    "role": "user",
                    "content": [*({"type": "image"} for _ in imgs), {"type": "text", "text": p}],
                }
            ]
            for p, imgs in zip(prompts, images, strict=True)
        ]
        texts = [
            self.processor.apply_chat_template(c, add_generation_prompt=True, tokenize=False)
            for c in conversations
        ]
        flat_images = [img for imgs in images for img in imgs] or None
        return self.processor(
            images=flat_images,
            text=texts,
            padding=True,
            add_special_tokens=needs_special_tokens(self.processor.tokenizer, texts[0]),
            return_tensors="pt",
        )

    def _loglikelihood_inputs(self, contexts, continuations, images):
        """The chat prompt with the images and ``context``, the continuation as the assistant's
        reply (right-padded), and each continuation's length in tokens."""
        prompts = [
            self.processor.apply_chat_template(
                [
                    {
                        "role": "user",
                        "content": [
                            *({"type": "image"} for _ in imgs),
                            {"type": "text", "text": c},
                        ],
                    }
                ],
                add_generation_prompt=True,
                tokenize=False,
            )
            for c, imgs in zip(contexts, images, strict=True)
        ]
        # The reply follows the assistant tag after a space, as the template writes replies.
        texts = [
            p + ("" if p[-1:].isspace() else " ") + c
            for p, c in zip(prompts, continuations, strict=True)
        ]
        tokenize = self.processor.tokenizer  # no image expansion: it adds the same to both
        lengths = [
            len(tokenize(t, add_special_tokens=False)["input_ids"])
            - len(tokenize(p, add_special_tokens=False)["input_ids"])
            for p, t in zip(prompts, texts, strict=True)
        ]
        flat_images = [img for imgs in images for img in imgs] or None
        inputs = self.processor(
            images=flat_images,
            text=texts,
            padding=True,
            padding_side="right",
            add_special_tokens=needs_special_tokens(self.processor.tokenizer, texts[0]),
            return_tensors="pt",
        )
        return inputs, lengths
