"""The language guard applied to a whole message: every variant and every image's alt text.

Errors are keyed by the field they are about, as the API reports them: "variants.nl" for a
variant, "attachments.<id>.alt_nl" for an alt text. An error the author confirmed as a
deliberate exception for exactly this text (publisher.language.confirmations) no longer blocks,
but stays visible, marked confirmed, for the approver.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from publisher.language.findings import TextFinding
from publisher.language.guard import text_findings
from publisher.models import LanguageConfirmation, Message

LANGUAGES = ("fr", "nl", "de")


@dataclass(frozen=True)
class CheckedText:
    field: str
    language: str
    text: str
    attachment_id: int | None = None


@dataclass(frozen=True)
class FieldFinding:
    field: str
    finding: TextFinding
    # Set for an error confirmed as a deliberate exception for this very text.
    confirmation: LanguageConfirmation | None = None
    attachment_id: int | None = None

    @property
    def blocking(self) -> bool:
        return self.finding.severity == "error" and self.confirmation is None

    @property
    def problem(self) -> str:
        """The finding as one line of the message's problem list."""
        if self.attachment_id is None:
            return self.finding.message
        return _("Image alt text: %(problem)s") % {"problem": self.finding.message}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def variant_field(language: str) -> str:
    return f"variants.{language}"


def alt_field(attachment_id: int, language: str) -> str:
    return f"attachments.{attachment_id}.alt_{language}"


def message_texts(message: Message) -> list[CheckedText]:
    """Every text of the message the guard checks, in a stable order."""
    texts = [
        CheckedText(field=variant_field(v.language), language=v.language, text=v.text)
        for v in message.variants.all()
        if v.language in LANGUAGES and v.text.strip()
    ]
    for attachment in message.attachments.all():
        for language in LANGUAGES:
            alt = attachment.alt_for(language)
            if alt.strip():
                texts.append(
                    CheckedText(
                        field=alt_field(attachment.pk, language),
                        language=language,
                        text=alt,
                        attachment_id=attachment.pk,
                    )
                )
    return texts


def message_language_findings(message: Message) -> list[FieldFinding]:
    """Everything the guard says about the message's texts, confirmed errors included."""
    confirmations = {(c.field, c.text_hash): c for c in message.language_confirmations.select_related("confirmed_by")}
    out: list[FieldFinding] = []
    for checked in message_texts(message):
        digest = text_hash(checked.text)
        for finding in text_findings(language=checked.language, text=checked.text):
            confirmation = confirmations.get((checked.field, digest)) if finding.severity == "error" else None
            out.append(
                FieldFinding(
                    field=checked.field,
                    finding=finding,
                    confirmation=confirmation,
                    attachment_id=checked.attachment_id,
                )
            )
    return out


def message_language_errors(message: Message) -> dict[str, list[ValidationError]]:
    """What blocks submission and approval, keyed by field, each error with its code."""
    errors: dict[str, list[ValidationError]] = {}
    for item in message_language_findings(message):
        if item.blocking:
            errors.setdefault(item.field, []).append(ValidationError(item.problem, code=item.finding.code))
    return errors
