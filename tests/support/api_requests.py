"""lmms-eval-shaped requests for the API adapter tests, and a driver run as a separate process
for the kill-and-resume test:
``python -m tests.support.api_requests openai|gemini|anthropic BASE_URL CACHE_DIR N``.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

from PIL import Image

GEN_KWARGS = {"max_new_tokens": 16, "temperature": 0, "do_sample": False, "until": ["\n\n"]}


def prompt(i: int) -> str:
    return f"Question {i}: is the arrow pointing up or down?\nA. Up\nB. Down"


def make_requests(n: int, gen_kwargs: dict | None = None):
    """``n`` generate_until requests (simple-model argument layout) and their task_dict."""
    docs = [{"image": Image.new("RGB", (24, 24), (i % 256, 100, 200))} for i in range(n)]

    def doc_to_visual(doc):
        return [doc["image"]]

    requests = [
        SimpleNamespace(
            args=(prompt(i), dict(gen_kwargs or GEN_KWARGS), doc_to_visual, i, "t", "s")
        )
        for i in range(n)
    ]
    return requests, {"t": {"s": docs}}


def build_adapter(kind: str, base_url: str, cache_dir: str, **args):
    if kind == "openai":
        from model_adapters.openai_chat import OpenAIChatAdapter

        return OpenAIChatAdapter(model="gpt-4o", base_url=base_url, cache_dir=cache_dir, **args)
    if kind == "gemini":
        from model_adapters.gemini import GeminiAdapter

        return GeminiAdapter(
            model="gemini-2.5-flash", base_url=base_url, cache_dir=cache_dir, **args
        )
    from model_adapters.anthropic_messages import AnthropicMessagesAdapter

    return AnthropicMessagesAdapter(
        model="claude-sonnet-5-5", base_url=base_url, cache_dir=cache_dir, **args
    )


def main(kind: str, base_url: str, cache_dir: str, n: str) -> None:
    adapter = build_adapter(kind, base_url, cache_dir, concurrency=4, backoff_s=0.05)
    requests, adapter.task_dict = make_requests(int(n))
    adapter.generate_until(requests)


if __name__ == "__main__":
    main(*sys.argv[1:])
