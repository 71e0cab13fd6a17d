"""The way back: read each channel's replies and mentions into the inbox, and send our answers
on the same threads.

Fetching: a channel's adapter reads one page at a time from its cursor
(``ChannelAdapter.fetch_replies``), outside any transaction; each page's items and the cursor
after it are then stored in one short transaction. A fetch stopped half-way (a crash, a
deploy, a rate limit) resumes from the last stored page: nothing is read twice, nothing is
skipped, and an item met again anyway is not stored twice (one row per channel and remote id).
A rate limit or an outage puts the channel's next fetch back with the delay a delivery would
wait (``publishing.retry_delay``: exponential, never sooner than Retry-After).

Sending: an approved answer is published by the channel's adapter with ``Post.reply_to``
naming the item, with an idempotency key of its own, and its outcome recorded like a
delivery's (transient errors wait and retry, a timeout after sending is unconfirmed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from publisher.audit import audit_record
from publisher.channels.base import (
    AuthError,
    ChannelError,
    Cursor,
    InboundItem,
    Post,
    Receipt,
    TransientError,
    UnknownOutcome,
)
from publisher.channels.http import excerpt
from publisher.channels.registry import adapter_classes, get_adapter
from publisher.delivery import enqueue
from publisher.delivery.publishing import channel_reconnect_needed, retry_delay
from publisher.language.detection import detect
from publisher.models import (
    Channel,
    Delivery,
    DeliveryState,
    InboxCursor,
    InboxItem,
    InboxReply,
    InboxReplyState,
)

logger = logging.getLogger(__name__)
ACTOR_LABEL = "inbox"


@dataclass
class FetchResult:
    channel_id: int
    pages: int = 0
    stored: int = 0
    seen_again: int = 0
    error: str = ""
    next_fetch_at: datetime | None = None
    finished: bool = False
    stored_ids: list[int] = field(default_factory=list)


def inbox_channels() -> list[Channel]:
    """Enabled channels whose network gives replies back and whose credentials work."""
    rows = Channel.objects.filter(enabled=True, needs_reconnect=False).order_by("pk")
    return [channel for channel in rows if get_adapter(channel).supports_inbox]


def channels_due(*, now: datetime) -> list[Channel]:
    waiting = set(
        InboxCursor.objects.filter(next_fetch_at__gt=now).values_list("channel_id", flat=True),
    )
    return [channel for channel in inbox_channels() if channel.pk not in waiting]


def _items_store(channel: Channel, items: Sequence[InboundItem]) -> tuple[list[int], int]:
    """Store the page's new items (call inside the transaction that moves the cursor)."""
    wanted = {item.remote_id for item in items}
    known = set(
        InboxItem.objects.filter(channel=channel, remote_id__in=sorted(wanted)).values_list("remote_id", flat=True)
    )
    answered = {answer for item in items for answer in item.answers}
    ours = {
        d.remote_id: d
        for d in Delivery.objects.filter(channel=channel, remote_id__in=sorted(answered)).select_related(
            "occurrence__message"
        )
    }
    stored: list[int] = []
    seen_again = 0
    for item in items:
        if item.remote_id in known:
            seen_again += 1
            continue
        known.add(item.remote_id)
        delivery = next((ours[a] for a in item.answers if a in ours), None)
        detected = detect(item.text)
        row = InboxItem.objects.create(
            channel=channel,
            remote_id=item.remote_id[:500],
            kind=item.kind,
            author_handle=item.author_handle[:300],
            text=item.text,
            language=detected if detected else channel.language,
            language_detected=detected is not None,
            posted_at=item.posted_at,
            url=item.url[:1000],
            in_reply_to=(item.answers[0] if item.answers else "")[:500],
            delivery=delivery,
            thread=dict(item.thread),
            possible_tip=bool(delivery and delivery.occurrence.message.witness_appeal),
        )
        stored.append(row.pk)
    return stored, seen_again


def _cursor_row(channel: Channel) -> InboxCursor:
    row, _created = InboxCursor.objects.get_or_create(channel=channel)
    return row


def watched_posts(channel: Channel, now: datetime) -> list[str]:
    """The channel's own posts of the last TANDEM_INBOX_WATCH_DAYS days, oldest first (a
    network that gives comments post by post is asked about these)."""
    since = now - timedelta(days=settings.TANDEM_INBOX_WATCH_DAYS)
    rows = Delivery.objects.filter(
        channel=channel, state=DeliveryState.SENT, sent_at__gte=since, reply_to__isnull=True
    ).exclude(remote_id="")
    return list(rows.order_by("sent_at", "pk").values_list("remote_id", flat=True))


def channel_inbox_fetch(*, channel: Channel, now: datetime | None = None, max_pages: int | None = None) -> FetchResult:
    """Read the channel's new replies and mentions, page by page, until the network has no
    more or ``max_pages`` (TANDEM_INBOX_PAGES) were read: the cursor keeps the rest for the
    next fetch. Never call inside a transaction (network I/O)."""
    now = now or timezone.now()
    pages = max_pages if max_pages is not None else settings.TANDEM_INBOX_PAGES
    result = FetchResult(channel_id=channel.pk)
    adapter = get_adapter(channel)
    cursor = _cursor_row(channel)
    position: Cursor = dict(cursor.position or {})
    if adapter.inbox_watches_posts:
        position["watch"] = watched_posts(channel, now)
    while result.pages < pages:
        try:
            items, after = adapter.fetch_replies(position or None)
        except ChannelError as exc:
            _fetch_failed(cursor, exc, now, result)
            return result
        result.pages += 1
        with transaction.atomic():
            stored, seen_again = _items_store(channel, items)
            InboxCursor.objects.filter(pk=cursor.pk).update(position=after)
        result.stored += len(stored)
        result.stored_ids += stored
        result.seen_again += seen_again
        if after == position:
            result.finished = True
            break
        position = after
    result.next_fetch_at = now + timedelta(seconds=settings.TANDEM_INBOX_FETCH_SECONDS)
    if not result.finished:
        result.next_fetch_at = now  # more to read: the next pass goes on at once
    InboxCursor.objects.filter(pk=cursor.pk).update(
        fetched_at=now, next_fetch_at=result.next_fetch_at, failures=0, last_error=""
    )
    return result


def _fetch_failed(cursor: InboxCursor, exc: ChannelError, now: datetime, result: FetchResult) -> None:
    failures = cursor.failures + 1
    retry_after = exc.retry_after if isinstance(exc, TransientError) else None
    if isinstance(exc, TransientError | UnknownOutcome):
        delay = retry_delay(failures, retry_after)
    elif isinstance(exc, AuthError):
        # As when sending: the channel is held until someone reconnects it (inbox_channels
        # skips it meanwhile), then read again at once.
        delay = 0.0
    else:
        # Refused for good (credentials, a closed API): try again much later, an admin sees why.
        delay = float(settings.TANDEM_RETRY_MAX_SECONDS)
    result.error = excerpt(exc.message)
    result.next_fetch_at = now + timedelta(seconds=delay)
    InboxCursor.objects.filter(pk=cursor.pk).update(
        failures=failures, last_error=result.error, next_fetch_at=result.next_fetch_at
    )
    if isinstance(exc, AuthError):
        channel_reconnect_needed(channel_id=cursor.channel_id, reason=result.error, now=now)
    logger.warning(
        "inbox fetch failed",
        extra={"channel_id": cursor.channel_id, "error": result.error, "auth": isinstance(exc, AuthError)},
    )


def inbox_fetch_due(*, now: datetime | None = None) -> list[FetchResult]:
    """One pass: every channel whose next fetch is due (the ``inbox_poll`` command's loop)."""
    now = now or timezone.now()
    return [channel_inbox_fetch(channel=channel, now=now) for channel in channels_due(now=now)]


# --- answers ------------------------------------------------------------------------------


def reply_idempotency_key(reply_id: int) -> str:
    return f"tandem-inbox-reply-{reply_id}"


def reply_post(reply: InboxReply) -> Post:
    """Our answer as the adapter's post: on the item's thread, in the channel's language."""
    item = reply.item
    return Post(
        text=reply.text,
        language=item.channel.language,
        reply_to=Receipt(remote_id=item.remote_id, url=item.url, extra=dict(item.thread or {})),
    )


def replies_send_on_commit(reply_ids: Iterable[int]) -> None:
    ids = list(reply_ids)

    def inbox_replies_hand_over() -> None:
        enqueue.enqueue_inbox_replies(ids)

    transaction.on_commit(inbox_replies_hand_over)


def _reply_take(reply_id: int, now: datetime) -> InboxReply | None:
    """Move the answer to sending if it is due (one worker wins)."""
    due = Q(state=InboxReplyState.APPROVED) | Q(state=InboxReplyState.RETRY_WAIT, next_attempt_at__lte=now)
    with transaction.atomic():
        taken = (
            InboxReply.objects.filter(due, pk=reply_id)
            .exclude(item__channel__needs_reconnect=True)
            .update(state=InboxReplyState.SENDING, next_attempt_at=now + timedelta(minutes=5))
        )
    if not taken:
        return None
    return InboxReply.objects.select_related("item__channel").get(pk=reply_id)


def inbox_reply_send(*, reply_id: int, now: datetime | None = None) -> str:
    """Publish one approved answer and record the outcome; returns the reply's new state."""
    now = now or timezone.now()
    reply = _reply_take(reply_id, now)
    if reply is None:
        return ""
    adapter = get_adapter(reply.item.channel)
    attempts = reply.attempts + 1
    fields: dict[str, object] = {"attempts": attempts}
    try:
        receipt = adapter.publish(reply_post(reply), reply_idempotency_key(reply.pk))
    except UnknownOutcome as exc:
        retry = adapter.supports_idempotency and attempts < settings.TANDEM_MAX_ATTEMPTS
        fields |= {
            "state": InboxReplyState.RETRY_WAIT if retry else InboxReplyState.UNCONFIRMED,
            "next_attempt_at": now + timedelta(seconds=retry_delay(attempts)) if retry else None,
            "last_error": excerpt(exc.message),
        }
    except TransientError as exc:
        retry = attempts < settings.TANDEM_MAX_ATTEMPTS
        fields |= {
            "state": InboxReplyState.RETRY_WAIT if retry else InboxReplyState.FAILED,
            "next_attempt_at": now + timedelta(seconds=retry_delay(attempts, exc.retry_after)) if retry else None,
            "last_error": excerpt(exc.message),
        }
    except ChannelError as exc:
        fields |= {"state": InboxReplyState.FAILED, "next_attempt_at": None, "last_error": excerpt(exc.message)}
        if isinstance(exc, AuthError):
            channel_reconnect_needed(channel_id=reply.item.channel_id, reason=excerpt(exc.message), now=now)
    else:
        fields |= {
            "state": InboxReplyState.SENT,
            "next_attempt_at": None,
            "remote_id": receipt.remote_id[:500],
            "remote_url": receipt.url[:1000],
            "sent_at": timezone.now(),
            "last_error": "",
        }
    with transaction.atomic():
        InboxReply.objects.filter(pk=reply.pk).update(**fields)
        state = str(fields["state"])
        if state == InboxReplyState.SENT:
            InboxItem.objects.filter(pk=reply.item_id).update(state="answered", updated_at=timezone.now())
        if state in (InboxReplyState.SENT, InboxReplyState.FAILED, InboxReplyState.UNCONFIRMED):
            audit_record(
                actor=None,
                actor_label=ACTOR_LABEL,
                verb="inbox.reply_sent" if state == InboxReplyState.SENT else "inbox.reply_failed",
                obj=reply,
                summary={"item": reply.item_id, "channel": reply.item.channel_id, "state": state},
            )
    return state


def inbox_replies_due(*, now: datetime | None = None) -> list[int]:
    """Answers whose retry time came (the ``inbox_poll`` command sends them)."""
    now = now or timezone.now()
    due = Q(state=InboxReplyState.RETRY_WAIT, next_attempt_at__lte=now) | Q(
        state=InboxReplyState.SENDING, next_attempt_at__lte=now
    )
    # A sender that died mid-call left its answer "sending" past its lease: retried where the
    # network recognises a repeated key, else unconfirmed (someone checks the thread).
    stranded = InboxReply.objects.filter(state=InboxReplyState.SENDING, next_attempt_at__lte=now)
    classes = adapter_classes()
    for reply in stranded.select_related("item__channel"):
        adapter = classes.get(reply.item.channel.kind)
        idempotent = adapter is not None and adapter.supports_idempotency
        InboxReply.objects.filter(pk=reply.pk, state=InboxReplyState.SENDING).update(
            state=InboxReplyState.RETRY_WAIT if idempotent else InboxReplyState.UNCONFIRMED,
            next_attempt_at=now if idempotent else None,
            last_error="" if idempotent else "The sender stopped during the call: check the thread.",
        )
    return list(InboxReply.objects.filter(due).values_list("pk", flat=True))
