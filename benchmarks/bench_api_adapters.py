"""Wall time of API adapters on MMVP requests against one loopback OpenAI-protocol server.

    python benchmarks/bench_api_adapters.py                    # 300 requests, 1 s latency, limit 16
    python benchmarks/bench_api_adapters.py --gpt4v-requests 60  # time gpt4v on a subset, scaled

The server (tests/fake_api.py, 127.0.0.1) answers every request after ``--latency`` seconds and
processes at most ``--server-limit`` requests at once (the rest wait, as at a real provider). The
requests are real MMVP prompts with the images of the synthetic set. Compared in one run:

- ``mmvp_openai`` (this package): concurrency 16, cache off so every request is sent;
- lmms-eval's built-in ``openai`` chat adapter, default settings;
- lmms-eval's built-in ``gpt4v`` adapter (sequential);
- ``mmvp_openai`` again with 10 % of requests answered 429 (``Retry-After: 1``) once.

The floor is ``requests x latency / server limit``. Goals: ``mmvp_openai`` within 1.3x of the floor
and at least 5x faster than ``gpt4v``; within 2x of the floor with the 429s.
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

from tests.support.fake_api import FakeAPIServer, completion  # noqa: E402
from tests.support.mmvp_requests import mmvp_requests  # noqa: E402

KEY = "sk-benchmark-not-a-real-key"


def make_server(latency: float, limit: int, rate_limited_fraction: float) -> FakeAPIServer:
    slots = threading.Semaphore(limit)
    seen: set[str] = set()
    lock = threading.Lock()

    def respond(path, body):
        content = body["messages"][-1]["content"]
        if isinstance(content, list):
            content = next(c["text"] for c in content if c.get("type") == "text")
        text = content
        digest = int(hashlib.sha256(text.encode()).hexdigest(), 16)
        with lock:
            first_time = text not in seen
            seen.add(text)
        if first_time and (digest % 1000) < rate_limited_fraction * 1000:
            return 429, {"error": {"message": "rate limited"}}, {"Retry-After": "1"}
        with slots:  # the server's concurrency limit
            time.sleep(latency)
        return 200, completion("B"), None

    return FakeAPIServer(respond)


def timed(adapter, requests, task_dict) -> float:
    adapter.task_dict = task_dict
    started = time.perf_counter()
    responses = adapter.generate_until(requests)
    elapsed = time.perf_counter() - started
    texts = [getattr(r, "text", r) for r in responses]
    assert len(texts) == len(requests) and all(t == "B" for t in texts), texts[:3]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--server-limit", type=int, default=16)
    parser.add_argument("--gpt4v-requests", type=int, default=300, help="subset, scaled up")
    args = parser.parse_args()

    os.environ["OPENAI_API_KEY"] = KEY
    work = Path(tempfile.mkdtemp(prefix="bench_api_"))
    simple, chat, task_dict = mmvp_requests(args.requests, work / "data")
    # Import every adapter before timing: lmms-eval's start-up is not part of any request.
    from lmms_eval.models.chat.openai import OpenAICompatible
    from lmms_eval.models.simple.gpt4v import GPT4V

    from model_adapters.openai_chat import OpenAIChatAdapter

    floor = args.requests * args.latency / args.server_limit
    rows = []

    with make_server(args.latency, args.server_limit, 0.0) as server:
        os.environ["OPENAI_BASE_URL"] = server.base_url  # gpt4v's SDK client reads it

        ours = OpenAIChatAdapter(model="gpt-4o", base_url=server.base_url, use_cache=False)
        rows.append(("mmvp_openai (concurrency 16)", timed(ours, simple, task_dict), args.requests))
        builtin = OpenAICompatible(model_version="gpt-4o", base_url=server.base_url, api_key=KEY)
        rows.append(("lmms-eval openai (defaults)", timed(builtin, chat, task_dict), args.requests))
        subset = simple[: args.gpt4v_requests]
        gpt4v_time = timed(GPT4V(model_version="gpt-4o", modality="image"), subset, task_dict)
        rows.append(("lmms-eval gpt4v", gpt4v_time * args.requests / len(subset), len(subset)))

    with make_server(args.latency, args.server_limit, 0.10) as server:
        ours = OpenAIChatAdapter(model="gpt-4o", base_url=server.base_url, use_cache=False)
        elapsed = timed(ours, simple, task_dict)
        rows.append(("mmvp_openai, 10% answered 429 once", elapsed, args.requests))

    ours_time = rows[0][1]
    print(f"\n{args.requests} requests, {args.latency:.1f} s latency, server limit "
          f"{args.server_limit}; floor {floor:.1f} s\n")  # fmt: skip
    print(f"{'adapter':40s} {'wall s':>8s} {'x floor':>8s} {'x mmvp_openai':>14s}  measured on")
    for name, seconds, measured in rows:
        print(f"{name:40s} {seconds:8.1f} {seconds / floor:8.2f} {seconds / ours_time:14.2f}"
              f"  {measured} requests")  # fmt: skip


if __name__ == "__main__":
    main()
