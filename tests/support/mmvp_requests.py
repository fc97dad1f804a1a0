"""Real MMVP prompts with the synthetic set's images as lmms-eval requests, for the benchmarks."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace


def mmvp_requests(n: int, data_dir: Path):
    """``n`` MMVP prompts (distinct) with synthetic images, in both lmms-eval argument layouts."""
    from PIL import Image

    from mmvp_tasks.answers import parse_options
    from mmvp_tasks.data import read_questions
    from mmvp_tasks.prompts import LETTER_POST_PROMPT, choice_prompt
    from mmvp_tasks.synth import ensure_synthetic_data

    questions = read_questions(ensure_synthetic_data(data_dir).mmvp_dir)[:n]
    docs = [{"image": Image.open(q.image_path).convert("RGB")} for q in questions]
    prompts = [
        f"[{q.index}] "
        + choice_prompt(q.question, parse_options(q.options), post_prompt=LETTER_POST_PROMPT)
        for q in questions
    ]
    gen = {"max_new_tokens": 16, "temperature": 0, "do_sample": False}

    def doc_to_visual(doc):
        return [doc["image"]]

    def messages_for(prompt):
        def doc_to_messages(doc):
            content = [{"type": "image", "url": doc["image"]}, {"type": "text", "text": prompt}]
            return [{"role": "user", "content": content}]

        return doc_to_messages

    simple = [SimpleNamespace(args=(p, dict(gen), doc_to_visual, i, "mmvp", "test"))
              for i, p in enumerate(prompts)]  # fmt: skip
    chat = [SimpleNamespace(args=(p, messages_for(p), dict(gen), i, "mmvp", "test"))
            for i, p in enumerate(prompts)]  # fmt: skip
    return simple, chat, {"mmvp": {"test": docs}}
