"""A small threaded HTTP server on 127.0.0.1 (ephemeral port) for fake networks.

Each fake subclasses FakeServer, registers routes, and keeps the state a real network
would (tokens, posts, media). Every fake can inject failures for the dispatch tests:

- ``fail_next(status, body, headers, times)``: answer the next matching requests with
  this status instead of handling them (5xx, 429 with Retry-After, 401 expired token, ...);
- ``slow_next(seconds, times)``: handle the request normally (the post IS created), then
  wait before answering, so a client's read timeout fires: an unknown outcome;
- ``hang_next(seconds, times)``: wait before handling at all (nothing is created).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    match: re.Match[str] | None = None
    _form: dict[str, list[str]] | None = field(default=None, repr=False)
    _files: dict[str, Part] | None = field(default=None, repr=False)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def _parse(self) -> None:
        form: dict[str, list[str]] = {}
        files: dict[str, Part] = {}
        if self.content_type == "application/x-www-form-urlencoded":
            form = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        elif self.content_type == "multipart/form-data":
            head = f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode()
            message = BytesParser(policy=HTTP).parsebytes(head + self.body)
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                filename = part.get_filename()
                data = part.get_payload(decode=True) or b""
                if filename is not None:
                    files[str(name)] = Part(str(name), filename, part.get_content_type(), data)
                else:
                    form.setdefault(str(name), []).append(data.decode("utf-8"))
        self._form, self._files = form, files

    @property
    def form(self) -> dict[str, list[str]]:
        if self._form is None:
            self._parse()
        assert self._form is not None
        return self._form

    @property
    def files(self) -> dict[str, Part]:
        if self._files is None:
            self._parse()
        assert self._files is not None
        return self._files

    def field(self, name: str, default: str | None = None) -> str | None:
        values = self.form.get(name) or self.query.get(name)
        return values[0] if values else default

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list → JSON; bytes/str as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class _Injected:
    kind: str  # fail | slow | hang
    reply: Reply | None = None
    seconds: float = 0.0
    path: str | None = None  # regex on the path; None = any request


Handler = Callable[[Request], Reply]


class FakeServer:
    name = "fake"
    # Where it listens: a loopback address; `port` 0 takes a free one.
    host = "127.0.0.1"
    port = 0

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[Request] = []
        self.lock = threading.RLock()
        self._injected: deque[_Injected] = deque()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- set-up --------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def start(self) -> FakeServer:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence
                pass

            def _handle(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle  # noqa: N815

        self._httpd = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # --- failure injection -----------------------------------------------------------

    def fail_next(
        self,
        status: int = 503,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        times: int = 1,
        path: str | None = None,
    ) -> None:
        for _ in range(times):
            self._injected.append(_Injected("fail", Reply(status, body, dict(headers or {})), path=path))

    def slow_next(self, seconds: float, *, times: int = 1, path: str | None = None) -> None:
        for _ in range(times):
            self._injected.append(_Injected("slow", seconds=seconds, path=path))

    def hang_next(self, seconds: float, *, times: int = 1, path: str | None = None) -> None:
        for _ in range(times):
            self._injected.append(_Injected("hang", seconds=seconds, path=path))

    def requests_to(self, pattern: str) -> list[Request]:
        regex = re.compile(pattern)
        return [r for r in self.requests if regex.search(r.path)]

    # --- serving -------------------------------------------------------------------

    def _take_injected(self, path: str) -> _Injected | None:
        with self.lock:
            for item in list(self._injected):
                if item.path is None or re.search(item.path, path):
                    self._injected.remove(item)
                    return item
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = Request(
            method=handler.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
        )
        with self.lock:
            self.requests.append(request)
        injected = self._take_injected(request.path)
        if injected and injected.kind == "hang":
            time.sleep(injected.seconds)
        if injected and injected.kind == "fail":
            assert injected.reply is not None
            reply = injected.reply
        else:
            reply = self._dispatch(request)
        if injected and injected.kind == "slow":
            time.sleep(injected.seconds)
        self._write(handler, reply)

    def _dispatch(self, request: Request) -> Reply:
        for method, pattern, route in self.routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                request.match = match
                with self.lock:
                    return route(request)
        return self.not_found(request)

    def not_found(self, request: Request) -> Reply:
        return Reply(404, {"error": "Not found"})

    @staticmethod
    def _write(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        body = reply.body
        if isinstance(body, dict | list):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        elif body is None:
            data = b""
        else:
            data = body
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): the work is done anyway
