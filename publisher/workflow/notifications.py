"""Emails about the approval workflow. Always sent after commit, in the recipient's language.

Callers use `message_notify_on_commit` inside their transaction: nothing is sent when the
transaction rolls back, and no SMTP call ever runs inside a transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from publisher.mail import mail_send
from publisher.models import Message

logger = logging.getLogger(__name__)

EVENTS = ("submitted", "approved", "rejected", "expired", "audience_changed", "published")


def message_url(message: Message) -> str:
    return settings.TANDEM_PUBLIC_URL.rstrip("/") + reverse("admin:publisher_message_change", args=[message.pk])


def approvers_for(message: Message) -> list[User]:
    """Active users who may approve the message: holders of the permission, never its author
    nor anyone who changed its content since the last approval."""
    users = (
        User.objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(user_permissions__codename="approve_message")
            | Q(groups__permissions__codename="approve_message")
        )
        .exclude(pk=message.author_id)
        .exclude(pk__in=message.editors.values("pk"))
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )
    return list(users)


def _send(*, event: str, message: Message, recipients: Iterable[User], comment: str = "") -> int:
    sent = 0
    for user in recipients:
        with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
            context = {"message": message, "user": user, "url": message_url(message), "comment": comment}
            subject = render_to_string(f"emails/message_{event}_subject.txt", context).strip()
            body = render_to_string(f"emails/message_{event}.txt", context)
        sent += mail_send(subject=subject, body=body, to=[user.email])
    return sent


def message_notify(*, message_id: int, event: str, comment: str = "") -> int:
    """Send the emails for one workflow event; returns how many were sent."""
    if event not in EVENTS:
        raise ValueError(f"Unknown notification event {event!r}")
    message = Message.objects.select_related("author").get(pk=message_id)
    if event == "submitted":
        recipients = approvers_for(message)
    else:
        recipients = [message.author] if message.author.email else []
    return _send(event=event, message=message, recipients=recipients, comment=comment)


def message_notify_on_commit(*, message_id: int, event: str, comment: str = "") -> None:
    def send() -> None:
        try:
            message_notify(message_id=message_id, event=event, comment=comment)
        except Exception:  # noqa: BLE001 - a mail server outage must not break the workflow
            logger.exception("Could not send the %s notification for message %s", event, message_id)

    transaction.on_commit(send)


def message_published_notify(*, message_id: int) -> None:
    """The author hears that every post of their message went out (after the commit)."""
    message_notify_on_commit(message_id=message_id, event="published")
