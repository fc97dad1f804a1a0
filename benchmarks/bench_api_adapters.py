"""Wall time and calls per document of the API adapters on MMVP requests, against loopback servers.

    python benchmarks/bench_api_adapters.py                    # 300 requests, 1 s latency, limit 16
    python benchmarks/bench_api_adapters.py --gpt4v-requests 60  # time gpt4v on a subset, scaled

Each server (tests/support/fake_api.py, 127.0.0.1) speaks one provider's protocol (Anthropic's
also validates requests as the Messages API does), answers every request after ``--latency``
seconds and processes at most ``--server-limit`` requests at once (the rest wait, as at a real
provider). The requests are real MMVP prompts with the images of the synthetic set. Compared in
one run:

- ``mmvp_openai``, ``mmvp_gemini``, ``mmvp_anthropic`` (this package): concurrency 16, cache off
  so every request is sent, each against a server speaking its provider's protocol;
- the same three with 10 % of requests answered 429 once (``Retry-After: 1``), and
  ``mmvp_anthropic`` with 10 % answered 529 (overloaded, no ``Retry-After``: its own backoff);
- lmms-eval's built-in ``openai`` chat adapter, default settings, and ``gpt4v`` (sequential).

The floor is ``requests x latency / server limit``; calls/doc counts the HTTP requests the server
saw per document. Goals: each of ours within 1.3x of the floor at 1.00 call per document and at
least 5x faster than ``gpt4v``; within 2x of the floor with the 429s / 529s (1.10 calls/doc).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.fake_api import (  # noqa: E402
    answer_body,
    anthropic_error,
    fake_server,
    prompt_text,
)
from tests.support.mmvp_requests import mmvp_requests  # noqa: E402

KEY = "sk-benchmark-not-a-real-key"
MODELS = {"openai": "gpt-4o", "gemini": "gemini-2.5-flash", "anthropic": "claude-sonnet-5-5"}


def make_server(kind: str, latency: float, limit: int, busy_fraction: float, status: int = 429):
    """A ``kind`` server; ``busy_fraction`` of the documents get ``status`` on their first try
    (429 with ``Retry-After: 1``; 529 without)."""
    slots = threading.Semaphore(limit)
    seen: set[str] = set()
    lock = threading.Lock()
    retry_after = {"Retry-After": "1"} if status == 429 else None

    def respond(path, body):
        text = prompt_text(kind, body)
        digest = int(hashlib.sha256(text.encode()).hexdigest(), 16)
        with lock:
            first_time = text not in seen
            seen.add(text)
        if first_time and (digest % 1000) < busy_fraction * 1000:
            if kind == "anthropic":
                error = "rate_limit_error" if status == 429 else "overloaded_error"
                return anthropic_error(status, error, "busy", retry_after)
            return status, {"error": {"code": status, "message": "busy"}}, retry_after
        with slots:  # the server's concurrency limit
            time.sleep(latency)
        return 200, answer_body(kind, "B"), None

    return fake_server(kind, respond, key=KEY)


def our_adapter(kind: str, server):
    from model_adapters.anthropic_messages import AnthropicMessagesAdapter
    from model_adapters.gemini import GeminiAdapter
    from model_adapters.openai_chat import OpenAIChatAdapter

    adapter = {"openai": OpenAIChatAdapter, "gemini": GeminiAdapter,
               "anthropic": AnthropicMessagesAdapter}[kind]  # fmt: skip
    return adapter(model=MODELS[kind], base_url=server.url_for(kind), use_cache=False)


def timed(adapter, requests, task_dict, server) -> tuple[float, float]:
    """(wall seconds, HTTP calls per document) of one ``generate_until`` over ``requests``."""
    adapter.task_dict = task_dict
    calls_before = len(server.requests)
    started = time.perf_counter()
    responses = adapter.generate_until(requests)
    elapsed = time.perf_counter() - started
    texts = [getattr(r, "text", r) for r in responses]
    assert len(texts) == len(requests) and all(t == "B" for t in texts), texts[:3]
    return elapsed, (len(server.requests) - calls_before) / len(requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--server-limit", type=int, default=16)
    parser.add_argument("--gpt4v-requests", type=int, default=300, help="subset, scaled up")
    args = parser.parse_args()

    for name in ("OPENAI", "GEMINI", "ANTHROPIC"):
        os.environ[f"{name}_API_KEY"] = KEY
    work = Path(tempfile.mkdtemp(prefix="bench_api_"))
    simple, chat, task_dict = mmvp_requests(args.requests, work / "data")
    # Import every adapter before timing: lmms-eval's start-up is not part of any request.
    from lmms_eval.models.chat.openai import OpenAICompatible
    from lmms_eval.models.simple.gpt4v import GPT4V

    floor = args.requests * args.latency / args.server_limit
    rows = []  # (name, seconds, calls per document, documents measured)

    def measure(name, kind, busy_fraction=0.0, status=429, make=None, subset=None):
        with make_server(kind, args.latency, args.server_limit, busy_fraction, status) as server:
            adapter = (make or our_adapter)(kind, server)
            requests = subset or (chat if make is builtin_openai else simple)
            seconds, calls = timed(adapter, requests, task_dict, server)
        rows.append((name, seconds * args.requests / len(requests), calls, len(requests)))

    def builtin_openai(kind, server):
        return OpenAICompatible(model_version="gpt-4o", base_url=server.base_url, api_key=KEY)

    def gpt4v(kind, server):
        os.environ["OPENAI_BASE_URL"] = server.base_url  # gpt4v's SDK client reads it
        return GPT4V(model_version="gpt-4o", modality="image")

    for kind in MODELS:
        measure(f"mmvp_{kind} (concurrency 16)", kind)
    for kind in MODELS:
        measure(f"mmvp_{kind}, 10% answered 429 once", kind, 0.10)
    measure("mmvp_anthropic, 10% answered 529 once", "anthropic", 0.10, status=529)
    measure("lmms-eval openai (defaults)", "openai", make=builtin_openai)
    measure("lmms-eval gpt4v", "openai", make=gpt4v, subset=simple[: args.gpt4v_requests])

    ours_time = rows[0][1]
    print(f"\n{args.requests} requests, {args.latency:.1f} s latency, server limit "
          f"{args.server_limit}; floor {floor:.1f} s\n")  # fmt: skip
    print(f"{'adapter':40s} {'wall s':>8s} {'x floor':>8s} {'calls/doc':>10s} "
          f"{'x mmvp_openai':>14s}  measured on")  # fmt: skip
    for name, seconds, calls, measured in rows:
        print(f"{name:40s} {seconds:8.1f} {seconds / floor:8.2f} {calls:10.2f} "
              f"{seconds / ours_time:14.2f}  {measured} requests")  # fmt: skip


if __name__ == "__main__":
    main()
