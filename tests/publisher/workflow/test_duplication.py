import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image

from publisher.errors import NotAllowed, ValidationError
from publisher.models import Attachment, AuditEvent, Message, MessageKind, MessageState, MessageStatus, Urgency
from publisher.workflow import attachments, services
from publisher.workflow.checklist import checklist_all_ticked
from publisher.workflow.duplication import message_duplicate
from tests.factories import SegmentFactory, UserFactory

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def png(color=(200, 30, 30), size=(1200, 900)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return SimpleUploadedFile("photo.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def original(author, approver):
    with time_machine.travel(NOW, tick=False):
        segment = SegmentFactory(name_fr="Centre", name_nl="Centrum", nis=["21004"])
        message = services.message_create(
            author=author,
            title="Vols de vélos",
            variants={
                "fr": services.VariantInput("Cadenassez votre vélo.", "https://www.police.be/fr"),
                "nl": services.VariantInput("Zet uw fiets op slot.", "https://www.police.be/nl"),
            },
            audience=services.Audience(municipalities=["21009"], zones=["5339"], segments=[segment.pk]),
            urgency=Urgency.IMPORTANT,
            status=MessageStatus.EXERCISE,
            schedule=services.Schedule(publish_at=datetime(2026, 12, 2, 8, 0, tzinfo=UTC)),
            cap={"category": "Safety"},
        )
        attachments.attachment_add(message=message, actor=author, file=png(), alt_fr="Un vélo", alt_nl="Een fiets")
        attachments.attachment_add(
            message=message, actor=author, file=png((10, 200, 10)), alt_nl="Alleen NL", language="nl"
        )
        services.message_submit(message=message, actor=author)
        return services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())


def test_a_duplicate_is_a_new_draft_of_the_actor_with_the_content_and_none_of_the_decisions(original, roles):
    other_author = UserFactory(username="tweede", roles=["author"])
    with time_machine.travel(NOW, tick=False), translation.override("fr"):
        copy = message_duplicate(message=original, actor=other_author)
    assert copy.pk != original.pk
    assert copy.author == other_author
    assert copy.state == MessageState.DRAFT
    assert copy.title == "Vols de vélos (copie)"
    assert (copy.approved_by, copy.approved_at, copy.approved_hash, copy.approved_audience) == (None, None, "", [])
    assert not copy.occurrences.exists()
    assert set(copy.editors.values_list("username", flat=True)) == {"tweede"}
    assert {(v.language, v.text, v.link) for v in copy.variants.all()} == {
        (v.language, v.text, v.link) for v in original.variants.all()
    }
    for part in ("audience_municipalities", "audience_zones", "audience_provinces", "audience_segments"):
        assert set(getattr(copy, part).all()) == set(getattr(original, part).all()), part
    assert (copy.urgency, copy.status, copy.cap, copy.kind) == (
        Urgency.IMPORTANT,
        MessageStatus.EXERCISE,
        {"category": "Safety"},
        MessageKind.ALERT,
    )
    # Still ahead: the schedule is kept.
    assert copy.publish_at == original.publish_at
    # The same hash as an author writing it from scratch: it can be submitted as is.
    assert copy.content_hash == services.message_content_hash(copy)
    event = AuditEvent.objects.get(verb="message.duplicated", object_id=str(copy.pk))
    assert event.summary == {"source": original.pk, "images": 2, "schedule_dropped": False}
    assert event.actor == other_author


def test_images_are_fresh_sanitised_copies_with_their_alt_texts_and_language(original, author):
    with time_machine.travel(NOW, tick=False):
        copy = message_duplicate(message=original, actor=author)
    originals = list(original.attachments.order_by("position"))
    copies = list(copy.attachments.order_by("position"))
    assert [(a.alt_fr, a.alt_nl, a.language) for a in copies] == [(a.alt_fr, a.alt_nl, a.language) for a in originals]
    assert [a.pk for a in copies] != [a.pk for a in originals]
    for attachment in copies:
        assert default_storage.exists(attachment.image.name)
        assert attachment.width
        assert attachment.height
    # Removing the original's image leaves the copy's file (content-addressed, reference-counted).
    Message.objects.filter(pk=original.pk).update(state=MessageState.DRAFT)
    original.refresh_from_db()
    attachments.attachment_remove(attachment=originals[0], actor=author)
    assert default_storage.exists(copies[0].image.name)


def test_a_past_schedule_is_dropped(original, author):
    with time_machine.travel(datetime(2026, 12, 3, tzinfo=UTC), tick=False):
        copy = message_duplicate(message=original, actor=author)
    assert copy.publish_at is None
    assert AuditEvent.objects.get(verb="message.duplicated", object_id=str(copy.pk)).summary["schedule_dropped"]


def test_a_past_recurrence_is_dropped_and_a_future_one_kept(author):
    with time_machine.travel(NOW, tick=False):
        message = services.message_create(
            author=author,
            title="Chaque lundi",
            variants={"fr": services.VariantInput("Lundi"), "nl": services.VariantInput("Maandag")},
            audience=services.Audience(municipalities=["21004"]),
            schedule=services.Schedule(
                recurrence="RRULE:FREQ=WEEKLY;BYDAY=MO", recurrence_start=datetime(2026, 12, 7, 8, tzinfo=UTC)
            ),
        )
        kept = message_duplicate(message=message, actor=author)
    assert (kept.recurrence, kept.recurrence_start) == (message.recurrence, message.recurrence_start)
    with time_machine.travel(datetime(2026, 12, 8, tzinfo=UTC), tick=False):
        dropped = message_duplicate(message=message, actor=author)
    assert (dropped.recurrence, dropped.recurrence_start, dropped.publish_at) == ("", None, None)


def test_a_follow_up_is_copied_as_an_original_post(original, author):
    Message.objects.filter(pk=original.pk).update(kind=MessageKind.UPDATE)
    original.refresh_from_db()
    copy = message_duplicate(message=original, actor=author)
    assert (copy.kind, copy.follows) == (MessageKind.ALERT, None)


def test_only_who_may_write_messages_can_duplicate(original, approver):
    with pytest.raises(NotAllowed):
        message_duplicate(message=original, actor=approver)
    assert Message.objects.count() == 1


def test_an_unreadable_image_refuses_the_whole_copy(original, author):
    first = original.attachments.order_by("position").first()
    default_storage.delete(first.image.name)
    before = (Message.objects.count(), Attachment.objects.count())
    with pytest.raises(ValidationError):
        message_duplicate(message=original, actor=author)
    assert (Message.objects.count(), Attachment.objects.count()) == before


def test_a_failure_midway_leaves_no_message_and_no_new_file(original, author, monkeypatch):
    from publisher.workflow import duplication

    for attachment in original.attachments.all():
        default_storage.delete(attachment.image.name)
    # Files written again by the copy, then the audit fails: the copy and its files go.
    originals = [png(), png((10, 200, 10))]
    monkeypatch.setattr(
        duplication,
        "_image_copies",
        lambda message: [
            duplication._ImageCopy(a, _ingest(f))
            for a, f in zip(message.attachments.order_by("position"), originals, strict=True)
        ],
    )

    def failing_audit(**kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(duplication, "audit_record", failing_audit)
    before = (Message.objects.count(), Attachment.objects.count())
    with pytest.raises(RuntimeError):
        message_duplicate(message=original, actor=author)
    assert (Message.objects.count(), Attachment.objects.count()) == before
    for attachment in original.attachments.all():
        assert not default_storage.exists(attachment.image.name)


def _ingest(upload):
    from publisher.media.images import image_ingest

    return image_ingest(upload)
