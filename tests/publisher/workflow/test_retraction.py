"""Retracting removes the posts and, once the networks were asked, our own copies: the outbox
files (post and images) and the image renditions, but not what another message still uses."""

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.utils import timezone
from PIL import Image

from publisher.delivery import dispatch, publishing
from publisher.media.images import renditions_dir
from publisher.models import AuditEvent, Delivery, DeliveryState, Message, MessageState
from publisher.workflow import attachments, retraction, services
from publisher.workflow.checklist import checklist_all_ticked
from publisher.workflow.duplication import message_duplicate
from tests.factories import ChannelFactory


def png(color):
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 900), color).save(buffer, format="PNG")
    return SimpleUploadedFile("photo.png", buffer.getvalue(), content_type="image/png")


def publish_due():
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispatch.dispatch_once(now=timezone.now() + timedelta(minutes=5))


def approved_with_image(author, approver, color, title="Cambriolages"):
    message = services.message_create(
        author=author,
        title=title,
        variants={"fr": services.VariantInput("Fermez vos portes."), "nl": services.VariantInput("Sluit uw deuren.")},
        audience=services.Audience(municipalities=["21004"]),
    )
    attachments.attachment_add(message=message, actor=author, file=png(color), alt_fr="Une porte", alt_nl="Een deur")
    services.message_submit(message=message, actor=author)
    return services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())


def outbox_files(channel):
    folder = Path(settings.TANDEM_OUTBOX_DIR) / f"channel-{channel.pk}"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def renditions_of(message):
    shas = {a.sha256 for a in message.attachments.all()}
    return sorted(p.name for p in renditions_dir().glob("*") if p.name[:64] in shas)


@pytest.fixture
def outboxes(db, settings, tmp_path):
    # Folders of their own: channel ids repeat across tests, and so would their outbox folders.
    settings.TANDEM_OUTBOX_DIR = str(tmp_path / "outbox")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return [
        ChannelFactory(name="Police Bruxelles", kind="outbox", language="fr", coverage=["21004"]),
        ChannelFactory(name="Politie Brussel", kind="outbox", language="nl", coverage=["21004"]),
    ]


def test_retracting_removes_the_outbox_posts_their_images_and_the_renditions(author, approver, outboxes):
    message = approved_with_image(author, approver, (200, 30, 30))
    publish_due()
    assert Delivery.objects.filter(occurrence__message=message, state=DeliveryState.SENT).count() == 2
    for channel in outboxes:
        names = outbox_files(channel)
        assert any(n.endswith(".json") for n in names), names
        assert any(n.endswith(".png") for n in names), names
    assert renditions_of(message)
    original_file = Path(message.attachments.get().image.path)

    with TestCase.captureOnCommitCallbacks(execute=True):
        retraction.message_retract(message=message, actor=approver, reason="Mauvaise adresse")

    assert set(Delivery.objects.filter(occurrence__message=message).values_list("state", flat=True)) == {
        DeliveryState.RETRACTED
    }
    for channel in outboxes:
        assert outbox_files(channel) == []
    assert renditions_of(message) == []
    # The stored original stays with the message as its record (not public, needed to copy it).
    assert original_file.exists()
    event = AuditEvent.objects.get(verb="message.files_removed", object_id=str(message.pk))
    assert event.summary["renditions"] >= 1


def test_renditions_of_an_image_another_message_still_uses_are_kept(author, approver, outboxes):
    message = approved_with_image(author, approver, (30, 30, 200))
    publish_due()
    # A copy uses the same image (same bytes, one stored file) and is still to be published.
    message_duplicate(message=message, actor=author)
    kept = renditions_of(message)
    assert kept
    with TestCase.captureOnCommitCallbacks(execute=True):
        retraction.message_retract(message=message, actor=approver, reason="Doublon")
    for channel in outboxes:
        assert outbox_files(channel) == []
    assert renditions_of(message) == kept


def test_nothing_is_removed_while_the_message_is_not_retracted(author, approver, outboxes):
    message = approved_with_image(author, approver, (30, 200, 30))
    publish_due()
    before = renditions_of(message)
    assert publishing.retracted_files_remove(message_id=message.pk) == []
    assert renditions_of(message) == before


def test_the_plan_lists_posts_to_delete_those_that_cannot_be_and_what_will_not_go_out(author, approver, outboxes):
    instagram = ChannelFactory(name="Insta FR", kind="instagram", language="fr", coverage=["21004"])
    message = approved_with_image(author, approver, (90, 90, 90))
    rows = {d.channel_id: d for d in Delivery.objects.filter(occurrence__message=message)}
    Delivery.objects.filter(pk=rows[outboxes[0].pk].pk).update(state=DeliveryState.SENT, remote_url="file:///x.json")
    Delivery.objects.filter(pk=rows[instagram.pk].pk).update(state=DeliveryState.SENT)
    Delivery.objects.filter(pk=rows[outboxes[1].pk].pk).update(state=DeliveryState.UNCONFIRMED)

    plan = retraction.message_retraction_plan(message)

    assert [d.channel for d in plan.to_delete] == [outboxes[0]]
    assert [d.channel for d in plan.cannot_delete] == [instagram]
    assert [d.channel for d in plan.uncertain] == [outboxes[1]]
    assert plan.to_stop == []
    assert message.state == MessageState.SCHEDULED


def test_with_nothing_online_the_renditions_go_right_after_the_commit(author, approver, outboxes):
    message = approved_with_image(author, approver, (120, 60, 200))
    publish_due()
    # Every post refused by its network: nothing to delete, but renditions were made.
    Delivery.objects.filter(occurrence__message=message).update(state=DeliveryState.FAILED)
    Message.objects.filter(pk=message.pk).update(state=MessageState.FAILED)
    assert renditions_of(message)
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        retraction.message_retract(message=message, actor=approver, reason="Erreur")
    assert renditions_of(message)  # not before the commit
    for callback in callbacks:
        callback()
    assert renditions_of(message) == []


def test_the_plan_reads_every_post_in_one_query(author, approver, django_assert_num_queries):
    channels = [ChannelFactory(name=f"Canal {n}", kind="outbox", language="fr", coverage=["21004"]) for n in range(6)]
    message = approved_with_image(author, approver, (10, 10, 10))
    assert Delivery.objects.filter(occurrence__message=message).count() == len(channels)
    with django_assert_num_queries(1):
        plan = retraction.message_retraction_plan(message)
        assert {d.channel.name for d in plan.to_stop} == {c.name for c in channels}
