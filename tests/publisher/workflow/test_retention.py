"""Retention (publisher/workflow/retention.py, manage.py prune_history): old finished history goes;
messages in progress, unfinished deliveries, follow-up threads, audit and feeds keep theirs."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from publisher.models import (
    AuditEvent,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Message,
    MessageKind,
    MessageState,
    Occurrence,
    Urgency,
    Variant,
)
from publisher.workflow import retention
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=200)
RECENT = NOW - timedelta(days=10)


@pytest.fixture
def channel(db):
    return ChannelFactory(kind="outbox", language="fr", covers_all=True)


def history(
    author,
    channel,
    *,
    when=OLD,
    message_state=MessageState.PUBLISHED,
    state=DeliveryState.SENT,
    attempts=1,
    message=None,
    **message_fields,
) -> Delivery:
    """One delivery due (and last changed) at ``when``, with its attempts, on a message of its own."""
    if message is None:
        message = Message.objects.create(title="Old", author=author, state=message_state, **message_fields)
        Variant.objects.create(message=message, language="fr", text="Texte")
    occurrence, _ = Occurrence.objects.get_or_create(message=message, due_at=when)
    delivery = Delivery.objects.create(
        occurrence=occurrence,
        channel=channel,
        language=channel.language,
        due_at=when,
        state=state,
        remote_id="remote-1" if state == DeliveryState.SENT else "",
        sent_at=when if state == DeliveryState.SENT else None,
    )
    for _ in range(attempts):
        DeliveryAttempt.objects.create(delivery=delivery, started_at=when, finished_at=when, outcome="sent")
    # updated_at is set on save: age it as a year of history would be.
    Delivery.objects.filter(pk=delivery.pk).update(updated_at=when)
    return delivery


def exists(delivery: Delivery) -> bool:
    return Delivery.objects.filter(pk=delivery.pk).exists()


def prune(**kwargs):
    return retention.history_prune(days=kwargs.pop("days", 90), now=NOW, **kwargs)


def test_old_finished_history_goes_with_its_attempts_and_occurrences(author, channel):
    old = [history(author, channel, state=state) for state in retention.FINISHED]
    young = history(author, channel, when=RECENT)

    result = prune()

    assert (result.deliveries, result.attempts, result.occurrences) == (5, 5, 5)
    assert not any(exists(d) for d in old)
    assert not DeliveryAttempt.objects.filter(delivery_id__in=[d.pk for d in old]).exists()
    assert not Occurrence.objects.filter(pk__in=[d.occurrence_id for d in old]).exists()
    assert exists(young)
    assert young.attempt_log.count() == 1
    # Messages stay: the message list and the audit trail name them.
    assert Message.objects.filter(pk__in=[d.occurrence.message_id for d in old]).count() == 5


def test_a_delivery_changed_recently_stays_even_if_it_was_due_long_ago(author, channel):
    retracted_lately = history(author, channel, state=DeliveryState.RETRACTED)
    Delivery.objects.filter(pk=retracted_lately.pk).update(updated_at=RECENT)

    assert prune().deliveries == 0
    assert exists(retracted_lately)


def test_batches_are_bounded_and_a_second_run_deletes_nothing(author, channel):
    for _ in range(5):
        history(author, channel)

    first = prune(batch_size=2)
    second = prune(batch_size=2)

    assert (first.deliveries, first.batches) == (5, 3)
    assert (second.deliveries, second.attempts, second.occurrences, second.batches) == (0, 0, 0, 0)
    assert AuditEvent.objects.filter(verb="history.pruned").count() == 1


def test_dry_run_counts_and_deletes_nothing(author, channel):
    kept = [history(author, channel, attempts=2) for _ in range(3)]

    result = prune(dry_run=True)

    assert (result.deliveries, result.attempts, result.dry_run) == (3, 6, True)
    assert all(exists(d) for d in kept)
    assert not AuditEvent.objects.filter(verb="history.pruned").exists()


@pytest.mark.parametrize(
    "message_state",
    [
        MessageState.DRAFT,
        MessageState.SUBMITTED,
        MessageState.APPROVED,
        MessageState.SCHEDULED,
        MessageState.PUBLISHING,
    ],
)
def test_messages_in_progress_keep_all_their_history(author, channel, message_state):
    delivery = history(author, channel, message_state=message_state)

    assert prune().deliveries == 0
    assert exists(delivery)


def test_a_live_recurring_message_keeps_its_past_occurrences(author, channel):
    weekly = history(author, channel, recurrence="RRULE:FREQ=WEEKLY")
    ended = history(author, channel, message_state=MessageState.CANCELLED, recurrence="RRULE:FREQ=WEEKLY")

    prune()

    assert exists(weekly)
    assert not exists(ended)


@pytest.mark.parametrize(
    "state",
    [
        DeliveryState.PENDING,
        DeliveryState.QUEUED,
        DeliveryState.SENDING,
        DeliveryState.RETRY_WAIT,
        DeliveryState.UNCONFIRMED,
    ],
)
def test_unfinished_deliveries_and_their_message_stay(author, channel, state):
    unfinished = history(author, channel, state=state)
    sibling = history(author, channel, message=unfinished.occurrence.message, when=OLD - timedelta(days=7))

    assert prune().deliveries == 0
    assert exists(unfinished)
    assert exists(sibling)


def test_an_urgent_alert_that_can_be_followed_up_keeps_its_posts(author, channel):
    alert = history(author, channel, urgency=Urgency.URGENT, kind=MessageKind.ALERT)
    retracted_alert = history(
        author, channel, urgency=Urgency.URGENT, message_state=MessageState.RETRACTED, state=DeliveryState.RETRACTED
    )

    prune()

    # An update posted next year still replies on the original post: its remote id is there.
    assert exists(alert)
    assert Delivery.objects.get(pk=alert.pk).remote_id == "remote-1"
    assert not exists(retracted_alert)


def test_a_delivery_someone_replies_to_stays_while_the_reply_does(author, channel):
    original = history(author, channel)
    reply = history(author, channel, when=RECENT)
    Delivery.objects.filter(pk=reply.pk).update(reply_to=original)

    prune()

    assert exists(original)
    assert Delivery.objects.get(pk=reply.pk).reply_to_id == original.pk

    # Once the reply is old enough too, both go (the reply first, then its parent).
    Delivery.objects.filter(pk=reply.pk).update(due_at=OLD, updated_at=OLD)
    assert prune(batch_size=1).deliveries == 2


def test_audit_events_stay_and_an_audited_delivery_keeps_the_trail_whole(author, channel):
    audited = history(author, channel, state=DeliveryState.FAILED)
    AuditEvent.objects.create(actor=author, verb="delivery.retried", object_type="delivery", object_id=str(audited.pk))
    plain = history(author, channel)
    before = set(AuditEvent.objects.values_list("pk", flat=True))

    prune()

    assert exists(audited)
    assert not exists(plain)
    assert before <= set(AuditEvent.objects.values_list("pk", flat=True))
    event = AuditEvent.objects.get(verb="history.pruned")
    assert event.summary["deliveries"] == 1
    assert event.summary["days"] == 90
    assert event.actor_label == "retention"


def test_the_feeds_keep_every_entry_they_show(client, author):
    from publisher.feeds.syndication import FEED_SIZE

    atom = ChannelFactory(kind="atom", language="fr", covers_all=True)
    cap = ChannelFactory(kind="cap", language="fr", covers_all=True)
    posts = [history(author, atom, when=OLD - timedelta(hours=i)) for i in range(FEED_SIZE + 5)]
    alert = history(author, cap)
    before = client.get("/feeds/fr.atom").content
    cap_before = client.get("/feeds/cap.xml").content

    result = prune()

    assert result.deliveries == 5
    assert [exists(p) for p in posts] == [True] * FEED_SIZE + [False] * 5
    assert exists(alert)
    assert client.get("/feeds/fr.atom").content == before
    assert client.get(f"/feeds/{atom.pk}.atom").status_code == 200
    assert client.get("/feeds/cap.xml").content == cap_before
    assert client.get(f"/feeds/cap/{alert.occurrence.message_id}.xml").status_code == 200


def test_command_prunes_with_days_or_the_setting(author, channel, time_machine):
    time_machine.move_to(NOW)
    history(author, channel)
    history(author, channel)
    out = StringIO()

    call_command("prune_history", "--days", "90", "--dry-run", stdout=out)
    assert "Would delete 2 deliveries and 2 attempts" in out.getvalue()
    assert Delivery.objects.count() == 2

    with override_settings(TANDEM_RETENTION_DAYS=90):
        call_command("prune_history", stdout=out)
    assert "Deleted 2 deliveries, 2 attempts and 2 occurrences" in out.getvalue()
    assert Delivery.objects.count() == 0


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((), "Retention is off"),
        (("--days", "0"), "1 or more"),
        (("--days", "-3"), "1 or more"),
        (("--days", "30", "--batch-size", "0"), "--batch-size must be 1 or more"),
    ],
)
def test_command_refuses_bad_input(args, error):
    with override_settings(TANDEM_RETENTION_DAYS=0), pytest.raises(CommandError, match=error):
        call_command("prune_history", *args)


def test_command_speaks_french_and_dutch(settings):
    from django.utils import translation

    for language, words in (("fr", "conservation limitée"), ("nl", "Bewaarbeperking")):
        with translation.override(language), pytest.raises(CommandError, match=words):
            call_command("prune_history")
