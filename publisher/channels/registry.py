"""Adapters by kind. Settings can add or replace kinds: TANDEM_CHANNEL_ADAPTERS = {"kind": "dotted.Path"}."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from publisher.channels.base import ChannelAdapter
    from publisher.models import Channel

BUILTIN_ADAPTERS: dict[str, str] = {
    "outbox": "publisher.channels.outbox.OutboxAdapter",
    "mastodon": "publisher.channels.mastodon.MastodonAdapter",
    "bluesky": "publisher.channels.bluesky.BlueskyAdapter",
    "telegram": "publisher.channels.telegram.TelegramAdapter",
    "facebook": "publisher.channels.facebook.FacebookAdapter",
    "instagram": "publisher.channels.instagram.InstagramAdapter",
    "x": "publisher.channels.x.XAdapter",
    "webhook": "publisher.channels.webhook.WebhookAdapter",
    "email": "publisher.channels.email.EmailAdapter",
    "atom": "publisher.channels.atom.AtomAdapter",
    "cap": "publisher.channels.cap.CapAdapter",
}


@cache
def adapter_classes() -> dict[str, type[ChannelAdapter]]:
    paths = {**BUILTIN_ADAPTERS, **settings.TANDEM_CHANNEL_ADAPTERS}
    classes = {}
    for kind, path in paths.items():
        try:
            classes[kind] = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"Channel adapter {kind!r}: cannot import {path!r} ({exc}).") from exc
    return classes


def kinds() -> list[str]:
    return sorted(adapter_classes())


def kind_label(kind: str) -> str:
    """The network's name (a proper name, or words for Email and Outbox); the code if unknown."""
    cls = adapter_classes().get(kind)
    return str(cls.label) if cls is not None and cls.label else kind


def kind_choices() -> list[tuple[str, str]]:
    return [(kind, kind_label(kind)) for kind in kinds()]


def get_adapter(channel: Channel) -> ChannelAdapter:
    try:
        cls = adapter_classes()[channel.kind]
    except KeyError as exc:
        raise ImproperlyConfigured(f"No adapter for channel kind {channel.kind!r}.") from exc
    return cls(channel)


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    # Cache invalidation for override_settings in tests; decides nothing.
    if setting == "TANDEM_CHANNEL_ADAPTERS":
        adapter_classes.cache_clear()
