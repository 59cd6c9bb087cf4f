"""A local HTTP server that speaks the OpenAI chat-completions protocol (plain and streamed).

It stands in for a remote LLM, the one boundary that cannot run here. Its
`reply(prompt)` decides the answer text, so a test can play a careful model,
a careless one or a broken one.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeLLM:
    def __init__(self, reply=lambda prompt: "NOT_IN_SOURCES", status: int = 200,
                 delay: float = 0.0):
        self.reply, self.status, self.delay = reply, status, delay
        self.requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body})
                if fake.delay:
                    time.sleep(fake.delay)
                if fake.status != 200 or self.path != "/v1/chat/completions":
                    self.send_response(fake.status if fake.status != 200 else 404)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "boom", "type": "server_error"}}')
                    return
                prompt = body["messages"][-1]["content"]
                text = fake.reply(prompt)
                if body.get("stream"):
                    self._stream(body, text)
                else:
                    self._json({"id": "cmpl-1", "object": "chat.completion",
                                "created": int(time.time()), "model": body["model"],
                                "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant",
                                                         "content": text}}],
                                "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                          "total_tokens": 2}})

            def _json(self, data):
                raw = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _stream(self, body, text):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                words = text.split(" ")
                for i, word in enumerate(words):
                    piece = word if i == 0 else " " + word
                    chunk = {"id": "cmpl-1", "object": "chat.completion.chunk",
                             "created": int(time.time()), "model": body["model"],
                             "choices": [{"index": 0, "delta": {"content": piece},
                                          "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                end = {"id": "cmpl-1", "object": "chat.completion.chunk",
                       "created": int(time.time()), "model": body["model"],
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()

        return Handler


def source_containing(prompt: str, needle: str) -> int:
    """The number of the <source> in the prompt whose text contains `needle`."""
    import re

    for m in re.finditer(r'<source id="(\d+)"[^>]*>\n(.*?)\n</source>', prompt, re.S):
        if needle in m.group(2):
            return int(m.group(1))
    raise AssertionError(f"no source contains {needle!r}")


def half_true_reply(prompt: str) -> str:
    """A careless model: one sentence its source states, one it cites but invents."""
    n = source_containing(prompt, "مصر والعراق والمغرب")
    other = 1 if n != 1 else 2
    return (f"The Arab region's champion countries are Egypt, Iraq and Morocco [{n}]. "
            f"The compact was signed on the Moon in 1999 [{other}].")
