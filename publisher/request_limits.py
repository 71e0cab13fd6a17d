"""A request body over TANDEM_UPLOAD_MAX_BYTES is refused before any of it is read.

Django's multipart parser streams every file part to a temporary file before a view sees
it, so a 100 MB upload used to be received and written to disk only to be refused by the
image checks afterwards. Refused here instead, with a 413 (problem details under /api/,
a short page elsewhere), in the request's language:

- WSGI (runserver, gunicorn): by the declared Content-Length, in a middleware that runs
  before anything touches the body. Django reads exactly Content-Length bytes, so that is
  the bound; a chunked body without Content-Length is read as empty under WSGI.
- ASGI: Django's handler receives the whole body into a spooled temporary file before any
  middleware runs, so `asgi_body_limit` wraps the application and cuts a body, chunked or
  not, as soon as it passes the limit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

PROBLEM_CONTENT_TYPE = "application/problem+json"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def max_request_bytes() -> int:
    return int(settings.TANDEM_UPLOAD_MAX_BYTES)


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.3g}"


def too_large_response(*, path: str, declared: int | None) -> HttpResponse:
    """The 413 answer in the active language: problem details for the API, a page elsewhere."""
    limit = max_request_bytes()
    detail = (
        _("The upload is %(size)s MB; at most %(limit)s MB is accepted. Choose a smaller file.")
        % {"size": _megabytes(declared), "limit": _megabytes(limit)}
        if declared
        else _("The upload is larger than %(limit)s MB, the most that is accepted. Choose a smaller file.")
        % {"limit": _megabytes(limit)}
    )
    title = _("The request is too large.")
    # The client may still be sending: tell it the connection will not read the rest.
    headers = {"Connection": "close"}
    if path.startswith("/api/"):
        body = {"type": "/api/problems/too-large", "title": title, "status": 413, "detail": detail, "instance": path}
        return HttpResponse(json.dumps(body), status=413, content_type=PROBLEM_CONTENT_TYPE, headers=headers)
    page = format_html("<!doctype html><title>{}</title><h1>{}</h1><p>{}</p>", title, title, detail)
    return HttpResponse(page, status=413, content_type="text/html; charset=utf-8", headers=headers)


def _declared_length(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


class RequestBodyLimitMiddleware:
    """Refuse a body whose Content-Length is over the limit without reading any of it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = _declared_length(request.META.get("CONTENT_LENGTH"))
        if declared is not None and declared > max_request_bytes():
            return too_large_response(path=request.path, declared=declared)
        return self.get_response(request)


def _asgi_language(scope: Scope) -> str:
    header = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"accept-language"), "")
    for code, _quality in parse_accept_lang_header(header):
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def asgi_body_limit(app: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Wrap an ASGI application: a body over the limit is answered 413 before the app starts.

    The body is buffered here (at most the limit) and replayed to the application, because
    Django's ASGI handler would otherwise spool all of it, however large, before its
    middleware runs."""

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        limit = max_request_bytes()
        headers = dict(scope.get("headers", []))
        declared = _declared_length(headers.get(b"content-length", b"").decode("latin-1"))
        received: list[Message] = []
        size = 0
        over = declared is not None and declared > limit
        while not over:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            over = size > limit
            if not message.get("more_body", False):
                break
        if over:
            with translation.override(_asgi_language(scope)):
                response = too_large_response(path=scope.get("path", ""), declared=declared)
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.items()],
                }
            )
            await send({"type": "http.response.body", "body": response.content})
            return

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await app(scope, replay, send)

    return limited
