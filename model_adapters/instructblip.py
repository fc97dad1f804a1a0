"""``mmvp_instructblip``: InstructBLIP checkpoints in the transformers format.

    lmms-eval --model mmvp_instructblip \
        --model_args pretrained=Salesforce/instructblip-vicuna-7b,dtype=float16 --tasks mmvp

Batched generation (greedy unless the task samples) with left padding; ``dtype``/``device`` as for
every local adapter (:mod:`model_adapters.hf_generation`). The prompt goes in as written: the
processor adds the Q-Former query tokens, as the released InstructBLIP models expect.
"""

from __future__ import annotations

import torch

from model_adapters.hf_generation import HFGenerativeAdapter


class InstructBlipAdapter(HFGenerativeAdapter):
    def __init__(self, pretrained: str = "Salesforce/instructblip-vicuna-7b", **kwargs) -> None:
        super().__init__(pretrained, **kwargs)

    def _load(self, pretrained, **kwargs):
        from transformers import InstructBlipForConditionalGeneration, InstructBlipProcessor

        model = InstructBlipForConditionalGeneration.from_pretrained(pretrained, **kwargs)
        kwargs.pop("dtype")
        processor = InstructBlipProcessor.from_pretrained(pretrained, **kwargs)
        return model, processor

    def _inputs(self, prompts, images):
        """Encode each prompt alone, then pad: the processor's own batch padding would put pads
        between the image tokens and the text, and left-pad the Q-Former's text encoder, whose
        absolute positions would shift: both change the outputs."""
        if any(len(imgs) != 1 for imgs in images):
            raise ValueError("InstructBLIP takes exactly one image per prompt")
        single = [
            self.processor(images=imgs[0], text=prompt, return_tensors="pt")
            for prompt, imgs in zip(prompts, images, strict=True)
        ]
        return self._batch(single, lm_left_padded=True)

    def _loglikelihood_inputs(self, contexts, continuations, images):
        """``context + continuation`` after the query tokens, right-padded (a forward pass takes
        positions from the row start); the Q-Former reads the context as its instruction, or the
        continuation when the context is empty (mmvp_vlm), the same for both images of a pair."""
        if any(len(imgs) != 1 for imgs in images):
            raise ValueError("InstructBLIP takes exactly one image per prompt")
        single, lengths = [], []
        for context, continuation, imgs in zip(contexts, continuations, images, strict=True):
            text = f"{context} {continuation}" if context else continuation
            encoded = self.processor(images=imgs[0], text=text, return_tensors="pt")
            instruction = self.processor(
                images=imgs[0], text=context or continuation, return_tensors="pt"
            )
            encoded["qformer_input_ids"] = instruction["qformer_input_ids"]
            encoded["qformer_attention_mask"] = instruction["qformer_attention_mask"]
            single.append(encoded)
            tokenize = self.processor.tokenizer
            lengths.append(
                len(tokenize(text, add_special_tokens=False)["input_ids"])
                - (len(tokenize(context, add_special_tokens=False)["input_ids"]) if context else 0)
            )
        return self._batch(single, lm_left_padded=False), lengths

    def _batch(self, single: list, *, lm_left_padded: bool) -> dict:
        pad_id = self.processor.tokenizer.pad_token_id
        qformer_pad_id = self.processor.qformer_tokenizer.pad_token_id
        return {
            "pixel_values": torch.cat([s["pixel_values"] for s in single]),
            **_padded(single, "input_ids", "attention_mask", pad_id, left=lm_left_padded),
            **_padded(
                single, "qformer_input_ids", "qformer_attention_mask", qformer_pad_id, left=False
            ),
        }


def _padded(encodings, ids_key: str, mask_key: str, pad_id: int, *, left: bool) -> dict:
    width = max(e[ids_key].shape[1] for e in encodings)
    ids, masks = [], []
    for e in encodings:
        gap = width - e[ids_key].shape[1]
        pad = torch.full((1, gap), pad_id, dtype=e[ids_key].dtype)
        zeros = torch.zeros((1, gap), dtype=e[mask_key].dtype)
        ids.append(torch.cat([pad, e[ids_key]] if left else [e[ids_key], pad], dim=1))
        masks.append(torch.cat([zeros, e[mask_key]] if left else [e[mask_key], zeros], dim=1))
    return {ids_key: torch.cat(ids), mask_key: torch.cat(masks)}
