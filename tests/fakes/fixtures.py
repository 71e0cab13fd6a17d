"""pytest fixtures: one started fake per network (127.0.0.1, ephemeral port), a channel
factory whose secret lives in a per-test environment variable, and sanitised images.

Registered for the channel tests by tests/publisher/channels/conftest.py; other test
packages (dispatch) can register them the same way: `from tests.fakes.fixtures import *`.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from PIL import Image

from publisher.channels.base import PostImage
from publisher.media.images import image_ingest
from tests.fakes.base import FakeServer

_env_names = itertools.count(1)


def _serve(fake: FakeServer) -> Iterator[Any]:
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_mastodon() -> Iterator[Any]:
    from tests.fakes.mastodon import FakeMastodon

    yield from _serve(FakeMastodon())


@pytest.fixture
def fake_bluesky() -> Iterator[Any]:
    from publisher.channels.bluesky import sessions_forget
    from tests.fakes.bluesky import FakeBluesky

    sessions_forget()
    yield from _serve(FakeBluesky())
    sessions_forget()


@pytest.fixture
def fake_telegram() -> Iterator[Any]:
    from tests.fakes.telegram import FakeTelegram

    yield from _serve(FakeTelegram())


@pytest.fixture
def fake_webhook() -> Iterator[Any]:
    from tests.fakes.webhook import FakeWebhookReceiver

    yield from _serve(FakeWebhookReceiver())


@pytest.fixture
def fake_facebook() -> Iterator[Any]:
    from tests.fakes.facebook import FakeFacebook

    yield from _serve(FakeFacebook())


@pytest.fixture
def fake_meta_ads() -> Iterator[Any]:
    from tests.fakes.meta_ads import FakeMetaAds

    yield from _serve(FakeMetaAds())


@pytest.fixture
def media_server() -> Iterator[Any]:
    """Our public URL in tests: serves MEDIA_ROOT like the web server does in production."""
    from tests.fakes.static import StaticMediaServer

    yield from _serve(StaticMediaServer(Path(settings.MEDIA_ROOT)))


@pytest.fixture
def fake_instagram(media_server: Any, settings: Any) -> Iterator[Any]:
    from tests.fakes.instagram import FakeInstagram

    settings.TANDEM_PUBLIC_URL = media_server.url
    yield from _serve(FakeInstagram())


@pytest.fixture
def fake_x() -> Iterator[Any]:
    from tests.fakes.x import FakeX

    yield from _serve(FakeX())


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    from tests.fakes.smtp import SmtpServer

    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_channel(db: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """A Channel of `kind` whose secret(s) are set in a fresh environment variable."""
    from tests.factories import ChannelFactory

    def make(kind: str, *, config: dict[str, Any], secret: str = "", language: str = "fr", **secrets: str) -> Any:
        ref = f"TANDEM_SECRET_TEST_{next(_env_names)}"
        if secret:
            monkeypatch.setenv(ref, secret)
        for part, value in secrets.items():
            monkeypatch.setenv(f"{ref}_{part.upper()}", value)
        # Short timeouts: the fakes answer at once unless a test makes them slow.
        config = {"timeout": 1.0, "connect_timeout": 1.0, "poll_interval": 0.01, **config}
        return ChannelFactory(kind=kind, language=language, covers_all=True, config=config, secret_ref=ref)

    return make


def make_photo(width: int = 1600, height: int = 1200, *, fmt: str = "JPEG", mode: str = "RGB", **save: Any) -> bytes:
    """A photo-like test image (gradients, so JPEG sizes are realistic)."""
    gradient = Image.linear_gradient("L").resize((width, height))
    if mode == "RGB":
        img = Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient.rotate(90)))
    else:
        img = gradient.convert(mode)
    buffer = io.BytesIO()
    img.save(buffer, fmt, **save)
    return buffer.getvalue()


@pytest.fixture
def stored_image() -> Callable[..., PostImage]:
    """A sanitised image stored like an attachment (MEDIA_ROOT/attachments/<sha>.<ext>)."""

    def store(width: int = 1600, height: int = 1200, *, alt: str = "Une photo", fmt: str = "JPEG") -> PostImage:
        ingested = image_ingest(io.BytesIO(make_photo(width, height, fmt=fmt)))
        path = (
            Path(settings.MEDIA_ROOT) / "attachments" / ingested.sha256[:2] / f"{ingested.sha256}.{ingested.extension}"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(ingested.content)
        return PostImage(path=str(path), alt=alt, width=ingested.width, height=ingested.height, format=ingested.format)

    return store
