"""An upload over TANDEM_UPLOAD_MAX_BYTES is refused with a 413 before its body is read."""

import asyncio
import io

import pytest
from django.urls import reverse

from config.asgi import application as asgi_application
from publisher.models import Message

pytestmark = pytest.mark.django_db

CAP = 1_000_000


@pytest.fixture(autouse=True)
def _small_cap(settings):
    settings.TANDEM_UPLOAD_MAX_BYTES = CAP


@pytest.fixture
def author_client(client, author):
    client.force_login(author)
    return client


class UnreadableBody(io.RawIOBase):
    """A request body that must never be read: the limit decides from Content-Length alone."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.read_bytes += 1
        raise AssertionError("the request body was read")

    readline = read


def oversize(client, path, body):
    return client.generic(
        "POST",
        path,
        b"",
        content_type="multipart/form-data; boundary=BoUnDaRy",
        **{"CONTENT_LENGTH": str(CAP + 1), "wsgi.input": body},
    )


def test_admin_compose_upload_over_the_limit_is_a_413_page_unread(author_client):
    body = UnreadableBody()
    response = oversize(author_client, reverse("admin:publisher_message_add"), body)
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert body.read_bytes == 0
    assert not Message.objects.exists()


def test_a_body_within_the_limit_is_read_as_before(author_client, settings):
    response = author_client.post(reverse("admin:publisher_message_add"), {"title": ""})
    assert response.status_code == 200  # the form again, with its errors


def asgi_call(path, chunks, headers=()):
    """Run the ASGI application on a body sent in `chunks`; returns (status, body, chunks received)."""
    pending = list(chunks)
    taken = []
    sent = []

    async def receive():
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        taken.append(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"multipart/form-data; boundary=x"), (b"accept-language", b"nl"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(asgi_application(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, len(taken)


def test_asgi_chunked_body_without_content_length_is_cut_at_the_limit():
    # 100 chunks of 100 kB (10 MB), no Content-Length: reading stops just past the 1 MB limit.
    status, body, taken = asgi_call("/api/v1/messages/1/attachments/", [b"x" * 100_000] * 100)
    assert status == 413
    assert taken == 11
    assert b"too-large" in body


def test_asgi_declared_length_over_the_limit_is_refused_unread():
    status, _body, taken = asgi_call(
        "/admin/publisher/message/add/", [b"x" * 10] * 5, headers=[(b"content-length", str(CAP * 10).encode())]
    )
    assert status == 413
    assert taken == 0
