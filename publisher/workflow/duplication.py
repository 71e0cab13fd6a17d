"""Duplicate a message as a new draft: the same texts, audience (hence channels) and images,
none of the original's decisions."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from publisher.audit import audit_record
from publisher.errors import NotAllowed, ValidationError
from publisher.media.images import IngestedImage, image_ingest
from publisher.models import Attachment, Message, attachment_path
from publisher.workflow import services

TITLE_MAX_LENGTH = 200


@dataclass(frozen=True)
class _ImageCopy:
    source: Attachment
    ingested: IngestedImage


def _image_copies(message: Message) -> list[_ImageCopy]:
    """Each image read back from storage and sanitised again, as an upload would be: a file
    changed on disk since it was attached is checked before it is attached anew."""
    copies = []
    for attachment in message.attachments.order_by("position", "id"):
        try:
            with default_storage.open(attachment.image.name or "", "rb") as handle:
                ingested = image_ingest(handle)
        except (FileNotFoundError, OSError) as exc:
            raise ValidationError(
                _("An image of this message can no longer be read, so the message cannot be copied.")
            ) from exc
        copies.append(_ImageCopy(attachment, ingested))
    return copies


def _schedule_to_keep(message: Message) -> tuple[services.Schedule, bool]:
    """The original's schedule if it is still ahead, else none ("when approved"): a draft dated
    in the past would expire at once. Returns the schedule and whether one was dropped."""
    now = timezone.now()
    if message.recurrence and message.recurrence_start:
        if message.recurrence_start > now:
            return services.Schedule(recurrence=message.recurrence, recurrence_start=message.recurrence_start), False
        return services.Schedule(), True
    if message.publish_at:
        if message.publish_at > now:
            return services.Schedule(publish_at=message.publish_at), False
        return services.Schedule(), True
    return services.Schedule(), False


def message_duplicate(*, message: Message, actor: User) -> Message:
    """A new draft owned by ``actor`` with the texts, links, audience, urgency, status, CAP
    details and images (fresh sanitised copies) of ``message``. Not copied: the approval and
    its checklist, the state, language-exception confirmations, deliveries, and a schedule
    already past. A follow-up's copy is an original post (it threads on nothing)."""
    if not actor.has_perm("publisher.add_message"):
        raise NotAllowed(_("You are not allowed to write messages."))
    variants = {v.language: services.VariantInput(v.text, v.link) for v in message.variants.all()}
    audience = services.Audience(
        municipalities=list(message.audience_municipalities.values_list("pk", flat=True)),
        zones=list(message.audience_zones.values_list("pk", flat=True)),
        provinces=list(message.audience_provinces.values_list("pk", flat=True)),
        segments=list(message.audience_segments.values_list("pk", flat=True)),
        all=message.audience_all,
    )
    schedule, schedule_dropped = _schedule_to_keep(message)
    copies = _image_copies(message)
    title = (_("%(title)s (copy)") % {"title": message.title})[:TITLE_MAX_LENGTH]
    created_files: list[str] = []
    try:
        with transaction.atomic():
            duplicate = services.message_create(
                author=actor,
                title=title,
                variants=variants,
                audience=audience,
                urgency=message.urgency,
                status=message.status,
                schedule=schedule,
                cap=message.cap,
            )
            for position, copy in enumerate(copies, start=1):
                attachment = Attachment(
                    message=duplicate,
                    sha256=copy.ingested.sha256,
                    format=copy.ingested.format,
                    alt_fr=copy.source.alt_fr,
                    alt_nl=copy.source.alt_nl,
                    alt_de=copy.source.alt_de,
                    language=copy.source.language,
                    position=position,
                )
                name = attachment_path(attachment, "")
                # Content-addressed: identical bytes share one file (removed with its last user).
                if not default_storage.exists(name):
                    stored = default_storage.save(name, ContentFile(copy.ingested.content))
                    created_files.append(stored)
                    if stored != name:
                        raise ValidationError(_("Two copies of one image were stored at once: try again."))
                attachment.image.name = name
                attachment.width, attachment.height = copy.ingested.width, copy.ingested.height
                attachment.save()
            duplicate.content_hash = services.message_content_hash(duplicate)
            duplicate.save(update_fields=["content_hash", "updated_at"])
            audit_record(
                actor=actor,
                verb="message.duplicated",
                obj=duplicate,
                summary={
                    "source": message.pk,
                    "images": len(copies),
                    "schedule_dropped": schedule_dropped,
                },
            )
    except BaseException:
        for name in created_files:
            default_storage.delete(name)
        raise
    return duplicate
