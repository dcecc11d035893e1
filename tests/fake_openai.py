"""A real local OpenAI-compatible chat server for tests: scripted answers, fault injection, request counting.

It listens on 127.0.0.1 (a free port) in a background thread and speaks ``POST /v1/chat/completions`` with
the response JSON of the real API (``id``, ``choices[0].message.content``, ``finish_reason``, ``usage``), so
the openai SDK, and everything built on it, runs unmodified against it::

    from fake_openai import FakeOpenAI, Fault

    def answer(body: dict) -> str:                  # the parsed request body -> the assistant's content
        return '{"ok": true}'

    with FakeOpenAI(answer, api_key="sk-test", delay_s=0.05) as server:
        server.inject(Fault.rate_limit(retry_after=0), Fault.server_error(), Fault.stall(2.0), Fault.reply("no json"))
        ...  # point a client at server.base_url with api key "sk-test"
        assert server.n_requests == 5               # every POST counts, faulted or not
        assert server.max_in_flight <= 4            # most requests ever handled at the same time

Faults queued with :meth:`FakeOpenAI.inject` hit the next requests, one each, in order. For a fault on
particular requests, let ``answer`` return a :class:`Fault` instead of a string (e.g. always 500 for one
prompt); a stall that ``answer`` returns is followed by empty content. Usage counts whitespace-separated
words: prompt tokens over all message contents, completion tokens over the answer. As a pytest fixture: ``pytest_plugins = ["fake_openai"]`` in a conftest (or import
``fake_openai`` into the test module) gives a started server with the default answer ``"{}"``.
"""
from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Fault:
    """What the server does to one request instead of answering it normally."""

    status: int = 200  # HTTP status to answer with; not 200 -> an OpenAI-style error body
    retry_after: float | None = None  # seconds, sent as the Retry-After header of an error
    stall_s: float = 0.0  # wait this long before answering (longer than the client's timeout -> it times out)
    content: str | None = None  # with status 200: answer this content instead of the scripted one
    code: str | None = None  # with an error status: the error body's ``code`` (e.g. "insufficient_quota")
    finish_reason: str = "stop"  # with status 200: the choice's finish_reason ("length" = cut off at max_tokens)

    @classmethod
    def rate_limit(cls, retry_after: float | None = 0.0) -> Fault:
        """HTTP 429 Too Many Requests, with a Retry-After header unless ``retry_after`` is None."""
        return cls(status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        """An HTTP 5xx error."""
        return cls(status=status)

    @classmethod
    def http_error(cls, status: int, retry_after: float | None = None) -> Fault:
        """Any HTTP error status (400, 401, 404, 503 ...)."""
        return cls(status=status, retry_after=retry_after)

    @classmethod
    def quota_exceeded(cls) -> Fault:
        """HTTP 429 with error code ``insufficient_quota`` (the account is out of credit: retrying cannot help)."""
        return cls(status=429, code="insufficient_quota")

    @classmethod
    def truncated(cls, text: str) -> Fault:
        """Answer 200 with this content and ``finish_reason: length`` (cut off at max_tokens)."""
        return cls(content=text, finish_reason="length")

    @classmethod
    def stall(cls, seconds: float) -> Fault:
        """Hold the request ``seconds`` before answering normally (released early when the server stops)."""
        return cls(stall_s=seconds)

    @classmethod
    def reply(cls, text: str) -> Fault:
        """Answer 200 with this content (e.g. invalid JSON) instead of the scripted answer."""
        return cls(content=text)


Answer = Callable[[dict[str, Any]], "str | Fault"]


def default_answer(body: dict[str, Any]) -> str:
    """The answer when none is scripted: an empty JSON object."""
    return "{}"


class FakeOpenAI:
    """A local ``/v1/chat/completions`` server; use as a context manager (or call start/stop)."""

    def __init__(
        self,
        answer: Answer = default_answer,
        *,
        api_key: str | None = None,
        delay_s: float = 0.0,
        model: str = "fake-model",
    ) -> None:
        """``answer`` maps a request body to content (or a Fault); with ``api_key`` set, requests without
        ``Authorization: Bearer <api_key>`` get 401; ``delay_s`` is added to every request."""
        self.answer = answer
        self.api_key = api_key
        self.delay_s = delay_s
        self.model = model
        self.requests: list[dict[str, Any]] = []  # every parsed request body received, in arrival order
        self.authorizations: list[str | None] = []  # the Authorization header of each request
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The ``base_url`` for an OpenAI client (``http://127.0.0.1:<port>/v1``)."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not running; use it as a context manager or call start()")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def n_requests(self) -> int:
        """How many chat requests arrived (faulted ones included)."""
        with self._lock:
            return len(self.requests)

    def inject(self, *faults: Fault) -> None:
        """Queue faults: each of the next requests gets the next fault, in order."""
        with self._lock:
            self._faults.extend(faults)

    @property
    def pending_faults(self) -> int:
        """Injected faults not yet consumed by a request."""
        with self._lock:
            return len(self._faults)

    def start(self) -> FakeOpenAI:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release stalled requests, stop serving and close the port."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _handle(self, body: dict[str, Any], authorization: str | None) -> tuple[int, dict[str, str], dict]:
        """Status, headers and JSON body for one chat request (called by the handler threads)."""
        with self._lock:
            self.requests.append(body)
            self.authorizations.append(authorization)
            index = len(self.requests)
            fault = self._faults.popleft() if self._faults else None
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                self._stopping.wait(self.delay_s)
            if self.api_key is not None and authorization != f"Bearer {self.api_key}":
                return 401, {}, _error_body("Incorrect API key provided.", "invalid_request_error")
            if fault is None:
                scripted = self.answer(body)
                fault = scripted if isinstance(scripted, Fault) else Fault(content=scripted)
            if fault.stall_s:
                self._stopping.wait(fault.stall_s)
            if fault.status != 200:
                headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
                kind = "rate_limit_exceeded" if fault.status == 429 else "invalid_request_error"
                kind = "server_error" if fault.status >= 500 else kind
                return fault.status, headers, _error_body(f"injected HTTP {fault.status}", kind, fault.code)
            content = fault.content if fault.content is not None else _scripted_content(self.answer(body))
            return 200, {}, self._completion(index, body, content, fault.finish_reason)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _completion(self, index: int, body: dict[str, Any], content: str, finish_reason: str = "stop") -> dict[str, Any]:
        """A ``chat.completion`` response object, with word-count usage."""
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        completion_tokens = len(content.split())
        return {
            "id": f"chatcmpl-fake-{index}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", self.model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _scripted_content(scripted: str | Fault) -> str:
    """The content of a scripted answer that is not a fault."""
    if isinstance(scripted, Fault):
        return scripted.content or ""
    return scripted


def _error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    """An OpenAI-style error response body."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code or kind}}


def _make_handler(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``server``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {}, _error_body(f"no route {self.path}", "not_found"))
                return
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                self._send(400, {}, _error_body("request body is not JSON", "invalid_request_error"))
                return
            self._send(*server._handle(body, self.headers.get("Authorization")))

        def _send(self, status: int, headers: dict[str, str], payload: dict) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout) before we answered
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence per-request logging
            return

    return Handler


def unused_base_url() -> str:
    """A ``base_url`` on a local port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started FakeOpenAI answering ``"{}"``; set ``.answer`` / call ``.inject`` in the test."""
    with FakeOpenAI() as server:
        yield server
