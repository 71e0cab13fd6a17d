"""The small contract every network adapter implements.

An adapter is built for one Channel row (one account). `check` is pure and used before
approval; `publish` and `retract` do network I/O and are only ever called outside a
database transaction, by the publish task.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from django.utils.translation import gettext, gettext_noop

from publisher.channels.counting import UrlSpan, code_points, compose, cut_at, link_shown, urls

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
    # A correction: the fixed text of the post in reply_to. Adapters that support_edit
    # change that post in place; the others reply with it on its thread.
    correction: bool = False
    exercise: bool = False
    urgent: bool = False
    cap: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InboundItem:
    """A reply, mention, quote or comment read back from the network."""

    remote_id: str
    author_handle: str
    text: str
    posted_at: datetime
    url: str = ""
    kind: str = "mention"  # mention | reply | quote | comment
    # Remote ids of the post it answers, nearest first (parent, then the thread's root): one
    # of them may be a post of ours (a delivery's remote_id).
    answers: tuple[str, ...] = ()
    # What a reply on the same thread needs (the network's Receipt extra for reply_to).
    thread: dict[str, Any] = field(default_factory=dict)


# A network's inbox position (ids, page tokens), stored as JSON between fetches.
Cursor = dict[str, Any]


@dataclass(frozen=True)
class Problem:
    """Why a post does not fit a channel; `message` is translated, ready to show.

    An "error" blocks submission (the network would refuse the post); a "warning" is shown
    but lets the message go (e.g. a small image that will look blurry)."""

    code: str
    message: str
    severity: str = "error"


@dataclass(frozen=True)
class LinkShown:
    """A link in the text as the network prints it; offsets in code points of TextCount.text."""

    start: int
    end: int
    url: str
    shown: str
    clickable: bool = True


@dataclass(frozen=True)
class TextCount:
    """The text a network receives and how that network counts it: `check` judges this and the
    preview card shows it, so the author sees the very count the server refuses on.

    `cut` is where the part the network accepts ends (None: everything fits); `also` holds
    further (count, limit, unit) rules the text must meet (Bluesky's 3000 bytes)."""

    text: str
    count: int
    limit: int | None
    unit: str = "characters"
    cut: int | None = None
    links: tuple[LinkShown, ...] = ()
    also: tuple[tuple[int, int, str], ...] = ()
    # Which rule counted: "mastodon", "x", ... (an outbox channel may count like a network).
    rule: str = ""


def links_shown(
    text: str, *, keep: int | None = None, clickable: bool = True, spans: list[UrlSpan] | None = None
) -> tuple[LinkShown, ...]:
    """The links of `text` (or the given spans) as printed: in full, or shortened to `keep`."""
    found = urls(text) if spans is None else spans
    return tuple(
        LinkShown(s.start, s.end, s.url, s.url if keep is None else link_shown(s.url, keep=keep), clickable)
        for s in found
    )


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
    # The width a timeline shows an image at: a narrower one is enlarged there and looks
    # blurry (the pixelated logo). A preview warning only, never a reason to refuse.
    image_shown_width: int | None = None
    images_required: bool = False


class ChannelError(Exception):
    """Base of typed adapter errors; `message` is the network's own wording."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def reader_text(self) -> str:
        """The message in the reader's language where it is Tandem's own wording (raised with
        gettext_noop, so stored and logged in English); a network's own words as they came."""
        return gettext(self.message)


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


@dataclass(frozen=True)
class Credential:
    """A channel's stored credential, decrypted (publisher/channels/credentials.py). `secrets`
    never appears in a repr, a log line or an error: print the account instead."""

    channel_id: int
    flow: str
    secrets: Mapping[str, str] = field(repr=False)
    account: str = ""
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None


@dataclass(frozen=True)
class Refreshed:
    """What a successful refresh gives back: the new secrets (the whole set, not a diff) and
    their expiry. A refresh that fails for good raises AuthError with the network's reason."""

    secrets: Mapping[str, str] = field(repr=False)
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None


# Config keys naming the endpoint a channel calls, in the adapters' own words.
ENDPOINT_KEYS = ("url", "base_url", "api_url", "graph_url", "pds_url", "host")


class ChannelAdapter(abc.ABC):
    kind: ClassVar[str]
    limits: ClassVar[Limits] = Limits()
    supports_idempotency: ClassVar[bool] = False
    supports_replies: ClassVar[bool] = False
    supports_retract: ClassVar[bool] = False
    # The network can change a published post's text in place (see edit()).
    supports_edit: ClassVar[bool] = False
    # Whether fetch_replies reads this network's replies and mentions back.
    supports_inbox: ClassVar[bool] = False
    # A network that only gives comments post by post (Facebook): the inbox puts the remote
    # ids of the channel's recent posts in the cursor, under "watch".
    inbox_watches_posts: ClassVar[bool] = False
    # Whether fetch_metrics reads a post's public figures (replies, reposts, likes, ...).
    supports_metrics: ClassVar[bool] = False
    # What users see for this network in problems ("NL — Bluesky: 312/300 characters").
    label: ClassVar[StrOrPromise] = ""
    # Config keys saying where the adapter connects: the outgoing-request policy
    # (netpolicy.py) checks them when a channel is saved, and every connection again.
    # A missing URL means the network's public default; hosts map to their default.
    url_fields: ClassVar[tuple[str, ...]] = ()
    host_fields: ClassVar[dict[str, str]] = {}
    # The API a channel talks to when its config names none (X, Telegram, Graph API, ...).
    default_endpoint: ClassVar[str] = ""
    # How an administrator connects this kind from the channel page (a ConnectFlow value;
    # "" = nothing to connect: outbox, feeds). The admin shows that flow's button.
    connect_flow: ClassVar[str] = ""
    # True if `refresh` renews the stored credential before it expires (OAuth refresh
    # tokens, Bluesky sessions): the routine renewal calls it within the margin.
    supports_refresh: ClassVar[bool] = False

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

    def limits_in_force(self) -> Limits:
        """The limits in force for this channel (an instance's own, a configured blob size)."""
        return self.limits

    def measure(self, post: Post) -> TextCount:
        """How this network counts the post's text; code points unless the network says otherwise."""
        text = compose(post.text, post.link)
        limit = self.limits_in_force().text_max
        cut = cut_at(text, code_points, limit) if limit is not None else None
        return TextCount(
            text=text, count=code_points(text), limit=limit, cut=cut, links=links_shown(text), rule=self.kind
        )

    def preview_summary(self, post: Post) -> tuple[tuple[str, str], ...]:
        """What else the receiver gets, as (label, value) lines: a subject, a CAP headline."""
        return ()

    @abc.abstractmethod
    def check(self, post: Post) -> list[Problem]:
        """Everything that would make the network refuse this post. Pure: no I/O."""

    @abc.abstractmethod
    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        """Send the post. Raises a ChannelError subclass on failure."""

    def exercise_receipt(self, post: Post, idempotency_key: str, payload: dict[str, Any]) -> Receipt:
        """An exercise renders every payload but sends nothing: the receipt says what would have gone out."""
        return Receipt(remote_id=f"exercise-{idempotency_key}", extra={"exercise": True, "payload": payload})

    def refresh(self, credential: Credential) -> Refreshed:
        """Renew `credential` at the network (a network call; never inside a transaction).
        Raises AuthError when the grant is revoked or expired (the channel then needs
        reconnecting, with the message as the reason), TransientError to try again later."""
        raise NotImplementedError(f"{self.kind} credentials are not refreshed.")

    def revoke(self, credential: Credential) -> None:
        """Tell the network to forget `credential` (disconnect), where it offers that.
        Errors are the caller's to report: the credential is deleted anyway."""
        return  # noqa: B027 - optional: most networks offer no revocation

    def retract(self, receipt: Receipt) -> None:
        """Delete a published post. Raises PermanentError where the network cannot."""
        raise PermanentError(gettext_noop("This network does not allow deleting posts."))

    def edit(self, receipt: Receipt, post: Post, idempotency_key: str) -> Receipt:
        """Change the text of the published post ``receipt`` names to ``post.text`` (its
        images stay). Only called where ``supports_edit``; repeating it with the same text
        must be harmless, as a retry after a timeout does. Returns the post's receipt."""
        raise PermanentError(gettext_noop("This network does not allow editing posts."))

    def fetch_replies(self, cursor: Cursor | None) -> tuple[list[InboundItem], Cursor]:
        """One page of replies and mentions newer than ``cursor`` (None: never fetched), and the
        cursor to pass next time. The same cursor back means nothing more to read now. Network
        I/O: never inside a transaction. Raises a ChannelError subclass (RateLimited with
        retry_after) like publish."""
        raise PermanentError(gettext_noop("This network gives no replies or mentions to read."))

    def fetch_metrics(self, receipt: Receipt) -> dict[str, int]:
        """The post's public figures now, by name: replies, reposts, likes, quotes, views (what
        the network gives). Network I/O; raises a ChannelError subclass like publish."""
        raise PermanentError(gettext_noop("This network gives no figures for a post."))
