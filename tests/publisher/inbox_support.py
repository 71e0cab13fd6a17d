"""Shared set-up for the inbox tests: channels wired to the fakes, a published message, items."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from publisher.channels.bluesky import sessions_forget
from publisher.channels.mastodon import _INSTANCE_CACHE
from publisher.models import Delivery, DeliveryState, InboxItem, Occurrence
from tests.factories import ChannelFactory, make_message

MASTODON_TOKEN = "mastodon-inbox-token"
BSKY_HANDLE = "zone-inbox.bsky.social"
BSKY_PASSWORD = "app-pass-inbox"


@pytest.fixture
def mastodon_channel(fake_mastodon, make_channel):
    _INSTANCE_CACHE.clear()
    fake_mastodon.add_token(MASTODON_TOKEN)
    return make_channel("mastodon", config={"base_url": fake_mastodon.url}, secret=MASTODON_TOKEN, language="fr")


@pytest.fixture
def bluesky_channel(fake_bluesky, make_channel):
    sessions_forget()
    fake_bluesky.add_account(BSKY_HANDLE, BSKY_PASSWORD)
    return make_channel(
        "bluesky", config={"pds_url": fake_bluesky.url, "identifier": BSKY_HANDLE}, secret=BSKY_PASSWORD, language="nl"
    )


def sent_delivery(*, channel, author, remote_id, receipt=None, appeal=False, title="Appel à témoins"):
    """A message published on `channel` as `remote_id` (the rows the publish task would leave)."""
    message = make_message(author=author)
    message.title = title
    message.witness_appeal = appeal
    message.approved_audience = ["21004"]
    message.save(update_fields=["title", "witness_appeal", "approved_audience"])
    occurrence = Occurrence.objects.create(message=message, due_at=timezone.now())
    return Delivery.objects.create(
        occurrence=occurrence,
        channel=channel,
        language=channel.language,
        state=DeliveryState.SENT,
        due_at=occurrence.due_at,
        remote_id=remote_id,
        receipt=receipt or {},
        sent_at=timezone.now(),
    )


def make_item(*, channel=None, text="J'ai vu la voiture rouge rue Haute vers 14h", language="fr", **fields):
    channel = channel or ChannelFactory(language=language)
    values = {
        "remote_id": f"r-{InboxItem.objects.count() + 1}",
        "author_handle": "@alice@example.social",
        "text": text,
        "language": language,
        "language_detected": True,
        "posted_at": datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        "url": "https://example.social/@alice/1",
        **fields,
    }
    return InboxItem.objects.create(channel=channel, **values)
