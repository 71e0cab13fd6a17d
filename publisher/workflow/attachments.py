"""Writes on message images. The upload is validated and sanitised before anything is
stored; the file is content-addressed (its SHA-256 names it) and written inside the
transaction that records it, and removed again if that transaction fails."""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from accounts.models import User
from publisher.errors import InvalidTransition, ValidationError
from publisher.media.images import image_ingest
from publisher.models import Attachment, Language, Message, attachment_path
from publisher.workflow import services


def _check_editable(message: Message) -> None:
    if message.state not in services.EDITABLE_STATES:
        raise InvalidTransition(
            _("A message in state “%(state)s” can no longer be edited.") % {"state": message.get_state_display()}
        )


def attachment_add(
    *,
    message: Message,
    actor: User,
    file: Any,
    alt_fr: str = "",
    alt_nl: str = "",
    alt_de: str = "",
    language: str = "",
) -> Attachment:
    """Attach an image to a message. Raises ValidationError (nothing stored) if the file is refused."""
    _check_editable(message)
    if language and language not in Language.values:
        raise ValidationError(
            {"language": _("Unknown language “%(language)s”: use fr, nl or de.") % {"language": language}}
        )
    ingested = image_ingest(file)
    attachment = Attachment(
        message=message,
        sha256=ingested.sha256,
        format=ingested.format,
        alt_fr=alt_fr.strip(),
        alt_nl=alt_nl.strip(),
        alt_de=alt_de.strip(),
        language=language,
    )
    name = attachment_path(attachment, "")
    # The same image attached twice (or to two messages) is stored once.
    created_file = not default_storage.exists(name)
    try:
        with transaction.atomic():
            message = Message.objects.select_for_update().get(pk=message.pk)
            _check_editable(message)
            if created_file:
                stored = default_storage.save(name, ContentFile(ingested.content))
                if stored != name:  # a concurrent upload of the same bytes won the name
                    default_storage.delete(stored)
            attachment.message = message
            attachment.image.name = name
            attachment.width, attachment.height = ingested.width, ingested.height
            attachment.position = (message.attachments.aggregate(top=Max("position"))["top"] or 0) + 1
            attachment.save()
            services.audit_record(
                actor=actor,
                verb="attachment.added",
                obj=message,
                summary={
                    "attachment": attachment.pk,
                    "sha256": ingested.sha256,
                    "format": ingested.format,
                    "width": ingested.width,
                    "height": ingested.height,
                    "language": language,
                    "warnings": ingested.warnings,
                },
            )
            services.message_attachments_changed(message=message, actor=actor)
    except BaseException:
        if created_file:
            default_storage.delete(name)
        raise
    attachment.ingest_warnings = ingested.warnings  # type: ignore[attr-defined]
    return attachment


def attachment_remove(*, attachment: Attachment, actor: User) -> None:
    """Detach an image; the file goes once no attachment uses it any more (after commit)."""
    _check_editable(attachment.message)
    name = attachment.image.name or ""
    sha = attachment.sha256
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=attachment.message_id)
        _check_editable(message)
        attachment_id = attachment.pk
        attachment.delete()
        services.audit_record(
            actor=actor, verb="attachment.removed", obj=message, summary={"attachment": attachment_id, "sha256": sha}
        )
        services.message_attachments_changed(message=message, actor=actor)

        def _delete_unused_file() -> None:
            if not Attachment.objects.filter(sha256=sha).exists():
                default_storage.delete(name)

        transaction.on_commit(_delete_unused_file)


def attachment_alt_update(
    *,
    attachment: Attachment,
    actor: User,
    alt_fr: str | None = None,
    alt_nl: str | None = None,
    alt_de: str | None = None,
) -> Attachment:
    """Change alt texts; like any content edit, this voids a pending approval."""
    _check_editable(attachment.message)
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=attachment.message_id)
        _check_editable(message)
        for language, value in (("fr", alt_fr), ("nl", alt_nl), ("de", alt_de)):
            if value is not None:
                setattr(attachment, f"alt_{language}", value.strip())
        attachment.save(update_fields=["alt_fr", "alt_nl", "alt_de"])
        services.audit_record(
            actor=actor, verb="attachment.alt_changed", obj=message, summary={"attachment": attachment.pk}
        )
        services.message_attachments_changed(message=message, actor=actor)
    return attachment
