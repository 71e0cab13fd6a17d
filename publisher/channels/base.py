"""The small contract every network adapter implements.

An adapter is built for one Channel row (one account). `check` is pure and used before
approval; `publish` and `retract` do network I/O and are only ever called outside a
database transaction, by the publish task.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from publisher.models import Channel


@dataclass(frozen=True)
class PostImage:
    """An image ready for this post: the stored (sanitised) original and its alt text."""

    path: str
    alt: str
    width: int
    height: int
    format: str  # Pillow format name of the stored file: "JPEG", "PNG", ...


@dataclass(frozen=True)
class Receipt:
    """What the network answered: enough to link to, reply to, and delete the post."""

    remote_id: str
    url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Post:
    """One variant of one message, rendered for one channel."""

    text: str
    language: str
    link: str = ""
    images: tuple[PostImage, ...] = ()
    title: str = ""
    message_id: int | None = None
    delivery_id: int | None = None
    # Follow-ups (updates, all-clear) reply on the thread of the original post.
    reply_to: Receipt | None = None
    exercise: bool = False
    urgent: bool = False
    cap: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """Why a post does not fit a channel; `message` is translated, ready to show.

    An "error" blocks submission (the network would refuse the post); a "warning" is shown
    but lets the message go (e.g. a small image that will look blurry)."""

    code: str
    message: str
    severity: str = "error"


@dataclass(frozen=True)
class Limits:
    text_max: int | None = None
    text_unit: str = "characters"  # characters | graphemes | weighted | bytes
    images_max: int = 4
    image_bytes_max: int | None = None
    image_pixels_max: int | None = None
    image_formats: tuple[str, ...] = ("JPEG", "PNG")
    alt_text_max: int | None = None
    alt_text_required: bool = False
    # Rendition bounds beyond bytes and pixels: longest side, width + height (Telegram),
    # width / height ratio (Instagram 0.8–1.91, Telegram ≤ 20).
    image_side_max: int | None = None
    image_sides_sum_max: int | None = None
    image_aspect_min: float | None = None
    image_aspect_max: float | None = None
    image_width_min: int | None = None
    images_required: bool = False


class ChannelError(Exception):
    """Base of typed adapter errors; `message` is the network's own wording."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class TransientError(ChannelError):
    """Try again later (5xx, connection refused before sending)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """429 or the network's equivalent; honour retry_after."""


class PermanentError(ChannelError):
    """The network refused this post; retrying will not help."""


class AuthError(PermanentError):
    """The channel's credentials are invalid or expired: it needs reconnecting."""


class Gone(PermanentError):
    """The receiver said the endpoint is gone for good (webhook 410): disable the channel
    with publisher.channels.services.channel_disable."""


class UnknownOutcome(ChannelError):
    """The request may have been received (timeout after sending): do not blindly repost."""


# Config keys naming the endpoint a channel calls, in the adapters' own words.
ENDPOINT_KEYS = ("url", "base_url", "api_url", "graph_url", "pds_url", "host")


class ChannelAdapter(abc.ABC):
    kind: ClassVar[str]
    limits: ClassVar[Limits] = Limits()
    supports_idempotency: ClassVar[bool] = False
    supports_replies: ClassVar[bool] = False
    supports_retract: ClassVar[bool] = False
    # What users see for this network in problems ("NL — Bluesky: 312/300 characters").
    label: ClassVar[StrOrPromise] = ""
    # Config keys saying where the adapter connects: the outgoing-request policy
    # (netpolicy.py) checks them when a channel is saved, and every connection again.
    # A missing URL means the network's public default; hosts map to their default.
    url_fields: ClassVar[tuple[str, ...]] = ()
    host_fields: ClassVar[dict[str, str]] = {}
    # The API a channel talks to when its config names none (X, Telegram, Graph API, ...).
    default_endpoint: ClassVar[str] = ""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def network(self) -> str:
        """The host this channel's posts go to: the publish task bounds the calls at once
        per network, so one slow or dead network cannot take every thread. A channel that
        calls no network (outbox, feeds) is a network of its own."""
        config = self.channel.config or {}
        for key in ENDPOINT_KEYS:
            if config.get(key):
                value = str(config[key])
                return urlsplit(value).netloc.lower() or value.lower()
        if self.default_endpoint:
            return urlsplit(self.default_endpoint).netloc.lower()
        return f"{self.kind}:{self.channel.pk}"

    @abc.abstractmethod
    def check(self, post: Post) -> list[Problem]:
        """Everything that would make the network refuse this post. Pure: no I/O."""

    @abc.abstractmethod
    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        """Send the post. Raises a ChannelError subclass on failure."""

    def exercise_receipt(self, post: Post, idempotency_key: str, payload: dict[str, Any]) -> Receipt:
        """An exercise renders every payload but sends nothing: the receipt says what would have gone out."""
        return Receipt(remote_id=f"exercise-{idempotency_key}", extra={"exercise": True, "payload": payload})

    def retract(self, receipt: Receipt) -> None:
        """Delete a published post. Raises PermanentError where the network cannot."""
        raise PermanentError("This network does not allow deleting posts.")
