"""``mmvp_anthropic`` against a loopback server speaking the Messages API over real HTTP.

The server validates requests as the API does (tests/support/fake_api.MessagesAPIRules): a request
the real API would reject with a 400 fails here too. Behaviour shared with the other API adapters
(retries, timeouts, cache, resume) is tested for all three in tests/test_api_adapters.py.
"""

from __future__ import annotations

import base64
import io
import threading
from collections import Counter

import numpy as np
import pytest
from loguru import logger
from PIL import Image

from mmvp_tasks import request_engine
from mmvp_tasks.markers import is_failed_response, is_refused_response
from model_adapters.anthropic_messages import MAX_IMAGE_BASE64, MAX_IMAGE_SIDE
from model_adapters.api_adapter import encode_png
from tests.support.api_requests import GEN_KWARGS, build_adapter, make_requests, prompt
from tests.support.fake_api import anthropic_error, claude_message, fake_server

KEY = "sk-ant-test-0123456789-abcdefABCDEF"


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)


def run(server, tmp_path, n=1, gen_kwargs=None, docs=None, **args):
    adapter = build_adapter("anthropic", server.url, str(tmp_path / "cache"), **args)
    requests, adapter.task_dict = make_requests(n, gen_kwargs)
    if docs is not None:
        adapter.task_dict = {"t": {"s": docs}}
    return adapter, adapter.generate_until(requests)


def answering(text="B", **fields):
    return lambda path, body: (200, claude_message(text, **fields), None)


def decoded(block: dict) -> Image.Image:
    assert block["type"] == "image" and block["source"]["media_type"] == "image/png"
    return Image.open(io.BytesIO(base64.b64decode(block["source"]["data"])))


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"extra_body": {"temperature": 0}}, "temperature: Extra inputs are not permitted"),
        ({"stop_sequences": ["\n\n"]}, "each stop sequence must contain non-whitespace"),
        ({"extra_headers": {"Authorization": "Bearer wrong"}}, "invalid x-api-key"),
    ],
    ids=["temperature", "whitespace-stop", "wrong-key"],
)
def test_the_loopback_server_rejects_what_the_api_rejects(extra, message):
    """The checks the adapter's tests rely on bite: the SDK itself, misused, gets the API's 4xx."""
    import anthropic

    with fake_server("anthropic", answering(), key=KEY) as server:
        client = anthropic.Anthropic(api_key=KEY, base_url=server.url, max_retries=0)
        request = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
        with pytest.raises(anthropic.APIStatusError, match=message):
            client.messages.create(**request, **extra)
        assert client.messages.create(**request).content[0].text == "B"


def test_request_shape_text_and_image_headers_and_no_sampling_parameters(tmp_path):
    with fake_server("anthropic", answering(), key=KEY) as server:
        adapter, responses = run(server, tmp_path)
    assert responses == ["B"]
    assert server.paths == ["/v1/messages"]
    headers = server.headers[0]
    assert headers["authorization"] == f"Bearer {KEY}"  # SDK 2.x sends the key as a bearer token
    assert headers["anthropic-version"] == "2026-10-21"  # the version the decoding notes assume
    (body,) = server.requests
    (message,) = body["messages"]
    image, text = message["content"]
    assert message["role"] == "user"
    sent = decoded(image).convert("RGB")
    original = adapter.task_dict["t"]["s"][0]["image"]
    assert sent.size == (24, 24) and sent.tobytes() == original.tobytes()  # lossless
    assert text == {"type": "text", "text": prompt(0)}
    assert body["model"] == "claude-sonnet-5-5" and body["max_tokens"] == 16
    # lmms-eval's default stop "\n\n" is whitespace-only: the API would reject it (400)
    assert "stop_sequences" not in body and "thinking" not in body
    assert not {"temperature", "top_p", "top_k"} & set(body)


def test_sampling_settings_of_a_task_are_not_sent(tmp_path):
    """mmvp_official asks for T=0.2: API version 2026-10-21 rejects any sampling parameter."""
    gen_kwargs = {**GEN_KWARGS, "temperature": 0.2, "top_p": 0.9, "max_new_tokens": 1024}
    with fake_server("anthropic", answering(), key=KEY) as server:
        _, responses = run(server, tmp_path, gen_kwargs=gen_kwargs)
    assert responses == ["B"]
    assert server.requests[0]["max_tokens"] == 1024
    assert not {"temperature", "top_p", "top_k"} & set(server.requests[0])


def test_whitespace_only_stop_strings_cut_the_reply_here(tmp_path):
    gen_kwargs = {**GEN_KWARGS, "until": ["\n\n", "Question:", " \t", ""]}
    reply = "B. Down\n\nThe arrow points down.\n\nQuestion: next"
    with fake_server("anthropic", answering(reply), key=KEY) as server:
        _, responses = run(server, tmp_path, gen_kwargs=gen_kwargs)
    assert server.requests[0]["stop_sequences"] == ["Question:"]
    assert responses == ["B. Down"]


def test_refusals_are_counted_scored_as_refusals_and_cached(tmp_path):
    refusal = {"type": "refusal", "category": "general_harms", "explanation": "Policy."}
    with fake_server("anthropic", answering("I can", stop_reason="refusal", refusal=refusal)) as s:
        adapter, responses = run(s, tmp_path, n=2)
        again, cached = run(s, tmp_path, n=2)
    assert all(is_refused_response(r) for r in responses)
    assert "general_harms" in responses[0] and "Policy." in responses[0]
    assert adapter.totals["refused"] == 2 and adapter.totals["failed"] == 0
    assert cached == responses and len(s.requests) == 2  # a refusal is an answer: cached
    assert again.totals["cached"] == 2 and again.totals["refused"] == 2


@pytest.mark.parametrize(
    "status, kind", [(429, "rate_limit_error"), (529, "overloaded_error")], ids=["429", "529"]
)
def test_rate_limits_and_overload_are_retried_after_the_servers_retry_after(
    status, kind, tmp_path, monkeypatch
):
    delays = []
    monkeypatch.setattr(request_engine, "pause", lambda seconds, stop: delays.append(seconds))
    seen = Counter()
    lock = threading.Lock()

    def respond(path, body):
        with lock:
            seen[body["messages"][0]["content"][-1]["text"]] += 1
            attempt = seen[body["messages"][0]["content"][-1]["text"]]
        if attempt == 1:
            return anthropic_error(status, kind, "slow down", {"retry-after": "7"})
        if attempt == 2:
            return anthropic_error(status, kind, "still busy")  # no header: own backoff
        return 200, claude_message("A"), None

    with fake_server("anthropic", respond, key=KEY) as server:
        adapter, responses = run(server, tmp_path, n=3, concurrency=1, backoff_s=0.01)
    assert responses == ["A"] * 3 and set(seen.values()) == {3}
    assert delays[0::2] == [7.0] * 3  # the server's Retry-After, as sent
    assert all(0.01 <= d <= 0.02 for d in delays[1::2])  # own backoff: 2nd retry, 0.01 x 2
    assert adapter.totals["failed"] == 0


def test_a_request_the_api_rejects_fails_once_and_is_reported(tmp_path):
    reject = lambda path, body: anthropic_error(  # noqa: E731
        404, "not_found_error", "model: claude-nope"
    )
    with fake_server("anthropic", reject, key=KEY) as server:
        adapter, responses = run(server, tmp_path, n=2, max_retries=3, backoff_s=0.01)
    assert all(is_failed_response(r) for r in responses)
    assert "HTTP 404: model: claude-nope" in responses[0]
    assert len(server.requests) == 2  # not retried
    assert adapter.totals["failed"] == 2


def test_images_beyond_the_api_limits_are_scaled_down_to_fit(tmp_path):
    """Lossless noise that PNG cannot compress (about 17 MB of base64) and an 9000 px strip:
    the server enforces the API's 5 MB and 8000 px limits, so a request that ignored them fails."""
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (1800, 2400, 3), dtype=np.uint8))
    strip = Image.new("RGB", (9000, 40), (10, 200, 30))
    small = Image.new("RGB", (24, 24), (1, 2, 3))
    docs = [{"image": image} for image in (noise, strip, small)]
    with fake_server("anthropic", answering(), key=KEY) as server:
        _, responses = run(server, tmp_path, n=3, docs=docs)
    assert responses == ["B"] * 3
    sent = [body["messages"][0]["content"][0] for body in server.requests]
    by_size = {decoded(block).size: block["source"]["data"] for block in sent}
    (noise_size,) = [size for size in by_size if size[0] not in (9000, 8000, 24)]
    assert len(by_size[noise_size]) <= MAX_IMAGE_BASE64
    assert noise_size[0] > 1000 and abs(noise_size[0] / noise_size[1] - 4 / 3) < 0.01
    assert (MAX_IMAGE_SIDE, 35) in by_size  # 9000x40 -> 8000 wide, aspect kept
    assert by_size[(24, 24)] == encode_png(small)  # within the limits: untouched


def test_thinking_is_skipped_and_a_reply_cut_off_before_its_answer_is_flagged(tmp_path):
    messages = iter(
        [
            claude_message("B", thinking="The arrow points down."),
            claude_message(None, stop_reason="max_tokens", thinking="Let me look at"),
        ]
    )
    lock = threading.Lock()

    def respond(path, body):
        with lock:
            return 200, next(messages), None

    warnings = []
    sink = logger.add(warnings.append, level="WARNING")
    try:
        with fake_server("anthropic", respond, key=KEY) as server:
            adapter, responses = run(server, tmp_path, n=2, concurrency=1, max_tokens=64,
                                     thinking="disabled")  # fmt: skip
    finally:
        logger.remove(sink)
    assert responses == ["B", ""]  # an answer cut off by max_tokens is unreadable, not failed
    assert all(b["max_tokens"] == 64 for b in server.requests)
    assert all(b["thinking"] == {"type": "disabled"} for b in server.requests)
    assert adapter.totals["answered"] == 2 and adapter.totals["failed"] == 0
    assert any("1 repl(ies) reached max_tokens before any answer text" in w for w in warnings)


def test_the_key_comes_from_the_environment_only(monkeypatch, tmp_path):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ValueError, match=r"\$ANTHROPIC_API_KEY"):
        build_adapter("anthropic", "http://127.0.0.1:9", str(tmp_path))
    monkeypatch.setenv("MY_CLAUDE_KEY", KEY)
    with fake_server("anthropic", answering(), key=KEY) as server:
        run(server, tmp_path, api_key_env="MY_CLAUDE_KEY")
    assert server.headers[0]["authorization"] == f"Bearer {KEY}"


def test_unknown_thinking_mode_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="thinking must be one of"):
        build_adapter("anthropic", "http://127.0.0.1:9", str(tmp_path), thinking="on")
