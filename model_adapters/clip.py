"""``mmvp_clip`` and ``mmvp_open_clip``: image-text encoders (CLIP, SigLIP, DFN, MetaCLIP, EVA-CLIP)
on ``loglikelihood`` tasks such as ``mmvp_vlm``.

    lmms-eval --model mmvp_clip --model_args pretrained=openai/clip-vit-large-patch14 \
        --tasks mmvp_vlm --batch_size 32
    lmms-eval --model mmvp_clip \
        --model_args pretrained=openai/clip-vit-large-patch14,preprocess=processor ...
    lmms-eval --model mmvp_clip --model_args pretrained=google/siglip-so400m-patch14-384 ...
    lmms-eval --model mmvp_open_clip --model_args model_name=ViT-H-14-quickgelu,pretrained=dfn5b ...
    lmms-eval --model mmvp_open_clip \
        --model_args model_name=EVA02-E-14-plus,pretrained=laion2b_s9b_b144k ...

``mmvp_clip`` loads any transformers dual encoder through ``AutoModel`` (the class follows the
config's ``model_type``: ``CLIPModel``, ``SiglipModel``, ...) with ``get_image_features``,
``get_text_features`` and ``logit_scale`` (and ``logit_bias`` for sigmoid models).
CLIP checkpoints see images as OpenAI's ``clip`` package prepares them, pixel for pixel (what the
paper's evaluate_vlm.py used): ``preprocess=processor`` uses the checkpoint's own image
processor instead, which places the center crop one pixel off on some non-square images (it
truncates the crop offset; OpenAI's transform rounds it). Other model types always use their own
processor (``preprocess=auto``, the default, picks).
``mmvp_open_clip`` loads open_clip models by architecture name and pretrained tag or file
(``open_clip.list_pretrained()``), or ``hf-hub:org/repo`` / ``local-dir:/path`` names.

Each request is an (image, text) combination; its "log-likelihood" is the image-text logit,
``logit_scale.exp() * cos(image, text)`` (``+ logit_bias`` for SigLIP), the quantity the original
evaluate_vlm.py softmaxes over a pair's two images. Every distinct image (by pixel content) and
every distinct text is encoded once per call, in batches of ``--batch_size``; the original encodes
each image twice and one statement per model call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np
import torch
from lmms_eval.api.model import lmms
from loguru import logger
from tqdm import tqdm

from model_adapters.hf_generation import resolve_device, resolve_dtype
from model_adapters.lmms_requests import loglikelihood_request
from mof_models.configuration_mof import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD  # clip's _transform

# Text inputs by model_type: (padding, pass the attention mask). Like the original scripts, CLIP
# and SigLIP get input_ids only. CLIP's causal tower pools at the first EOS token, which trailing
# padding cannot reach, so padding to the batch's longest text is exact (and cheaper); SigLIP pools
# the last position and was trained on fixed-length, unmasked padding. Other towers: fixed length,
# with the tokenizer's attention mask.
_TEXT_INPUTS = {
    "clip": ("longest", False),
    "siglip": ("max_length", False),
    "siglip2": ("max_length", False),
}
_DEFAULT_TEXT_INPUTS = ("max_length", True)
PREPROCESSING = ("auto", "openai", "processor")
_OPEN_CLIP_PRECISION = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


class ImageTextEncoder(Protocol):
    """What the scorer needs from a backend; embeddings are L2-normalised float32 rows."""

    logit_scale: torch.Tensor  # exp of the learned log scale
    logit_bias: torch.Tensor | None  # sigmoid-trained models only
    device: torch.device

    def encode_images(self, images: Sequence) -> torch.Tensor: ...  # (n_images, embed_dim)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor: ...  # (n_texts, embed_dim)


# ----------------------------------------------------------------------------- scoring


def image_text_logits(
    encoder: ImageTextEncoder, pairs: Iterable[tuple], batch_size: int, progress: bool = False
) -> list[float]:
    """The logit of every ``(PIL image, text)`` pair, encoding each distinct image and text once."""
    image_rows: dict[bytes, int] = {}
    unique_images, text_rows, pair_rows = [], {}, []
    for image, text in pairs:
        key = _image_key(image)
        if key not in image_rows:
            image_rows[key] = len(unique_images)
            unique_images.append(image)
        text_rows.setdefault(text, len(text_rows))
        pair_rows.append((image_rows[key], text_rows[text]))
    if not pair_rows:
        return []
    image_embeds = _encode(encoder.encode_images, unique_images, batch_size, progress, "images")
    text_embeds = _encode(encoder.encode_texts, list(text_rows), batch_size, progress, "texts")
    image_index, text_index = (torch.tensor(rows) for rows in zip(*pair_rows, strict=True))
    # same quantity as CLIPModel's logits_per_text: (text . image) * logit_scale.exp()
    logits = (text_embeds[text_index] * image_embeds[image_index]).sum(-1) * encoder.logit_scale
    if encoder.logit_bias is not None:
        logits = logits + encoder.logit_bias
    return logits.tolist()


def _image_key(image) -> bytes:
    """Identity of an image by content: the same picture decoded twice is encoded once."""
    digest = hashlib.blake2b(image.tobytes(), digest_size=16)
    digest.update(f"{image.mode}{image.size}".encode())
    return digest.digest()


def _encode(encode, items: list, batch_size: int, progress: bool, what: str) -> torch.Tensor:
    batches = range(0, len(items), batch_size)
    with torch.inference_mode():
        chunks = [
            encode(items[start : start + batch_size])
            for start in tqdm(batches, desc=f"Encoding {what}", disable=not progress)
        ]
    return torch.cat(chunks).cpu()


def _normalised(embeds: torch.Tensor) -> torch.Tensor:
    embeds = embeds.float()
    return embeds / embeds.norm(p=2, dim=-1, keepdim=True)


# ----------------------------------------------------------------------------- preprocessing


class OpenAIClipPreprocess:
    """OpenAI ``clip``'s image transform for ``n_px`` inputs, pixel for pixel, with PIL and torch.

    ``clip.load``'s ``preprocess`` is torchvision's ``Resize(n_px, BICUBIC)``, ``CenterCrop(n_px)``,
    RGB conversion, ``ToTensor``, ``Normalize`` on a PIL image: the short side is resized to
    ``n_px`` with PIL bicubic (long side ``int(n_px * long / short)``), the crop offset is
    ``int(round((side - n_px) / 2.0))`` (Python's round: halves go to even), values ``/ 255`` in
    float32, then ``(x - mean) / std``. Called like a transformers image processor.
    """

    def __init__(self, n_px: int) -> None:
        self.n_px = n_px
        self._mean = torch.tensor(OPENAI_CLIP_MEAN).view(3, 1, 1)
        self._std = torch.tensor(OPENAI_CLIP_STD).view(3, 1, 1)

    def __call__(self, images, return_tensors: str = "pt") -> dict:
        return {"pixel_values": torch.stack([self.pixel_values(image) for image in images])}

    def pixel_values(self, image) -> torch.Tensor:
        """``(3, n_px, n_px)`` float32 for one PIL image."""
        image = _center_crop(_resize_short_side(image, self.n_px), self.n_px).convert("RGB")
        pixels = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)
        return (pixels.float().div(255) - self._mean) / self._std


def _resize_short_side(image, size: int):
    from PIL import Image

    width, height = image.size
    short, long = min(width, height), max(width, height)
    new_long = int(size * long / short)
    new_size = (size, new_long) if width <= height else (new_long, size)
    if new_size == image.size:
        return image
    return image.resize(new_size, Image.Resampling.BICUBIC)


def _center_crop(image, size: int):
    width, height = image.size
    top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def image_preprocessor(model, image_processor, preprocess: str = "auto"):
    """What turns PIL images into ``pixel_values`` for ``model``: OpenAI's transform for CLIP
    (``auto`` or ``openai``) or the checkpoint's processor (``processor``; other model types)."""
    if preprocess not in PREPROCESSING:
        raise ValueError(f"preprocess must be one of {PREPROCESSING}, got {preprocess!r}")
    is_clip = model.config.model_type == "clip"
    if preprocess == "openai" and not is_clip:
        raise ValueError(
            f"preprocess=openai is OpenAI CLIP's transform; {model.config.model_type} models use "
            "their own processor (preprocess=processor or auto)"
        )
    if preprocess == "processor" or not is_clip:
        return image_processor
    mean = tuple(getattr(image_processor, "image_mean", None) or OPENAI_CLIP_MEAN)
    if mean != OPENAI_CLIP_MEAN:
        logger.warning(
            f"mmvp_clip: the checkpoint's processor normalises with mean {mean}, OpenAI's "
            "transform with CLIP's own; use preprocess=processor if that is intended"
        )
    return OpenAIClipPreprocess(model.config.vision_config.image_size)


# ----------------------------------------------------------------------------- backends


class TransformersEncoder:
    """A transformers dual encoder (``CLIPModel``, ``SiglipModel``, ...) with its processors;
    ``preprocess`` picks the image transform (:func:`image_preprocessor`)."""

    def __init__(self, model, image_processor, tokenizer, preprocess: str = "auto") -> None:
        missing = [
            name
            for name in ("get_image_features", "get_text_features", "logit_scale")
            if not hasattr(model, name)
        ]
        if missing:
            raise ValueError(
                f"{type(model).__name__} is not an image-text dual encoder (it lacks "
                f"{', '.join(missing)}); mmvp_clip needs a CLIP-style model such as CLIPModel "
                "or SiglipModel"
            )
        self.model, self.tokenizer = model.eval(), tokenizer
        self.image_processor = image_preprocessor(model, image_processor, preprocess)
        self.device = model.device
        with torch.no_grad():
            self.logit_scale = model.logit_scale.detach().float().exp().cpu()
            bias = getattr(model, "logit_bias", None)
            self.logit_bias = None if bias is None else bias.detach().float().cpu()
        self._padding, self._with_mask = _TEXT_INPUTS.get(
            model.config.model_type, _DEFAULT_TEXT_INPUTS
        )
        self._max_length = min(
            tokenizer.model_max_length, model.config.text_config.max_position_embeddings
        )

    @classmethod
    def from_pretrained(
        cls, pretrained: str, *, device, dtype, preprocess: str = "auto", **kwargs
    ) -> TransformersEncoder:
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        model = AutoModel.from_pretrained(pretrained, dtype=dtype, **kwargs).to(device)
        return cls(
            model,
            AutoImageProcessor.from_pretrained(pretrained, **kwargs),
            AutoTokenizer.from_pretrained(pretrained, **kwargs),
            preprocess,
        )

    def encode_images(self, images: Sequence) -> torch.Tensor:
        inputs = self.image_processor(images=list(images), return_tensors="pt")
        inputs = {
            k: v.to(self.device, self.model.dtype if v.is_floating_point() else None)
            for k, v in inputs.items()
        }
        return _normalised(_pooled(self.model.get_image_features(**inputs)))

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        tokens = self.tokenizer(
            list(texts),
            padding=self._padding,
            truncation=True,
            max_length=self._max_length,
            return_tensors="pt",
        )
        inputs = {"input_ids": tokens["input_ids"].to(self.device)}
        if self._with_mask and "attention_mask" in tokens:
            inputs["attention_mask"] = tokens["attention_mask"].to(self.device)
        return _normalised(_pooled(self.model.get_text_features(**inputs)))


def _pooled(output) -> torch.Tensor:
    """transformers 5 returns the projected embedding as ``pooler_output``; older ones a tensor."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class OpenClipEncoder:
    """An open_clip model (OpenAI, LAION, DFN, MetaCLIP, EVA-CLIP, SigLIP) with its transforms."""

    def __init__(self, model, preprocess, tokenizer) -> None:
        self.model, self.preprocess, self.tokenizer = model.eval(), preprocess, tokenizer
        self.device = model.logit_scale.device
        self._dtype = next(model.visual.parameters()).dtype
        with torch.no_grad():
            self.logit_scale = model.logit_scale.detach().float().exp().cpu()
            bias = model.logit_bias
            self.logit_bias = None if bias is None else bias.detach().float().cpu()

    @classmethod
    def create(cls, model_name: str, pretrained: str | None, *, device, dtype) -> OpenClipEncoder:
        import open_clip

        if dtype not in _OPEN_CLIP_PRECISION:
            raise ValueError(f"open_clip runs in {list(_OPEN_CLIP_PRECISION)}, not {dtype}")
        if str(pretrained).lower() in ("", "none"):  # "pretrained=none" in --model_args
            pretrained = None
        if not pretrained and not model_name.startswith(("hf-hub:", "local-dir:")):
            logger.warning(f"mmvp_open_clip: {model_name} without pretrained weights: random init")
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name, pretrained=pretrained, device=device, precision=_OPEN_CLIP_PRECISION[dtype]
        )
        return cls(model, preprocess, open_clip.get_tokenizer(model_name))

    def encode_images(self, images: Sequence) -> torch.Tensor:
        pixel_values = torch.stack([self.preprocess(image) for image in images])
        return _normalised(self.model.encode_image(pixel_values.to(self.device, self._dtype)))

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return _normalised(self.model.encode_text(self.tokenizer(list(texts)).to(self.device)))


# ----------------------------------------------------------------------------- lmms-eval


class ImageTextEncoderAdapter(lmms):
    """lmms-eval model around an :class:`ImageTextEncoder`: scores, never generates."""

    def __init__(self, encoder: ImageTextEncoder, name: str, batch_size: int | str = 1) -> None:
        super().__init__()
        self.encoder, self.name = encoder, name
        self.batch_size_per_process = int(batch_size)

    @property
    def batch_size(self):
        return self.batch_size_per_process

    @property
    def device(self):
        return self.encoder.device

    def loglikelihood(self, requests) -> list[tuple[float, bool]]:
        pairs = (self._image_and_text(request.args) for request in requests)
        logits = image_text_logits(
            self.encoder, pairs, self.batch_size_per_process, progress=self.rank == 0
        )
        return [(logit, False) for logit in logits]  # "greedy" has no meaning for an encoder

    def generate_until(self, requests):
        raise NotImplementedError(self._only_scores())

    def generate_until_multi_round(self, requests):
        raise NotImplementedError(self._only_scores())

    def _only_scores(self) -> str:
        return (
            f"{self.name} is an image-text encoder; it can only run loglikelihood tasks such as "
            "mmvp_vlm, not generation tasks such as mmvp"
        )

    def _image_and_text(self, args: tuple) -> tuple:
        request = loglikelihood_request(args, self.task_dict)
        if len(request.images) != 1:
            raise ValueError(
                f"{self.name} scores one image per request; {request.task} doc {request.doc_id} "
                f"has {len(request.images)}"
            )
        # An encoder has no "given": it scores the whole text (mmvp_vlm's context is empty).
        return request.images[0], request.context + request.continuation


class ClipAdapter(ImageTextEncoderAdapter):
    """``mmvp_clip``: transformers dual encoders (CLIP, SigLIP, ...) through ``AutoModel``."""

    def __init__(
        self,
        pretrained: str = "openai/clip-vit-large-patch14",
        revision: str = "main",
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int | str = 1,
        trust_remote_code: bool = False,
        preprocess: str = "auto",  # auto | openai (CLIP only) | processor
    ) -> None:
        torch_device = resolve_device(device)
        encoder = TransformersEncoder.from_pretrained(
            pretrained,
            device=torch_device,
            dtype=resolve_dtype(dtype, torch_device),
            preprocess=preprocess,
            revision=revision,
            trust_remote_code=trust_remote_code,
        )
        super().__init__(encoder, f"mmvp_clip ({pretrained})", batch_size)
        logger.info(
            f"mmvp_clip: {pretrained} on {torch_device}, dtype {encoder.model.dtype}, images "
            f"by {type(encoder.image_processor).__name__}"
        )


class OpenClipAdapter(ImageTextEncoderAdapter):
    """``mmvp_open_clip``: open_clip models by name and pretrained tag (or hf-hub:/local-dir:)."""

    def __init__(
        self,
        model_name: str = "ViT-L-14-quickgelu",  # OpenAI's weights need their QuickGELU
        pretrained: str | None = "openai",
        device: str = "auto",
        dtype: str = "float32",
        batch_size: int | str = 1,
    ) -> None:
        torch_device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, torch_device)
        if torch_dtype == "auto":  # open_clip checkpoints carry no dtype: keep full precision
            torch_dtype = torch.float32
        encoder = OpenClipEncoder.create(
            model_name, pretrained, device=torch_device, dtype=torch_dtype
        )
        super().__init__(encoder, f"mmvp_open_clip ({model_name}, {pretrained})", batch_size)
        logger.info(f"mmvp_open_clip: {model_name} ({pretrained}) on {torch_device}, {torch_dtype}")
