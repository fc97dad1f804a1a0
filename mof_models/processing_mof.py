"""Processor of the Mixture-of-Features LLaVA: one image processor, a tokenizer, a chat template.

The image processor (the CLIP tower's own, e.g. ``openai/clip-vit-large-patch14``) produces the
CLIP-normalised ``pixel_values`` that both towers consume. Every ``<image>`` in the text becomes
``num_image_tokens`` placeholder tokens (``MofConfig.num_image_tokens``: 512 for I-MoF at 224 px),
which the model replaces with image features.
"""

from __future__ import annotations

from transformers import ProcessorMixin
from transformers.processing_utils import MultiModalData

IMAGE_TOKEN = "<image>"
# Vicuna-style template of the llava-1.5 checkpoints (LLaVA's conv_vicuna_v1 turns). BOS comes
# from the template itself so that chat endpoints (which add none) and transformers see the same
# tokens; callers therefore tokenize the rendered text without special tokens
# (needs_special_tokens says so).
LLAVA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}USER: "
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<image>\n"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}{% endif %} "
    "{% else %}ASSISTANT: "
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'text' %}{{ item['text'] }}"
    "{% endif %}{% endfor %}{% endif %}{{ eos_token }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def needs_special_tokens(tokenizer, rendered: str) -> bool:
    """Whether rendered chat text is tokenized with ``add_special_tokens=True``: only when the
    template wrote no BOS (the rule of transformers' processor ``apply_chat_template``).

    Llama/Vicuna tokenizers add BOS themselves: on top of a template that writes
    ``{{ bos_token }}`` (this module's) that would make two; llava-hf's templates write none and
    rely on the tokenizer. Training and inference both follow this rule, so they see one BOS.
    """
    bos = tokenizer.bos_token
    return not (bos and rendered.startswith(bos))


class MofProcessor(ProcessorMixin):
    def __init__(
        self,
        image_processor=None,
        tokenizer=None,
        num_image_tokens: int | None = None,
        chat_template: str | None = None,
        image_token: str = IMAGE_TOKEN,
        **kwargs,
    ) -> None:
        r"""
        num_image_tokens (`int`):
            Placeholder tokens per image; take it from the model: ``config.num_image_tokens``.
        image_token (`str`, defaults to `"<image>"`):
            The placeholder; the tokenizer's ``image_token`` wins when it defines one.
        """
        if not isinstance(num_image_tokens, int) or num_image_tokens <= 0:
            raise ValueError(
                f"num_image_tokens must be a positive int (MofConfig.num_image_tokens), got "
                f"{num_image_tokens!r}"
            )
        self.num_image_tokens = num_image_tokens
        self.image_token = getattr(tokenizer, "image_token", None) or image_token
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        if self.image_token_id == tokenizer.unk_token_id:
            raise ValueError(f"the tokenizer has no {self.image_token!r} token")
        super().__init__(image_processor, tokenizer, chat_template=chat_template)

    def __call__(self, images=None, text=None, videos=None, audio=None, **kwargs):
        _check_image_count(self.image_token, images, text)
        return super().__call__(images=images, text=text, videos=videos, audio=audio, **kwargs)

    def replace_image_token(self, image_inputs: dict, image_idx: int, **kwargs) -> str:
        return self.image_token * self.num_image_tokens

    def _get_num_multimodal_tokens(self, image_sizes=None, **kwargs) -> MultiModalData:
        """Placeholder tokens per image: constant, every image is resized to ``image_size``."""
        if image_sizes is None:
            return MultiModalData()
        count = len(image_sizes)
        return MultiModalData(
            num_image_tokens=[self.num_image_tokens] * count, num_image_patches=[1] * count
        )


def _check_image_count(image_token: str, images, text) -> None:
    """One image per ``<image>`` in the text, checked here so that every transformers release
    gives this error (5.19 and 5.20 stop with a bare ``StopIteration`` instead). Text without
    images passes unchanged, as transformers passes it."""
    if text is None or images is None:
        return
    texts = [text] if isinstance(text, str) else text
    tokens = sum(t.count(image_token) for t in texts if isinstance(t, str))
    if isinstance(images, (list, tuple)):
        count = sum(len(i) if isinstance(i, (list, tuple)) else 1 for i in images)
    else:
        count = 1
    if tokens != count:
        raise ValueError(
            f"The number of {image_token} tokens in the text ({tokens}) must equal the number of "
            f"images ({count})"
        )


__all__ = ["MofProcessor", "needs_special_tokens"]
