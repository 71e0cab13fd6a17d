"""Following up a published message from the message page: correct it, update it, or give the
all-clear. Each starts as a draft prefilled with the original (its texts, audience, urgency,
status and CAP details) that goes through approval like any message (four eyes); the API's
urgent alerts have their own path under the alert policy (workflow.alerts).

Once approved, delivery routes a follow-up to the channels that carried the original, on its
threads; a correction edits the original posts in place where the network allows it and
replies with the fixed text elsewhere (delivery.scheduling, delivery.publishing).
"""

from __future__ import annotations

from django.db import models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from publisher.errors import InvalidTransition, ValidationError
from publisher.models import Delivery, DeliveryState, Message, MessageKind, MessageState
from publisher.workflow import services
from publisher.workflow.services import VariantInput


class FollowUp(models.TextChoices):
    """What the message page's buttons ask for."""

    CORRECT = "correct", gettext_lazy("Correct")
    UPDATE = "update", gettext_lazy("Update")
    ALL_CLEAR = "all_clear", gettext_lazy("All clear")


# States in which posts may be out (a recurring message is scheduled or publishing between
# its occurrences); a follow-up also needs one of its deliveries sent.
FOLLOWABLE_STATES = {
    MessageState.SCHEDULED,
    MessageState.PUBLISHING,
    MessageState.PUBLISHED,
    MessageState.PARTIALLY_FAILED,
}


def _has_sent_posts(message: Message) -> bool:
    return Delivery.objects.filter(occurrence__message=message, state=DeliveryState.SENT).exists()


def message_can_follow_up(message: Message) -> bool:
    """Whether the message page offers Correct, Update and All clear."""
    return message.state in FOLLOWABLE_STATES and not message.is_correction and _has_sent_posts(message)


def message_follow_up_draft(*, original: Message, actor: User, kind: str) -> Message:
    """A draft follow-up of ``original`` by ``actor``, prefilled with its texts; the actor edits
    it and submits it for approval. A correction keeps the original's title and changes only its
    texts (its images stay those of the posts it corrects)."""
    if kind not in FollowUp.values:
        raise ValidationError({"kind": _("Choose Correct, Update or All clear.")})
    if original.is_correction:
        raise InvalidTransition(_("A correction cannot be followed up: follow up the message it corrects."))
    if original.state not in FOLLOWABLE_STATES:
        raise InvalidTransition(
            _("Only a published message can be corrected or followed up (this one is “%(state)s”).")
            % {"state": original.get_state_display()}
        )
    if not _has_sent_posts(original):
        raise InvalidTransition(_("None of this message's posts went out: there is nothing to follow up."))
    labels = {
        FollowUp.CORRECT: _("Correction"),
        FollowUp.UPDATE: _("Update"),
        FollowUp.ALL_CLEAR: _("All clear"),
    }
    variants = {v.language: VariantInput(text=v.text, link=v.link) for v in original.variants.all()}
    with transaction.atomic():
        draft = services.message_create(
            author=actor,
            title=(_("%(kind)s: %(title)s") % {"kind": labels[FollowUp(kind)], "title": original.title})[:200],
            variants=variants,
            audience=services.message_audience(original),
            urgency=original.urgency,
            status=original.status,
            cap=original.cap,
        )
        draft.follows = original
        draft.is_correction = kind == FollowUp.CORRECT
        draft.kind = MessageKind.CANCEL if kind == FollowUp.ALL_CLEAR else MessageKind.UPDATE
        draft.content_hash = services.message_content_hash(draft)
        draft.save(update_fields=["follows", "is_correction", "kind", "content_hash", "updated_at"])
        services.audit_record(
            actor=actor,
            verb="message.correction_drafted" if draft.is_correction else "message.follow_up_drafted",
            obj=draft,
            summary={"follows": original.pk, "kind": draft.kind},
        )
        services.audit_record(
            actor=actor,
            verb="message.correction_drafted" if draft.is_correction else "message.follow_up_drafted",
            obj=original,
            summary={"draft": draft.pk, "kind": draft.kind},
        )
    return draft
