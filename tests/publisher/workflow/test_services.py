from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from publisher.models import AuditEvent, Delivery, MessageState
from publisher.workflow import services
from publisher.workflow.attachments import attachment_add, attachment_alt_update
from publisher.workflow.checklist import checklist_all_ticked
from tests.admin.test_compose import png
from tests.factories import ChannelFactory, SegmentFactory, UserFactory, make_message

pytestmark = pytest.mark.django_db


def test_create_records_hash_and_audit(author):
    message = make_message(author=author)
    assert message.state == MessageState.DRAFT
    assert len(message.content_hash) == 64
    assert AuditEvent.objects.filter(object_id=str(message.pk), verb="message.created").exists()


def test_unknown_nis_code_is_a_field_error_and_stores_nothing(author):
    with pytest.raises(ValidationError) as exc:
        make_message(author=author, municipalities=["99999"])
    assert "municipalities" in exc.value.message_dict
    assert "99999" in exc.value.message_dict["municipalities"][0]
    assert not AuditEvent.objects.exists()


def test_submit_requires_every_language_the_audience_needs(author):
    message = make_message(author=author, variants={"fr": "Bonjour"}, municipalities=["21004"])
    with pytest.raises(ValidationError) as exc:
        services.message_submit(message=message, actor=author)
    assert "Dutch" in " ".join(exc.value.messages)
    message.refresh_from_db()
    assert message.state == MessageState.DRAFT


def test_flemish_audience_needs_no_french(author):
    message = make_message(author=author, variants={"nl": "Hallo"}, municipalities=["11002"])
    assert services.message_submit(message=message, actor=author).state == MessageState.SUBMITTED


def test_author_can_never_approve_own_message(roles):
    both = UserFactory(username="both", roles=["author", "approver"])
    message = make_message(author=both)
    services.message_submit(message=message, actor=both)
    with pytest.raises(PermissionDenied):
        services.message_approve(message=message, actor=both, checklist=checklist_all_ticked())
    message.refresh_from_db()
    assert message.state == MessageState.SUBMITTED


def test_approve_schedules_deliveries_per_language_channel(author, approver):
    fr = ChannelFactory(language="fr", covers_all=True)
    nl = ChannelFactory(language="nl", covers_all=True)
    message = make_message(author=author)
    services.message_submit(message=message, actor=author)
    message = services.message_approve(message=message, actor=approver, comment="ok", checklist=checklist_all_ticked())
    assert message.state == MessageState.SCHEDULED
    assert message.approved_hash == message.content_hash
    assert set(Delivery.objects.values_list("channel_id", "language")) == {(fr.pk, "fr"), (nl.pk, "nl")}


def test_editing_an_approved_message_returns_it_to_draft_and_cancels_deliveries(author, approver):
    ChannelFactory(language="fr", covers_all=True)
    message = make_message(author=author)
    services.message_submit(message=message, actor=author)
    services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
    message = services.message_update(
        message=message,
        actor=author,
        variants={"fr": services.VariantInput("Changé"), "nl": services.VariantInput("Hallo")},
    )
    assert message.state == MessageState.DRAFT
    assert message.approved_hash == ""
    assert set(Delivery.objects.values_list("state", flat=True)) == {"cancelled"}


def test_editing_without_change_keeps_approval(author, approver):
    message = make_message(author=author)
    services.message_submit(message=message, actor=author)
    services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
    message = services.message_update(message=message, actor=author, title="Test message")
    assert message.state == MessageState.SCHEDULED


def test_reject_needs_a_comment_and_returns_to_author(author, approver):
    message = make_message(author=author)
    services.message_submit(message=message, actor=author)
    with pytest.raises(ValidationError):
        services.message_reject(message=message, actor=approver, comment=" ")
    message = services.message_reject(message=message, actor=approver, comment="Trop long")
    assert message.state == MessageState.REJECTED
    assert message.state_reason == "Trop long"
    assert services.message_submit(message=message, actor=author).state == MessageState.SUBMITTED


def test_audit_events_are_append_only(author):
    make_message(author=author)
    event = AuditEvent.objects.get()
    event.verb = "tampered"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.all().update(verb="x")
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()


def test_a_schedule_replaces_the_whole_schedule(author):
    from datetime import UTC, datetime

    message = make_message(author=author)
    one_off = services.Schedule(publish_at=datetime(2031, 3, 3, 8, 0, tzinfo=UTC))
    message = services.message_update(message=message, actor=author, schedule=one_off)
    weekly = services.Schedule(recurrence="FREQ=WEEKLY;BYDAY=MO", recurrence_start=datetime(2031, 3, 3, 8, tzinfo=UTC))
    message = services.message_update(message=message, actor=author, schedule=weekly)
    assert message.publish_at is None
    assert message.recurrence == "FREQ=WEEKLY;BYDAY=MO"
    message = services.message_update(message=message, actor=author, title="Renamed")
    assert message.recurrence == "FREQ=WEEKLY;BYDAY=MO"  # left alone when no schedule is given


def test_the_same_instant_in_another_offset_is_the_same_content(author):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    message = make_message(author=author)
    utc = services.message_update(
        message=message, actor=author, schedule=services.Schedule(publish_at=datetime(2031, 3, 3, 8, tzinfo=UTC))
    ).content_hash
    brussels = datetime(2031, 3, 3, 9, tzinfo=ZoneInfo("Europe/Brussels"))
    again = services.message_update(message=message, actor=author, schedule=services.Schedule(publish_at=brussels))
    assert again.content_hash == utc


# --- four eyes: nobody approves content they wrote or changed ---------------------------------


@pytest.fixture
def power(roles):
    """Someone who may both write and approve."""
    return UserFactory(username="power", roles=["author", "approver"])


def test_an_approver_who_rewrote_someone_elses_draft_cannot_approve_it(author, approver, power):
    message = make_message(author=author)
    services.message_update(
        message=message,
        actor=power,
        variants={"fr": services.VariantInput("Texte réécrit"), "nl": services.VariantInput("Herschreven tekst")},
    )
    services.message_submit(message=message, actor=author)
    with pytest.raises(PermissionDenied) as exc:
        services.message_approve(message=message, actor=power, checklist=checklist_all_ticked())
    assert "You changed this message" in str(exc.value)
    message.refresh_from_db()
    assert message.state == MessageState.SUBMITTED
    assert services.message_editor_ids(message) == {author.pk, power.pk}
    # Rejecting stays open to them; approving is for another pair of eyes.
    approved = services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
    assert approved.state == MessageState.SCHEDULED
    edited = AuditEvent.objects.get(verb="message.edited", object_id=str(message.pk))
    assert edited.actor == power
    assert edited.summary["content_changed"] is True
    submitted = AuditEvent.objects.get(verb="message.submitted", object_id=str(message.pk))
    assert submitted.summary["changed_by"] == ["author", "power"]


@pytest.mark.parametrize(
    "change",
    [
        {
            "variants": {
                "fr": services.VariantInput("Bonjour", link="https://police.be/x"),
                "nl": services.VariantInput("Hallo"),
            }
        },
        {"audience": services.Audience(municipalities=["21004", "21009"])},
        {"schedule": services.Schedule(publish_at=datetime(2031, 3, 3, 8, 0, tzinfo=UTC))},
    ],
    ids=["link", "audience", "schedule"],
)
def test_any_content_change_makes_the_editor_ineligible(author, power, change):
    message = make_message(author=author)
    services.message_update(message=message, actor=power, **change)
    message.refresh_from_db()
    assert power.pk in services.message_editor_ids(message)


def test_changing_an_alt_text_makes_the_editor_ineligible(author, power):
    message = make_message(author=author)
    attachment = attachment_add(message=message, actor=author, file=png(), alt_fr="Un vélo", alt_nl="Een fiets")
    services.message_submit(message=message, actor=author)
    attachment_alt_update(attachment=attachment, actor=power, alt_fr="Une voiture")
    message.refresh_from_db()
    assert message.state == MessageState.DRAFT
    services.message_submit(message=message, actor=author)
    with pytest.raises(PermissionDenied):
        services.message_approve(message=message, actor=power, checklist=checklist_all_ticked())


def test_saving_without_a_change_does_not_make_an_editor(author, power):
    message = make_message(author=author)
    services.message_update(message=message, actor=power, title="Test message")
    services.message_submit(message=message, actor=author)
    assert services.message_approve(message=message, actor=power, checklist=checklist_all_ticked()).approved_by == power


def test_an_approval_starts_a_new_round_of_editors(author, approver, power):
    """Changes reviewed by one approval do not bar their editor from reviewing the next change."""
    ChannelFactory(language="fr", covers_all=True)
    message = make_message(author=author)
    services.message_update(message=message, actor=power, title="Titre revu")
    services.message_submit(message=message, actor=author)
    services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
    message.refresh_from_db()
    assert services.message_editor_ids(message) == {author.pk}
    # The approver now edits the scheduled message: the approval is void and they join the editors.
    message = services.message_update(message=message, actor=approver, title="Titre revu encore")
    assert message.state == MessageState.DRAFT
    assert message.approved_audience == []
    assert services.message_editor_ids(message) == {author.pk, approver.pk}
    services.message_submit(message=message, actor=author)
    with pytest.raises(PermissionDenied):
        services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
    assert services.message_approve(message=message, actor=power, checklist=checklist_all_ticked()).approved_by == power


def test_approval_binds_the_resolved_audience(author, approver):
    segment = SegmentFactory(nis=["21004", "21009"])
    message = make_message(author=author, segments=[segment.pk])
    services.message_submit(message=message, actor=author)
    message = services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
    assert message.approved_audience == ["21004", "21009"]


@pytest.mark.parametrize("title", ["Fermeture\rrue Neuve", "Fermeture\nrue Neuve", "Fermeture\x00", "A\u2028B"])
def test_a_title_with_a_line_break_or_control_character_is_a_field_error(author, title):
    with pytest.raises(ValidationError) as refused:
        services.message_create(
            author=author,
            title=title,
            variants={"fr": services.VariantInput("Bonjour"), "nl": services.VariantInput("Hallo")},
            audience=services.Audience(municipalities=["21004"]),
        )
    assert list(refused.value.message_dict) == ["title"]
    message = make_message(author=author)
    with pytest.raises(ValidationError) as refused:
        services.message_update(message=message, actor=author, title=title)
    assert list(refused.value.message_dict) == ["title"]
    message.refresh_from_db()
    assert message.title == "Test message"


def test_create_takes_a_schedule_like_update(author):
    weekly = services.Schedule(recurrence="FREQ=WEEKLY;BYDAY=MO", recurrence_start=datetime(2031, 3, 3, 8, tzinfo=UTC))
    message = services.message_create(
        author=author,
        title="Weekly",
        variants={"fr": services.VariantInput("Bonjour"), "nl": services.VariantInput("Hallo")},
        audience=services.Audience(municipalities=["21004"]),
        schedule=weekly,
    )
    assert (message.publish_at, message.recurrence, message.recurrence_start) == (
        None,
        "FREQ=WEEKLY;BYDAY=MO",
        datetime(2031, 3, 3, 8, tzinfo=UTC),
    )
    unscheduled = make_message(author=author)
    assert (unscheduled.publish_at, unscheduled.recurrence, unscheduled.recurrence_start) == (None, "", None)
