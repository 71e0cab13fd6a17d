"""Rows for the newsroom home's tests: a message in a given state with one occurrence and its
deliveries, written directly (the services that lead there have their own tests)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from accounts.models import User
from publisher.models import Channel, Delivery, Message, MessageState, Occurrence, Variant


def message_with_deliveries(
    *,
    author: User,
    due_at: datetime,
    routes: list[tuple[Channel, str]],
    title: str = "Message",
    state: str = MessageState.SCHEDULED,
    **fields: Any,
) -> tuple[Message, list[Delivery]]:
    """``routes``: (channel, delivery state) pairs; each delivery is in its channel's language."""
    message = Message.objects.create(
        title=title, author=author, state=state, publish_at=due_at, approved_at=due_at, **fields
    )
    for language in sorted({channel.language for channel, _state in routes} or {"fr"}):
        Variant.objects.create(message=message, language=language, text=f"Texte {language}")
    occurrence = Occurrence.objects.create(message=message, due_at=due_at)
    deliveries = [
        Delivery.objects.create(
            occurrence=occurrence,
            channel=channel,
            language=channel.language,
            state=delivery_state,
            due_at=due_at,
            next_attempt_at=due_at,
            last_error="HTTP 500 from the network" if delivery_state == "failed" else "",
            remote_url=f"https://social.example/@{channel.pk}/{message.pk}" if delivery_state == "sent" else "",
        )
        for channel, delivery_state in routes
    ]
    return message, deliveries
