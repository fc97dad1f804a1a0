"""The OpenAI, Gemini and Anthropic adapters against real loopback servers speaking their
protocols (Anthropic-only behaviour: tests/test_anthropic_adapter.py)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from mmvp_tasks import request_engine
from mmvp_tasks.markers import is_failed_response, is_refused_response
from mmvp_tasks.request_engine import EngineSettings, RetryableError, backoff_delay
from tests.support.api_requests import build_adapter, make_requests, prompt
from tests.support.fake_api import (
    KINDS,
    FakeAPIServer,
    answer_body,
    completion,
    fake_server,
    gemini_reply,
    prompt_text,
)

KEY = "test-secret-0123456789-abcdefABCDEF"  # must never appear in any file written
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def api_keys(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)


def run(kind, server, tmp_path, n=12, **args):
    adapter = build_adapter(kind, server.url_for(kind), str(tmp_path / "cache"), **args)
    requests, adapter.task_dict = make_requests(n)
    return adapter, adapter.generate_until(requests)


@pytest.mark.parametrize("kind", KINDS)
def test_every_document_answered_once_when_the_server_recovers(kind, tmp_path):
    seen = Counter()
    lock = threading.Lock()

    def respond(path, body):
        text = prompt_text(kind, body)
        with lock:
            seen[text] += 1
            attempt = seen[text]
        if attempt == 1:
            return 429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}
        if attempt == 2:
            return 500, {"error": {"message": "boom"}}, None
        return 200, answer_body(kind, f"B for {text[:11]}"), None

    with fake_server(kind, respond) as server:
        adapter, responses = run(kind, server, tmp_path, backoff_s=0.01, concurrency=4)
    assert responses == [f"B for {prompt(i)[:11]}" for i in range(12)]
    assert set(seen.values()) == {3}  # bounded: exactly the failures plus one success each
    assert server.max_in_flight <= 4
    assert adapter.totals["answered"] == 12 and adapter.totals["failed"] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_lasting_failures_are_reported_and_never_cached(kind, tmp_path):
    def respond(path, body):
        if prompt_text(kind, body).startswith("Question 3:"):
            return 503, {"error": {"message": "unavailable"}}, None
        return 200, answer_body(kind, "A"), None

    with fake_server(kind, respond) as server:
        adapter, responses = run(kind, server, tmp_path, max_retries=2, backoff_s=0.01)
        assert is_failed_response(responses[3]) and "503" in responses[3]
        assert all(r == "A" for i, r in enumerate(responses) if i != 3)
        assert len(server.requests) == 11 + 3  # 3 attempts for the failing one, 1 for the rest
        assert adapter.totals["failed"] == 1
        _, again = run(kind, server, tmp_path, max_retries=0)
    assert len(server.requests) == 14 + 1  # the re-run asks only for the failed document
    assert again[:3] == ["A"] * 3


@pytest.mark.parametrize("kind", KINDS)
def test_a_rerun_costs_nothing(kind, tmp_path):
    with fake_server(kind, lambda path, body: (200, answer_body(kind, "B"), None)) as server:
        _, first = run(kind, server, tmp_path)
        adapter, second = run(kind, server, tmp_path)
    assert first == second == ["B"] * 12
    assert len(server.requests) == 12
    assert adapter.totals["cached"] == 12 and adapter.totals["in"] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_full_run_after_a_limited_one_asks_only_for_the_rest(kind, tmp_path):
    """``--limit 5`` first, then the whole task: the first five come from the cache."""
    with fake_server(kind, lambda path, body: (200, answer_body(kind, "B"), None)) as server:
        run(kind, server, tmp_path, n=5)
        adapter, responses = run(kind, server, tmp_path, n=12)
    assert responses == ["B"] * 12
    assert sorted(prompt_text(kind, b) for b in server.requests[5:]) == sorted(
        prompt(i) for i in range(5, 12)
    )
    assert adapter.totals["cached"] == 5 and adapter.totals["answered"] == 7


@pytest.mark.parametrize("kind", KINDS)
def test_timeouts_are_applied_and_retried(kind, tmp_path):
    calls = Counter()

    def respond(path, body):
        text = prompt_text(kind, body)
        calls[text] += 1
        if calls[text] == 1:
            time.sleep(1.5)  # beyond the 0.3 s client timeout
        return 200, answer_body(kind, "A"), None

    with fake_server(kind, respond) as server:
        _, responses = run(kind, server, tmp_path, n=3, timeout=0.3, backoff_s=0.01)
    assert responses == ["A"] * 3
    assert set(calls.values()) == {2}


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_json_is_retried(kind, tmp_path):
    calls = Counter()

    def respond(path, body):
        calls[prompt_text(kind, body)] += 1
        if calls[prompt_text(kind, body)] == 1:
            return 200, "{not json", None
        return 200, answer_body(kind, "B"), None

    with fake_server(kind, respond) as server:
        _, responses = run(kind, server, tmp_path, n=4, backoff_s=0.01)
    assert responses == ["B"] * 4


def test_openai_refusals_are_reported_as_refusals(tmp_path):
    def respond(path, body):
        if prompt_text("openai", body).startswith("Question 1:"):
            return 200, completion(None, refusal="I can't help with that."), None
        return 200, completion(""), None  # an empty answer is an answer (it will be unparseable)

    with FakeAPIServer(respond) as server:
        adapter, responses = run("openai", server, tmp_path, n=3)
    assert is_refused_response(responses[1])
    assert responses[0] == responses[2] == ""
    assert adapter.totals["refused"] == 1


@pytest.mark.parametrize(
    "body", [gemini_reply(None, block="SAFETY"), gemini_reply("partial", finish_reason="SAFETY")]
)
def test_gemini_safety_blocks_are_refusals(body, tmp_path):
    with FakeAPIServer(lambda path, b: (200, body, None)) as server:
        adapter, responses = run("gemini", server, tmp_path, n=2)
    assert all(is_refused_response(r) for r in responses)
    assert adapter.totals["refused"] == 2 and adapter.totals["failed"] == 0


def test_openai_request_shape(tmp_path):
    with FakeAPIServer(lambda path, body: (200, completion("A"), None)) as server:
        run("openai", server, tmp_path, n=1, detail="high")
    (body,) = server.requests
    assert server.paths == ["/v1/chat/completions"]
    image, text = body["messages"][0]["content"]
    assert image["image_url"]["url"].startswith("data:image/png;base64,")
    assert image["image_url"]["detail"] == "high"
    assert text == {"type": "text", "text": prompt(0)}
    assert body["max_completion_tokens"] == 16 and body["temperature"] == 0
    assert body["stop"] == ["\n\n"]
    assert server.headers[0]["authorization"] == f"Bearer {KEY}"


def test_gemini_request_shape(tmp_path):
    with FakeAPIServer(lambda path, body: (200, gemini_reply("A"), None)) as server:
        run("gemini", server, tmp_path, n=1)
    (body,) = server.requests
    assert server.paths[0].endswith("/models/gemini-2.5-flash:generateContent")
    image, text = body["contents"][0]["parts"]
    inline = image["inlineData"]
    assert inline.get("mimeType", inline.get("mime_type")) == "image/png"
    assert text == {"text": prompt(0)}
    assert body["generationConfig"]["maxOutputTokens"] == 16
    assert body["generationConfig"]["stopSequences"] == ["\n\n"]
    assert server.headers[0]["x-goog-api-key"] == KEY


def test_retry_after_is_honoured(monkeypatch):
    delays = []
    monkeypatch.setattr(request_engine, "pause", lambda seconds, stop: delays.append(seconds))
    attempts = iter([RetryableError("429", retry_after_s=7.0), None])

    def send(payload):
        if (err := next(attempts)) is not None:
            raise err
        return request_engine.Reply("ok")

    engine = request_engine.RequestEngine(EngineSettings(max_retries=3))
    assert engine.run(1, lambda i: {"p": i}, send, {"m": 1}) == [request_engine.Reply("ok")]
    assert delays == [7.0]


def test_backoff_grows_exponentially_with_jitter():
    settings = EngineSettings(backoff_s=1.0, max_backoff_s=10.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 10.0)]:
        delay = backoff_delay(attempt, settings, None)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff_delay(1, settings, 30.0) == 10.0  # Retry-After capped at max_backoff_s


def test_api_adapters_cannot_score_loglikelihood(tmp_path):
    adapter = build_adapter("openai", "http://127.0.0.1:9/v1", str(tmp_path))
    with pytest.raises(NotImplementedError, match="mmvp_vlm"):
        adapter.loglikelihood([])


def test_missing_key_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ValueError, match=r"\$OPENAI_API_KEY"):
        build_adapter("openai", "http://127.0.0.1:9/v1", str(tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_killed_run_resumes_without_repeating_answered_requests(kind, tmp_path):
    def respond(path, body):
        time.sleep(0.2)
        return 200, answer_body(kind, f"answer to {prompt_text(kind, body)[:11]}"), None

    cache_dir = tmp_path / "cache"
    n = 40
    with fake_server(kind, respond) as server:
        command = [
            sys.executable,
            "-m",
            "tests.support.api_requests",
            kind,
            server.url_for(kind),
        ]
        child = subprocess.Popen([*command, str(cache_dir), str(n)], cwd=REPO)
        deadline = time.time() + 120
        while len(server.requests) < 12 and time.time() < deadline and child.poll() is None:
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)  # a real, abrupt kill
        child.wait()
        first_run = len(server.requests)
        cached = _cached_prompts(kind, server.url_for(kind), cache_dir, n)
        assert 0 < len(cached) < n
        subprocess.run([*command, str(cache_dir), str(n)], cwd=REPO, check=True, timeout=120)
    rerun = [prompt_text(kind, b) for b in server.requests[first_run:]]
    assert not set(rerun) & cached  # nothing answered before the kill is asked again
    assert len(rerun) == n - len(cached)
    assert _cached_prompts(kind, server.url_for(kind), cache_dir, n) == {
        prompt(i) for i in range(n)
    }
    for path in tmp_path.rglob("*"):  # the key is never written anywhere
        assert not path.is_file() or KEY.encode() not in path.read_bytes()


def _cached_prompts(kind: str, url: str, cache_dir: Path, n: int) -> set[str]:
    """Prompts whose reply is in the cache (keys recomputed as the driver computed them)."""
    adapter = build_adapter(kind, url, str(cache_dir), use_cache=False)
    requests, adapter.task_dict = make_requests(n)
    with sqlite3.connect(cache_dir / "responses.sqlite") as db:
        keys = {row[0] for row in db.execute("SELECT key FROM replies")}
    return {
        prompt(i)
        for i, r in enumerate(requests)
        if request_engine.request_key(adapter.namespace, adapter.request_payload(r.args)) in keys
    }


def _open_caches(path: str, barrier) -> None:
    barrier.wait()  # every process opens the new file at the same moment, then writes
    responses = request_engine.ResponseCache(Path(path) / "responses.sqlite")
    for i in range(20):
        responses.put(f"{os.getpid()}-{i}", request_engine.Reply(text="A"))


@pytest.mark.parametrize("attempt", range(3))
def test_processes_of_one_run_open_a_new_cache_together(tmp_path, attempt):
    """The ranks of a multi-process run create the SQLite caches at once; switching a new file to
    WAL raced ("database is locked") before the file lock."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(8)
    workers = [
        context.Process(target=_open_caches, args=(str(tmp_path), barrier)) for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * 8
