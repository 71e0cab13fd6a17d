"""Segments are shared audiences: changing one that an approval covered must not widen it silently."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied

from publisher.delivery import scheduling
from publisher.models import AuditEvent, Delivery, DeliveryState, Message, MessageState
from publisher.workflow import catalogue, services
from publisher.workflow.checklist import checklist_all_ticked
from tests.factories import ChannelFactory, SegmentFactory, UserFactory, make_message

pytestmark = pytest.mark.django_db

# Brussels (city) is in the segment; Ixelles is added after approval. Each has its own accounts.
BRUSSELS, IXELLES = "21004", "21009"
T0 = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def segment_admin(roles):
    return UserFactory(username="segment-admin", roles=["author", "approver"])


@pytest.fixture
def accounts(db):
    return {
        "bxl_fr": ChannelFactory(name="Police Bruxelles", language="fr", coverage=[BRUSSELS]),
        "bxl_nl": ChannelFactory(name="Politie Brussel", language="nl", coverage=[BRUSSELS]),
        "ixl_fr": ChannelFactory(name="Police Ixelles", language="fr", coverage=[IXELLES]),
        "ixl_nl": ChannelFactory(name="Politie Elsene", language="nl", coverage=[IXELLES]),
    }


def widen(segment, actor):
    return catalogue.segment_update(
        segment=segment, actor=actor, name_fr="Centre", name_nl="Centrum", municipalities=[BRUSSELS, IXELLES]
    )


def on_segment(author, segment, **fields):
    message = make_message(author=author, municipalities=[], segments=[segment.pk])
    if fields:
        Message.objects.filter(pk=message.pk).update(**fields)
        message.refresh_from_db()
        message.content_hash = services.message_content_hash(message)
        message.save(update_fields=["content_hash"])
    return message


@time_machine.travel(T0, tick=False)
def test_changing_a_segment_returns_pending_messages_to_draft_and_tells_their_authors(
    author, approver, segment_admin, accounts, django_capture_on_commit_callbacks
):
    segment = SegmentFactory(nis=[BRUSSELS])
    scheduled = on_segment(author, segment, publish_at=T0 + timedelta(days=2))
    services.message_submit(message=scheduled, actor=author)
    services.message_approve(message=scheduled, actor=approver, checklist=checklist_all_ticked())
    submitted = on_segment(author, segment)
    services.message_submit(message=submitted, actor=author)
    draft = on_segment(author, segment)
    elsewhere = make_message(author=author, municipalities=[BRUSSELS])
    services.message_submit(message=elsewhere, actor=author)

    with django_capture_on_commit_callbacks(execute=True):
        widen(segment, segment_admin)

    for message in (scheduled, submitted):
        message.refresh_from_db()
        assert message.state == MessageState.DRAFT
        assert message.approved_hash == ""
        assert message.approved_audience == []
        assert message.state_reason_coded["code"] == "segment_changed"
        assert "Centre" in message.state_reason_text
        event = AuditEvent.objects.get(verb="message.audience_changed", object_id=str(message.pk))
        assert event.actor == segment_admin
        assert event.summary["added"] == [IXELLES]
        # Whoever changed the audience may not approve the result.
        assert segment_admin.pk in services.message_editor_ids(message)
    assert set(Delivery.objects.filter(occurrence__message=scheduled).values_list("state", flat=True)) == {
        DeliveryState.CANCELLED
    }
    draft.refresh_from_db()
    assert draft.state == MessageState.DRAFT
    assert segment_admin.pk in services.message_editor_ids(draft)
    elsewhere.refresh_from_db()
    assert elsewhere.state == MessageState.SUBMITTED
    # One notice per returned message, to its author, in the author's language (French here).
    assert [m.to for m in mail.outbox] == [[author.email], [author.email]]
    assert all(m.subject.startswith("Retour au brouillon") for m in mail.outbox)
    assert "Centre / Centrum" in mail.outbox[0].body
    updated = AuditEvent.objects.get(verb="segment.updated")
    assert sorted(updated.summary["returned_to_draft"]) == sorted([scheduled.pk, submitted.pk])

    services.message_submit(message=submitted, actor=author)
    with pytest.raises(PermissionDenied):
        services.message_approve(message=submitted, actor=segment_admin, checklist=checklist_all_ticked())
    approved = services.message_approve(message=submitted, actor=approver, checklist=checklist_all_ticked())
    assert approved.approved_audience == [BRUSSELS, IXELLES]


def test_renaming_a_segment_or_keeping_its_members_changes_no_message(author, approver, segment_admin, accounts):
    segment = SegmentFactory(nis=[BRUSSELS])
    message = on_segment(author, segment)
    services.message_submit(message=message, actor=author)
    catalogue.segment_update(
        segment=segment, actor=segment_admin, name_fr="Autre", name_nl="Ander", municipalities=[BRUSSELS]
    )
    message.refresh_from_db()
    assert message.state == MessageState.SUBMITTED
    assert segment_admin.pk not in services.message_editor_ids(message)
    assert not mail.outbox


def test_a_segment_change_already_covered_by_the_rest_of_the_audience_changes_nothing(author, segment_admin, accounts):
    segment = SegmentFactory(nis=[BRUSSELS])
    message = make_message(author=author, municipalities=[IXELLES], segments=[segment.pk])
    services.message_submit(message=message, actor=author)
    widen(segment, segment_admin)
    message.refresh_from_db()
    assert message.state == MessageState.SUBMITTED


def test_a_weekly_message_returned_to_draft_by_a_segment_change_never_reaches_the_added_municipality(
    author, approver, segment_admin, accounts
):
    segment = SegmentFactory(nis=[BRUSSELS])
    with time_machine.travel(T0, tick=False):
        message = on_segment(
            author,
            segment,
            recurrence="FREQ=WEEKLY;BYDAY=MO",
            recurrence_start=scheduling.parse_local_time("2027-03-15 09:00"),
        )
        services.message_submit(message=message, actor=author)
        services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
        widen(segment, segment_admin)
    with time_machine.travel(T0 + timedelta(days=40), tick=False):
        scheduling.recurrences_extend()
    new_channels = [accounts["ixl_fr"].pk, accounts["ixl_nl"].pk]
    assert not Delivery.objects.filter(channel_id__in=new_channels).exists()
    assert not Delivery.objects.filter(occurrence__message=message).exclude(state=DeliveryState.CANCELLED).exists()
