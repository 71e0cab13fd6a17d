import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from publisher.models import AuditEvent, Message, MessageState
from publisher.workflow import services
from publisher.workflow.checklist import checklist_all_ticked, checklist_validate
from tests.admin.test_compose import compose_data
from tests.factories import UserFactory, make_message


def approve_url(message):
    return reverse("admin:publisher_message_approve", args=[message.pk])


def all_ticks(**extra):
    data = {f"approve-{key}": "on" for key in checklist_all_ticked()}
    data.update(extra)
    return data


@pytest.fixture
def submitted(author, channels, django_capture_on_commit_callbacks):
    message = make_message(author=author)
    services.message_submit(message=message, actor=author)
    return message


def test_submit_from_the_page_notifies_approvers_after_commit(
    author_client, author, approver, channels, django_capture_on_commit_callbacks
):
    message = make_message(author=author)
    with django_capture_on_commit_callbacks(execute=True):
        response = author_client.post(reverse("admin:publisher_message_submit", args=[message.pk]))
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.state == MessageState.SUBMITTED
    assert [m.to for m in mail.outbox] == [[approver.email]]
    assert f"/admin/publisher/message/{message.pk}/change/" in mail.outbox[0].body
    assert "Test message" in mail.outbox[0].subject


def test_queue_lists_others_messages_only(approver_client, approver, submitted, django_assert_num_queries):
    own = make_message(author=approver)
    services.message_submit(message=own, actor=approver)
    page = approver_client.get(reverse("admin:publisher_message_approvals"))
    assert [m.pk for m in page.context["rows"]] == [submitted.pk]
    dashboard = approver_client.get(reverse("admin:index"))
    assert b'id="dashboard-approvals"' in dashboard.content
    assert submitted.title.encode() in dashboard.content


def test_queue_query_count_does_not_grow(approver, author, channels, django_assert_max_num_queries):
    from publisher.workflow import selectors as queries

    for _ in range(5):
        services.message_submit(message=make_message(author=author), actor=author)
    with django_assert_max_num_queries(2):
        rows = list(queries.awaiting_approval(user=approver))
        texts = [v.text for m in rows for v in m.variants.all()]
    assert len(rows) == 5
    assert len(texts) == 10


def test_approve_with_the_checklist_records_ticks_and_reference(
    approver_client, author, submitted, django_capture_on_commit_callbacks
):
    data = all_ticks(**{"approve-portrait_consent_applies": "on", "approve-portrait_consent_reference": "PR/2026/123"})
    with django_capture_on_commit_callbacks(execute=True):
        response = approver_client.post(approve_url(submitted), data)
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.state == MessageState.SCHEDULED
    event = AuditEvent.objects.get(verb="message.approved", object_id=str(submitted.pk))
    checklist = event.summary["checklist"]
    assert set(checklist) == {"presumption_of_innocence", "investigation_secrecy", "portrait_consent", "official_tone"}
    assert checklist["portrait_consent"]["reference"] == "PR/2026/123"
    assert [m.to for m in mail.outbox] == [[author.email]]
    # The author reads the email in their own interface language.
    author_page = approver_client.get(reverse("admin:publisher_message_change", args=[submitted.pk]))
    assert b"PR/2026/123" in author_page.content


def test_missing_tick_is_refused_at_its_line(approver_client, submitted):
    data = all_ticks()
    del data["approve-official_tone"]
    response = approver_client.post(approve_url(submitted), data)
    assert response.status_code == 200
    assert "official_tone" in response.context["approve_form"].errors
    submitted.refresh_from_db()
    assert submitted.state == MessageState.SUBMITTED


def test_portrait_without_reference_is_refused(approver_client, submitted):
    response = approver_client.post(approve_url(submitted), all_ticks(**{"approve-portrait_consent_applies": "on"}))
    assert "portrait_consent_reference" in response.context["approve_form"].errors
    submitted.refresh_from_db()
    assert submitted.state == MessageState.SUBMITTED


def test_service_requires_the_checklist(approver, submitted):
    with pytest.raises(services.ValidationError):
        services.message_approve(message=submitted, actor=approver, checklist={})
    with pytest.raises(services.ValidationError):
        checklist_validate({"presumption_of_innocence": True})


def test_checklist_is_configurable(settings, approver, submitted):
    settings.TANDEM_APPROVAL_CHECKLIST = [{"key": "privacy", "label": "No private data."}]
    with pytest.raises(services.ValidationError) as refused:
        services.message_approve(message=submitted, actor=approver, checklist={"official_tone": True})
    assert set(refused.value.error_dict) == {"privacy"}
    services.message_approve(message=submitted, actor=approver, checklist={"privacy": True})


def test_approver_cannot_approve_own_message_by_any_path(roles, channels, client):
    both = UserFactory(username="both", roles=["author", "approver"])
    message = make_message(author=both)
    services.message_submit(message=message, actor=both)
    client.force_login(both)
    page = client.get(reverse("admin:publisher_message_change", args=[message.pk]))
    assert page.context["can_review"] is False
    assert b'id="approve-form"' not in page.content
    assert b"own-message" in page.content
    client.post(approve_url(message), all_ticks())
    client.post(reverse("admin:publisher_message_reject", args=[message.pk]), {"reject-comment": "self"})
    with pytest.raises(services.NotAllowed):
        services.message_approve(message=message, actor=both, checklist=checklist_all_ticked())
    message.refresh_from_db()
    assert message.state == MessageState.SUBMITTED
    assert not AuditEvent.objects.filter(verb="message.approved").exists()
    queue = client.get(reverse("admin:publisher_message_approvals"))
    assert list(queue.context["rows"]) == []


def test_reject_with_comment_tells_the_author(approver_client, author, submitted, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        approver_client.post(
            reverse("admin:publisher_message_reject", args=[submitted.pk]), {"reject-comment": "Trop vague."}
        )
    submitted.refresh_from_db()
    assert submitted.state == MessageState.REJECTED
    assert [m.to for m in mail.outbox] == [[author.email]]
    assert "Trop vague." in mail.outbox[0].body


def test_emails_follow_the_recipients_language(roles, channels, django_capture_on_commit_callbacks):
    dutch = UserFactory(username="nlauthor", roles=["author"], preferred_language="nl")
    approver = UserFactory(username="frapprover", roles=["approver"], preferred_language="fr")
    message = make_message(author=dutch)
    services.message_submit(message=message, actor=dutch)
    with django_capture_on_commit_callbacks(execute=True):
        services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
    assert mail.outbox[0].subject.startswith("Goedgekeurd")


def test_no_email_when_the_transaction_rolls_back(approver, submitted, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                services.message_approve(message=submitted, actor=approver, checklist=checklist_all_ticked())
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    assert callbacks == []
    assert mail.outbox == []


def test_cancel_from_the_page(author_client, submitted):
    author_client.post(reverse("admin:publisher_message_cancel", args=[submitted.pk]), {"cancel-reason": "Doublon"})
    submitted.refresh_from_db()
    assert submitted.state == MessageState.CANCELLED
    assert submitted.state_reason == "Doublon"


def test_actions_refuse_get(author_client, submitted):
    response = author_client.get(reverse("admin:publisher_message_cancel", args=[submitted.pk]))
    assert response.status_code == 405


def test_retract_needs_the_publishing_service(approver_client, submitted):
    Message.objects.filter(pk=submitted.pk).update(state=MessageState.PUBLISHED)
    page = approver_client.get(reverse("admin:publisher_message_change", args=[submitted.pk]))
    assert page.context["can_retract"] is True


def test_an_author_cannot_retract_a_published_message_in_the_admin(author_client, submitted):
    """As in the API: withdrawing an approved message takes an approver."""
    Message.objects.filter(pk=submitted.pk).update(state=MessageState.PUBLISHED)
    page = author_client.get(reverse("admin:publisher_message_change", args=[submitted.pk]))
    assert page.context["can_retract"] is False
    response = author_client.post(
        reverse("admin:publisher_message_retract", args=[submitted.pk]), {"retract-reason": "Erreur"}
    )
    assert response.status_code == 403
    assert Message.objects.get(pk=submitted.pk).state == MessageState.PUBLISHED


def test_unapproved_message_expires_at_its_first_occurrence(
    author, roles, channels, django_capture_on_commit_callbacks
):
    with time_machine.travel("2026-11-27 10:00 +01:00", tick=False):
        from datetime import UTC, datetime

        due = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
        message = make_message(author=author)
        services.message_update(message=message, actor=author, schedule=services.Schedule(publish_at=due))
        services.message_submit(message=message, actor=author)
        later = make_message(author=author)
        services.message_update(
            message=later, actor=author, schedule=services.Schedule(publish_at=datetime(2026, 12, 1, tzinfo=UTC))
        )
        assert services.messages_expire_unapproved(now=datetime(2026, 11, 27, 11, 59, tzinfo=UTC)) == []
        with django_capture_on_commit_callbacks(execute=True):
            expired = services.messages_expire_unapproved(now=datetime(2026, 11, 27, 12, 1, tzinfo=UTC))
    assert [m.pk for m in expired] == [message.pk]
    message.refresh_from_db()
    later.refresh_from_db()
    assert message.state == MessageState.EXPIRED
    assert later.state == MessageState.DRAFT
    assert AuditEvent.objects.filter(verb="message.expired", object_id=str(message.pk)).exists()
    assert [m.to for m in mail.outbox] == [[author.email]]


def test_expired_list(author_client, author, channels):
    message = make_message(author=author)
    Message.objects.filter(pk=message.pk).update(state=MessageState.EXPIRED)
    page = author_client.get(reverse("admin:publisher_message_expired"))
    assert [m.pk for m in page.context["rows"]] == [message.pk]


def test_recurring_message_expires_at_its_first_rule_instance_not_its_start(author, roles, channels):
    from datetime import UTC, datetime

    with time_machine.travel("2026-11-27 10:00 +01:00", tick=False):
        message = make_message(author=author)
        # Starts on Friday 27 November but only repeats on Mondays: the first instance is 30 November.
        services.message_update(
            message=message,
            actor=author,
            schedule=services.Schedule(
                recurrence="FREQ=WEEKLY;BYDAY=MO", recurrence_start=datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
            ),
        )
    assert services.messages_expire_unapproved(now=datetime(2026, 11, 28, tzinfo=UTC)) == []
    assert [m.pk for m in services.messages_expire_unapproved(now=datetime(2026, 11, 30, 9, tzinfo=UTC))] == [
        message.pk
    ]


def test_an_approver_who_changed_the_message_sees_why_and_cannot_approve_it(roles, author, channels, client):
    """Four eyes: editing another author's draft on its page, then approving it, is refused."""
    power = UserFactory(username="power", roles=["author", "approver"], preferred_language="en")
    message = make_message(author=author)
    client.force_login(power)
    page_url = reverse("admin:publisher_message_change", args=[message.pk])
    edited = client.post(page_url, compose_data(text_fr="Texte réécrit.", first_time="2031-03-03T09:00"))
    assert edited.status_code == 302, edited.content.decode()[:2000]
    services.message_submit(message=message, actor=author)

    page = client.get(page_url)
    assert page.context["can_review"] is True
    assert page.context["changed_by_me"] is True
    assert b'id="approve-form"' not in page.content
    assert b'id="reject-form"' in page.content
    assert b"You changed this message since its last approval" in page.content

    refused = client.post(approve_url(message), all_ticks(), follow=True)
    assert "You changed this message since its last approval" in refused.content.decode()
    message.refresh_from_db()
    assert message.state == MessageState.SUBMITTED
    assert not AuditEvent.objects.filter(verb="message.approved").exists()
    edit = AuditEvent.objects.get(verb="message.edited", object_id=str(message.pk))
    assert edit.actor == power


@pytest.mark.parametrize("page", ["admin:publisher_message_approvals", "admin:publisher_message_expired"])
def test_message_lists_need_the_message_list_permission(client, submitted, page):
    client.force_login(UserFactory(username="channels", roles=["channel_admin"]))
    response = client.get(reverse(page))
    assert response.status_code == 403
    assert b"Test message" not in response.content
