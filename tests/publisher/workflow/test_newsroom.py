"""The newsroom home's reads: what goes out, what waits for me, what needs a decision, which
channels and alerts need someone, my messages' live status; fixed query counts."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from publisher.models import AuditEvent, Channel, MessageState
from publisher.workflow import newsroom, services
from tests.factories import ChannelFactory, UserFactory, make_message
from tests.publisher.newsroom_support import message_with_deliveries

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def pair(db):
    return ChannelFactory(name="Police FR", language="fr"), ChannelFactory(name="Politie NL", language="nl")


def test_upcoming_lists_each_time_per_language_and_channel_within_the_window(author, pair):
    fr, nl = pair
    soon, _ = message_with_deliveries(
        author=author, title="Soon", due_at=NOW + timedelta(hours=2), routes=[(nl, "pending"), (fr, "pending")]
    )
    message_with_deliveries(author=author, title="Later", due_at=NOW + timedelta(days=4), routes=[(fr, "pending")])
    message_with_deliveries(author=author, title="Gone", due_at=NOW - timedelta(hours=1), routes=[(fr, "sent")])
    message_with_deliveries(
        author=author,
        title="Retracted",
        state=MessageState.RETRACTED,
        due_at=NOW + timedelta(hours=1),
        routes=[(fr, "pending")],
    )
    late, _ = message_with_deliveries(
        author=author, title="Late", due_at=NOW - timedelta(minutes=5), routes=[(fr, "retry_wait")]
    )
    entries = newsroom.upcoming(now=NOW)
    assert [e.message.title for e in entries] == ["Late", "Soon"]
    assert [(lang, [r.channel.name for r in routes]) for lang, routes in entries[1].languages] == [
        ("fr", ["Police FR"]),
        ("nl", ["Politie NL"]),
    ]
    assert entries[1].message == soon
    assert entries[0].message == late


def test_awaiting_my_approval_leaves_out_what_i_wrote_or_changed(author, approver, roles):
    other = UserFactory(username="other-approver", roles=["approver"])
    mine = make_message(author=approver)
    services.message_submit(message=mine, actor=approver)
    clean = make_message(author=author)
    services.message_submit(message=clean, actor=author)
    touched = make_message(author=author)
    services.message_update(message=touched, actor=approver, title="Changed by the approver")
    services.message_submit(message=touched, actor=author)
    assert list(newsroom.awaiting_my_approval(user=approver)) == [clean]
    assert set(newsroom.awaiting_my_approval(user=other)) == {mine, clean, touched}
    assert list(newsroom.awaiting_my_approval(user=author)) == []  # not an approver


def test_deliveries_needing_a_decision_are_everyones_for_deciders_and_own_for_authors(author, approver, pair):
    fr, nl = pair
    colleague = UserFactory(username="colleague", roles=["author"])
    _m, [failed, _sent] = message_with_deliveries(
        author=author, due_at=NOW, routes=[(fr, "failed"), (nl, "sent")], state=MessageState.PARTIALLY_FAILED
    )
    _m, [unconfirmed] = message_with_deliveries(
        author=colleague, due_at=NOW - timedelta(hours=1), routes=[(fr, "unconfirmed")], state=MessageState.FAILED
    )
    message_with_deliveries(author=author, due_at=NOW, routes=[(nl, "failed")], state=MessageState.RETRACTED)
    assert newsroom.deliveries_needing_decision(user=approver) == [failed, unconfirmed]
    assert newsroom.deliveries_needing_decision(user=author) == [failed]


def test_channels_needing_reconnection_count_what_they_hold(author, pair):
    fr, nl = pair
    Channel.objects.filter(pk=fr.pk).update(needs_reconnect=True, needs_reconnect_reason="401 token revoked")
    message_with_deliveries(author=author, due_at=NOW, routes=[(fr, "pending"), (nl, "pending")])
    message_with_deliveries(author=author, due_at=NOW, routes=[(fr, "sent")])
    [channel] = newsroom.channels_needing_reconnection()
    assert (channel.pk, channel.held) == (fr.pk, 1)


def test_policy_alerts_stay_listed_until_an_approver_reviews_them(author, approver, pair):
    fr, _nl = pair
    alert, _ = message_with_deliveries(
        author=author, title="Alert", due_at=NOW, routes=[(fr, "sent")], approved_by_policy=True, urgency="urgent"
    )
    message_with_deliveries(author=author, title="Routine", due_at=NOW, routes=[(fr, "sent")])
    assert list(newsroom.policy_alerts_unreviewed()) == [alert]
    services.audit_record(actor=approver, verb=newsroom.POLICY_REVIEWED_VERB, obj=alert)
    assert list(newsroom.policy_alerts_unreviewed()) == []
    # A review of another object with the same id does not count.
    AuditEvent.objects.create(verb=newsroom.POLICY_REVIEWED_VERB, object_type="channel", object_id=str(alert.pk + 1))


def test_my_recent_messages_show_the_live_delivery_per_language_and_channel(author, approver, pair):
    fr, nl = pair
    message, _ = message_with_deliveries(
        author=author, due_at=NOW - timedelta(days=1), routes=[(fr, "sent"), (nl, "failed")]
    )
    # The next occurrence of a recurring message: the past one still tells where it stands.
    from publisher.models import Delivery, Occurrence

    occurrence = Occurrence.objects.create(message=message, due_at=NOW + timedelta(days=6))
    Delivery.objects.create(occurrence=occurrence, channel=fr, language="fr", due_at=occurrence.due_at)
    message_with_deliveries(author=approver, due_at=NOW, routes=[(fr, "sent")])
    [row] = newsroom.my_recent_messages(user=author, now=NOW)
    assert [(r.language, r.channel.name, r.delivery.state) for r in row.routes] == [
        ("fr", "Police FR", "sent"),
        ("nl", "Politie NL", "failed"),
    ]
    assert row.routes[0].delivery.remote_url.startswith("https://social.example/")


def test_next_publications_only_what_is_still_to_come(author, approver, pair):
    message = make_message(author=author)
    due = NOW + timedelta(hours=3)
    services.message_update(message=message, actor=author, schedule=services.Schedule(publish_at=due))
    message.refresh_from_db()
    assert newsroom.next_publications(message, now=NOW) == [due]
    for state in (MessageState.PUBLISHED, MessageState.FAILED):
        message.state = state
        assert newsroom.next_publications(message, now=due + timedelta(minutes=1)) == []
    for state in (MessageState.RETRACTED, MessageState.CANCELLED):
        message.state = state
        assert newsroom.next_publications(message, now=NOW) == []  # withdrawn: nothing more, even ahead
    message.state = MessageState.DRAFT  # not approved yet: the schedule as written
    assert newsroom.next_publications(message, now=due + timedelta(minutes=1)) == [due]


def _populate(author, approver, n):
    channels = [ChannelFactory(language="fr" if i % 2 else "nl") for i in range(n)]
    elsewhere = ChannelFactory(language="nl")
    for i, channel in enumerate(channels):
        message_with_deliveries(author=author, due_at=NOW + timedelta(hours=i + 1), routes=[(channel, "pending")])
        message_with_deliveries(
            author=author,
            due_at=NOW - timedelta(hours=i + 1),
            routes=[(channel, "failed"), (elsewhere, "sent")],
            state=MessageState.PARTIALLY_FAILED,
            approved_by_policy=True,
        )
        Channel.objects.filter(pk=channel.pk).update(needs_reconnect=True)
        draft = make_message(author=approver if i % 2 else author)
        services.message_submit(message=draft, actor=draft.author)


def test_the_home_costs_the_same_queries_for_few_or_many_rows(author, approver, pair, django_assert_num_queries):
    with time_machine.travel(NOW, tick=False):
        _populate(author, approver, 2)
        approver.refresh_from_db()
        with CaptureQueriesContext(connection) as few:
            home = newsroom.home(user=approver, now=NOW)
            assert home.upcoming
            assert home.awaiting
            assert home.decisions
            assert home.reconnect
            assert home.alerts
        _populate(author, approver, 6)
        approver = type(approver).objects.get(pk=approver.pk)  # a fresh permission cache, as a request has
        with django_assert_num_queries(len(few.captured_queries)):
            home = newsroom.home(user=approver, now=NOW)
            assert len(home.decisions) == 8
            assert len(home.alerts) == 8
            for entry in home.upcoming:
                assert entry.languages
            for message in home.awaiting + home.alerts:
                list(message.variants.all())
        # For an author too (their own recent messages with every delivery).
        author = type(author).objects.get(pk=author.pk)
        with CaptureQueriesContext(connection) as mine:
            home = newsroom.home(user=author, now=NOW)
            assert len(home.mine) == newsroom.RECENT_LIMIT
        assert len(mine.captured_queries) <= len(few.captured_queries)
