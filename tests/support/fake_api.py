"""Real HTTP servers on 127.0.0.1 that speak the OpenAI chat-completions and the Gemini REST
protocols, for tests and benchmarks.

``respond(path, body) -> (status, body_dict_or_text, headers)`` decides each answer (it may sleep
to simulate latency; the server is threaded). Every request is recorded, with the highest number
in flight at once. Use as a context manager: the server stops itself on exit.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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


class FakeAPIServer:
    def __init__(self, respond):
        self.respond = respond
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
                with server._lock:
                    server.requests.append(body)
                    server.paths.append(self.path)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    status, payload, headers = server.respond(self.path, body)
                finally:
                    with server._lock:
                        server.in_flight -= 1
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
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

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
