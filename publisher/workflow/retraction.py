"""Retracting a message: a decision on the message (workflow), carried out by delivery (the
deliveries not started are cancelled, the sent posts are deleted by a task)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from accounts.models import User
from publisher.channels import registry
from publisher.delivery import enqueue, publishing, scheduling
from publisher.delivery.publishing import DERIVED_STATES
from publisher.delivery.selectors import message_deliveries
from publisher.models import Delivery, DeliveryState, Message, MessageState
from publisher.workflow import boosts, services

RETRACTABLE_STATES = DERIVED_STATES | {MessageState.APPROVED}


@dataclass
class RetractionPlan:
    """What retracting a message would do, post by post (the confirmation page lists it)."""

    # Posted, and the network lets us delete them: deleted after the confirmation.
    to_delete: list[Delivery] = field(default_factory=list)
    # Posted on a network that offers no deletion (Instagram): they stay until removed by hand.
    cannot_delete: list[Delivery] = field(default_factory=list)
    # Being sent now, or sent without an answer: whether they are online is unknown.
    uncertain: list[Delivery] = field(default_factory=list)
    # Not gone out yet: they never will.
    to_stop: list[Delivery] = field(default_factory=list)


def message_retraction_plan(message: Message) -> RetractionPlan:
    plan = RetractionPlan()
    classes = registry.adapter_classes()
    for delivery in message_deliveries(message):
        if delivery.state == DeliveryState.SENT:
            adapter = classes.get(delivery.channel.kind)
            deletable = adapter is not None and adapter.supports_retract
            (plan.to_delete if deletable else plan.cannot_delete).append(delivery)
        elif delivery.state in (DeliveryState.SENDING, DeliveryState.UNCONFIRMED):
            plan.uncertain.append(delivery)
        elif delivery.state in scheduling.NOT_STARTED:
            plan.to_stop.append(delivery)
    return plan


def message_retract(*, message: Message, actor: User | None, reason: str) -> Message:
    """Withdraw a message everywhere: stop what has not gone out and ask each network to
    delete what was posted (after commit, by a task that records where it could not)."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        services.message_require_state(message, RETRACTABLE_STATES)
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
        else:
            # Nothing online to delete first (renditions may remain from refused attempts):
            # our copies go right after the commit; the retract task does it otherwise.
            message_id = message.pk

            def retracted_files_remove() -> None:
                publishing.retracted_files_remove(message_id=message_id)

            transaction.on_commit(retracted_files_remove, robust=True)
    return message
