"""Retracting a message: a decision on the message (workflow), carried out by delivery (the
deliveries not started are cancelled, the sent posts are deleted by a task)."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from publisher.delivery import enqueue, scheduling
from publisher.delivery.publishing import DERIVED_STATES
from publisher.models import Delivery, DeliveryState, Message, MessageState
from publisher.workflow import boosts, services


def message_retract(*, message: Message, actor: User | None, reason: str) -> Message:
    """Withdraw a message everywhere: stop what has not gone out and ask each network to
    delete what was posted (after commit, by a task that records where it could not)."""
    retractable = DERIVED_STATES | {MessageState.APPROVED}
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        services.message_require_state(message, retractable)
        # Paid promotions first: their pauses run after the commit before the deletions.
        stopped = boosts.message_boosts_stop(message=message, actor=actor, reason=reason.strip())
        cancelled = scheduling.message_unschedule(message=message, actor=actor)
        sent_ids = list(
            Delivery.objects.filter(occurrence__message=message, state=DeliveryState.SENT).values_list("pk", flat=True)
        )
        message.state = MessageState.RETRACTED
        message.state_reason_set(text=reason.strip())
        message.save(update_fields=["state", "state_reason", "state_reason_coded", "updated_at"])
        services.audit_record(
            actor=actor,
            verb="message.retracted",
            obj=message,
            summary={
                "reason": reason.strip(),
                "cancelled": cancelled,
                "to_delete": sent_ids,
                "promotions_stopped": stopped,
            },
        )
        if sent_ids:

            def retract_enqueue() -> None:
                enqueue.enqueue_retract(sent_ids)

            transaction.on_commit(retract_enqueue, robust=True)
    return message
