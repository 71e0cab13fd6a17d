"""Where Tandem serves its own pull channels (the Atom and CAP feeds): the public address
their adapters put in receipts and the feeds put in links."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings


def public_url(path: str = "") -> str:
    return settings.TANDEM_PUBLIC_URL.rstrip("/") + path


def public_host() -> str:
    return urlsplit(settings.TANDEM_PUBLIC_URL).hostname or "localhost"
