"""Real HTTP servers on 127.0.0.1 that speak the OpenAI chat-completions, the Gemini REST and the
Anthropic Messages protocols, for tests and benchmarks.

``respond(path, body) -> (status, body_dict_or_text, headers)`` decides each answer (it may sleep
to simulate latency; the server is threaded). ``check(path, headers, body)`` may reject a request
first, as the provider's validation would (:class:`MessagesAPIRules` for Anthropic's). Every
request is recorded, with the highest number in flight at once. Use as a context manager: the
server stops itself on exit. :func:`fake_server`, :func:`prompt_text` and :func:`answer_body` let
one test or benchmark speak any of the three protocols.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ("openai", "gemini", "anthropic")


def completion(content: str | None, refusal: str | None = None, model: str = "m") -> dict:
    """An OpenAI chat.completion body."""
    message = {"role": "assistant", "content": content, "refusal": refusal}
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 2, "total_tokens": 102},
    }


def gemini_reply(text: str | None, finish_reason: str = "STOP", block: str | None = None) -> dict:
    """A Gemini generateContent body; ``block`` sets promptFeedback.blockReason."""
    if block:
        return {"promptFeedback": {"blockReason": block}, "usageMetadata": {"promptTokenCount": 90}}
    parts = [{"text": text}] if text is not None else []
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": parts},
                "finishReason": finish_reason,
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 90, "candidatesTokenCount": 3, "totalTokenCount": 93},
        "modelVersion": "gemini-test",
    }


def claude_message(
    text: str | None,
    stop_reason: str = "end_turn",
    *,
    thinking: str | None = None,
    refusal: dict | None = None,
    model: str = "claude-test",
) -> dict:
    """An Anthropic Messages API ``message`` body; ``refusal`` is its ``stop_details``."""
    content = [{"type": "thinking", "thinking": thinking, "signature": "c2ln"}] if thinking else []
    content += [{"type": "text", "text": text}] if text is not None else []
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "stop_details": refusal,
        "usage": {"input_tokens": 110, "output_tokens": 3},
    }


def anthropic_error(status: int, kind: str, message: str, headers: dict | None = None) -> tuple:
    """A ``(status, body, headers)`` answer in the Messages API's error shape."""
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_test"}
    return status, body, headers


class MessagesAPIRules:
    """What the Messages API rejects before a model sees the request, as documented and as users
    have reported its 400 messages: a missing ``anthropic-version``; a missing or (when ``key`` is
    given) wrong key (``x-api-key`` or ``Authorization: Bearer``); sampling parameters under
    API version 2026-10-21; no ``max_tokens``; empty or whitespace-only stop sequences; images
    over 5 MB of base64 or 8000 px a side."""

    def __init__(self, key: str | None = None):
        self.key = key

    def __call__(self, path: str, headers: dict, body: dict) -> tuple | None:
        if path != "/v1/messages":
            return anthropic_error(404, "not_found_error", f"Not found: {path}")
        version = headers.get("anthropic-version")
        if not version:
            return anthropic_error(400, "invalid_request_error", "anthropic-version: required")
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        key = headers.get("x-api-key") or bearer
        if not key or (self.key is not None and key != self.key):
            return anthropic_error(401, "authentication_error", "invalid x-api-key")
        for name in ("temperature", "top_p", "top_k"):
            if name in body and version >= "2026-10-21":
                return anthropic_error(
                    400, "invalid_request_error", f"{name}: Extra inputs are not permitted"
                )
        if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
            return anthropic_error(400, "invalid_request_error", "max_tokens: Field required")
        if any(not s.strip() for s in body.get("stop_sequences", [])):
            message = "stop_sequences: each stop sequence must contain non-whitespace"
            return anthropic_error(400, "invalid_request_error", message)
        for m, message in enumerate(body.get("messages", [])):
            blocks = message["content"] if isinstance(message["content"], list) else []
            for c, block in enumerate(blocks):
                if block.get("type") == "image" and (error := _image_error(block["source"])):
                    return anthropic_error(
                        400, "invalid_request_error", f"messages.{m}.content.{c}.image.{error}"
                    )
        return None


def _image_error(source: dict) -> str | None:
    from PIL import Image

    data = source["data"]
    if len(data) > 5 * 1024 * 1024:
        return f"source.base64: image exceeds 5 MB maximum: {len(data)} bytes > 5242880 bytes"
    width, height = Image.open(io.BytesIO(base64.b64decode(data))).size
    if max(width, height) > 8000:
        return "source.base64.data: At least one of the image dimensions exceed max allowed size"
    return None


def prompt_text(kind: str, body: dict) -> str:
    """The text part of the single user message of a request in protocol ``kind``."""
    if kind == "gemini":
        parts = body["contents"][0]["parts"]
        return next(p["text"] for p in parts if "text" in p)
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return next(c["text"] for c in content if c.get("type") == "text")


def image_bytes(kind: str, body: dict) -> bytes:
    """The (first) image of a request in protocol ``kind``, decoded from its base64."""
    if kind == "gemini":
        inline = next(p for p in body["contents"][0]["parts"] if "inlineData" in p)["inlineData"]
        data = inline["data"]  # google-genai sends URL-safe base64
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    content = body["messages"][-1]["content"]
    if kind == "openai":
        url = next(c for c in content if c["type"] == "image_url")["image_url"]["url"]
        return base64.b64decode(url.split(",", 1)[1])
    return base64.b64decode(next(c for c in content if c["type"] == "image")["source"]["data"])


def answer_body(kind: str, text: str) -> dict:
    """A successful reply with ``text`` in protocol ``kind``."""
    return {"openai": completion, "gemini": gemini_reply, "anthropic": claude_message}[kind](text)


def fake_server(kind: str, respond, key: str | None = None) -> FakeAPIServer:
    """A server for protocol ``kind``; Anthropic's validates requests as the Messages API does."""
    return FakeAPIServer(respond, check=MessagesAPIRules(key) if kind == "anthropic" else None)


class FakeAPIServer:
    def __init__(self, respond, check=None):
        self.respond = respond
        self.check = check
        self.requests: list[dict] = []
        self.paths: list[str] = []
        self.headers: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with server._lock:
                    server.requests.append(body)
                    server.paths.append(self.path)
                    server.headers.append(headers)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    rejected = server.check(self.path, headers, body) if server.check else None
                    status, payload, reply_headers = rejected or server.respond(self.path, body)
                finally:
                    with server._lock:
                        server.in_flight -= 1
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (reply_headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL."""
        return f"{self.url}/v1"

    def url_for(self, kind: str) -> str:
        """The ``base_url`` the adapter of protocol ``kind`` takes (its SDK adds the rest)."""
        return self.base_url if kind == "openai" else self.url

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
