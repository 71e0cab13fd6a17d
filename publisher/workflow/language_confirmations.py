"""The author confirms a language error as a deliberate exception (a quote, a bilingual slogan).

Policy:
- Who: someone who may change messages (the author or a fellow editor): it is a decision about
  the content. The confirmer joins the message's editors, so four eyes still hold: whoever
  vouched for the exception cannot also approve the message.
- When: while the message is a draft or rejected, i.e. before it goes to the approvers; the
  approver then sees the confirmed exception, with its reason, in the message's problem list.
- What: only an error the guard reports now for this exact text (its SHA-256); editing the text
  makes the guard ask again. Every confirmation is in the audit trail.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from publisher.audit import audit_record
from publisher.errors import InvalidTransition, NotAllowed, ValidationError
from publisher.language.problems import (
    LANGUAGES,
    alt_field,
    message_language_findings,
    message_texts,
    text_hash,
    variant_field,
)
from publisher.models import Attachment, LanguageConfirmation, Message, MessageState

CONFIRMABLE_STATES = {MessageState.DRAFT, MessageState.REJECTED}
REASON_MAX = 1000


def variant_language_confirm(*, message: Message, language: str, reason: str, actor: User) -> LanguageConfirmation:
    """Confirm the language error of a variant's text as deliberate."""
    _check_language(language)
    return language_confirm(message=message, field=variant_field(language), reason=reason, actor=actor)


def attachment_language_confirm(
    *, attachment: Attachment, language: str, reason: str, actor: User
) -> LanguageConfirmation:
    """Confirm the language error of an image's alt text as deliberate."""
    _check_language(language)
    return language_confirm(
        message=attachment.message, field=alt_field(attachment.pk, language), reason=reason, actor=actor
    )


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValidationError({"language": _("Unknown language: use fr, nl or de.")})


def language_confirm(*, message: Message, field: str, reason: str, actor: User) -> LanguageConfirmation:

    if not actor.has_perm("publisher.change_message"):
        raise NotAllowed(_("You are not allowed to change messages."))
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why this text is deliberately in another language.")})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": _("Keep the reason under %(max)d characters.") % {"max": REASON_MAX}})
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        if message.state not in CONFIRMABLE_STATES:
            raise InvalidTransition(
                _("A language exception is confirmed before submission, not while the message is “%(state)s”.")
                % {"state": message.get_state_display()}
            )
        texts = {t.field: t for t in message_texts(message)}
        if field not in texts:
            raise ValidationError({"language": _("This message has no such text.")})
        blocking = [f for f in message_language_findings(message) if f.field == field and f.blocking]
        if not blocking:
            raise ValidationError({field: _("There is no language error to confirm in this text.")})
        checked = texts[field]
        confirmation = LanguageConfirmation.objects.create(
            message=message,
            field=field,
            language=checked.language,
            text_hash=text_hash(checked.text),
            reason=reason,
            confirmed_by=actor,
        )
        # Vouching for the exception is part of writing the message: four eyes.
        message.editors.add(actor)
        audit_record(
            actor=actor,
            verb="message.language_confirmed",
            obj=message,
            summary={
                "field": field,
                "language": checked.language,
                "text_hash": confirmation.text_hash,
                "reason": reason,
                "codes": [f.finding.code for f in blocking],
                "findings": [f.finding.message for f in blocking],
            },
        )
    return confirmation
