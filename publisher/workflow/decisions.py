"""The decisions the newsroom home offers: what happens to a delivery that failed, expired or
is unconfirmed (send it again, give it up, or record that someone posted it by hand), and an
approver's review of an alert the urgent-alert policy approved.

Only approvers and channel administrators decide about deliveries (publisher.newsroom
.may_decide); only approvers review alerts. Each decision is audited and moves the message's
derived state in the same transaction.
"""

from __future__ import annotations

from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from publisher.audit import audit_record
from publisher.delivery import publishing
from publisher.errors import InvalidTransition, NotAllowed, ValidationError
from publisher.models import Delivery, DeliveryState, Message
from publisher.workflow import newsroom

REMOTE_URL_MAX = 1000


def _require_decider(actor: User) -> None:
    if not newsroom.may_decide(actor):
        raise NotAllowed(_("Only an approver or a channel administrator may decide what happens to a delivery."))


def _require_not_delivered(delivery: Delivery) -> None:
    if delivery.state not in newsroom.NEEDS_DECISION:
        raise InvalidTransition(
            _("Only a failed, unconfirmed or expired delivery needs this decision (this one is “%(state)s”).")
            % {"state": delivery.get_state_display()}
        )


def delivery_retry(*, delivery: Delivery, actor: User) -> Delivery:
    """Send it again (publishing.delivery_retry), for those who may decide."""
    _require_decider(actor)
    return publishing.delivery_retry(delivery=delivery, actor=actor)


def delivery_give_up(*, delivery: Delivery, actor: User, reason: str = "") -> Delivery:
    """Leave it unsent for good: the delivery is cancelled, the rest of the message stands."""
    _require_decider(actor)
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        _require_not_delivered(delivery)
        previous = delivery.state
        delivery.state = DeliveryState.CANCELLED
        delivery.next_attempt_at = None
        delivery.lease_expires_at = None
        delivery.save(update_fields=["state", "next_attempt_at", "lease_expires_at", "updated_at"])
        publishing.message_state_refresh(message_id=delivery.occurrence.message_id)
        audit_record(
            actor=actor, verb="delivery.given_up", obj=delivery, summary={"from": previous, "reason": reason.strip()}
        )
    return delivery


def delivery_mark_posted(*, delivery: Delivery, actor: User, remote_url: str = "") -> Delivery:
    """Someone posted it by hand (or the unconfirmed post did go out): record it as sent,
    with the post's address when known. Retracting it later is done by hand too: we hold no
    id the network would recognise."""
    _require_decider(actor)
    remote_url = remote_url.strip()
    if remote_url:
        if len(remote_url) > REMOTE_URL_MAX:
            raise ValidationError(
                {"remote_url": _("The address is too long (at most %(max)s characters).") % {"max": REMOTE_URL_MAX}}
            )
        try:
            URLValidator(schemes=["http", "https"])(remote_url)
        except ValidationError as exc:
            raise ValidationError({"remote_url": _("Enter the post's full address, starting with https://.")}) from exc
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        _require_not_delivered(delivery)
        previous = delivery.state
        now = timezone.now()
        delivery.state = DeliveryState.SENT
        delivery.sent_at = now
        delivery.next_attempt_at = None
        delivery.lease_expires_at = None
        if remote_url:
            delivery.remote_url = remote_url
        delivery.receipt = {**(delivery.receipt or {}), "posted_by_hand": actor.get_username()}
        delivery.save(
            update_fields=[
                "state",
                "sent_at",
                "next_attempt_at",
                "lease_expires_at",
                "remote_url",
                "receipt",
                "updated_at",
            ]
        )
        publishing.message_state_refresh(message_id=delivery.occurrence.message_id, now=now)
        audit_record(
            actor=actor,
            verb="delivery.marked_posted",
            obj=delivery,
            summary={"from": previous, "remote_url": delivery.remote_url},
        )
    return delivery


def alert_review(*, message: Message, actor: User, comment: str = "") -> Message:
    """An approver has read an alert the urgent-alert policy approved (the four eyes after the
    fact). Recorded once: a second review of the same alert is refused."""
    if not newsroom.may_review_alerts(actor):
        raise NotAllowed(_("Only an approver may review alerts approved by the urgent-alert policy."))
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        if not message.approved_by_policy:
            raise InvalidTransition(_("This message was not approved by the urgent-alert policy."))
        if newsroom.policy_alert_is_reviewed(message):
            raise InvalidTransition(_("This alert has already been reviewed."))
        audit_record(actor=actor, verb=newsroom.POLICY_REVIEWED_VERB, obj=message, summary={"comment": comment.strip()})
    return message
