"""The dispatcher in-process (SQLite and PostgreSQL): claims, leases, missed occurrences."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from publisher.delivery import dispatch, publishing, scheduling
from publisher.models import Channel, Delivery, DeliveryAttempt, DeliveryState, Message, MessageState, Urgency
from tests.fakes.dispatch_adapters import ADAPTERS, FakeAdapter
from tests.publisher.dispatch_support import due_deliveries

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_registry")]

NOW = datetime(2027, 5, 3, 7, 0, tzinfo=UTC)


@pytest.fixture
def fake_registry():
    FakeAdapter.reset()
    with override_settings(TANDEM_CHANNEL_ADAPTERS=ADAPTERS):
        yield


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run a dispatcher pass and the tasks it hands over (the test cluster is synchronous)."""

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return dispatch.dispatch_once(**kwargs)

    return run


def test_due_deliveries_are_claimed_and_sent_once_others_wait(author, run_on_commit):
    due = due_deliveries(author=author, count=3, due_at=NOW - timedelta(seconds=1))
    later = due_deliveries(author=author, count=2, due_at=NOW + timedelta(minutes=5))
    with time_machine.travel(NOW, tick=False):
        assert run_on_commit() == 3
        assert run_on_commit() == 0
    assert set(Delivery.objects.filter(pk__in=due).values_list("state", flat=True)) == {DeliveryState.SENT}
    assert set(Delivery.objects.filter(pk__in=later).values_list("state", flat=True)) == {DeliveryState.PENDING}
    assert sorted(c["delivery_id"] for c in FakeAdapter.calls) == sorted(due)
    assert DeliveryAttempt.objects.filter(delivery_id__in=due, outcome="sent").count() == 3
    sent = Delivery.objects.get(pk=due[0])
    assert sent.lateness_ms == 1000
    assert sent.remote_id == f"remote-tandem-delivery-{sent.pk}"
    assert Message.objects.get(occurrences__deliveries=sent).state == MessageState.PUBLISHED


def test_next_due_at_is_the_earliest_waiting_delivery_or_lease(author):
    due_deliveries(author=author, count=1, due_at=NOW + timedelta(minutes=5))
    [queued] = due_deliveries(author=author, count=1, due_at=NOW - timedelta(minutes=1))
    Delivery.objects.filter(pk=queued).update(state=DeliveryState.QUEUED, lease_expires_at=NOW + timedelta(minutes=1))
    assert dispatch.next_due_at() == NOW + timedelta(minutes=1)
    Delivery.objects.filter(pk=queued).update(state=DeliveryState.SENT, lease_expires_at=None)
    # A burst is handed over slightly ahead so workers have rendered it by its due time.
    assert dispatch.next_due_at() == NOW + timedelta(minutes=5) - dispatch.lead()


# The base lead covers two deliveries here; each one more adds a second, up to four.
BURST_LEAD = {
    "TANDEM_DISPATCH_LEAD_SECONDS": 1.0,
    "TANDEM_DISPATCH_LEAD_COVERS": 2,
    "TANDEM_DISPATCH_LEAD_PER_THOUSAND": 1000.0,
    "TANDEM_DISPATCH_LEAD_MAX_SECONDS": 4.0,
}


@override_settings(**BURST_LEAD)
def test_a_bigger_burst_is_handed_over_earlier_up_to_the_longest_lead(author, run_on_commit, monkeypatch):
    due_at = NOW + timedelta(seconds=10)
    burst = due_deliveries(author=author, count=4, due_at=due_at)
    assert dispatch.lead(due_together=2) == timedelta(seconds=1)
    assert dispatch.lead(due_together=4) == timedelta(seconds=3)
    assert dispatch.lead(due_together=40) == timedelta(seconds=4)
    # The dispatcher wakes 1 + 2 s ahead for these four, and a pass then takes them all.
    assert dispatch.next_due_at() == due_at - timedelta(seconds=3)
    with time_machine.travel(due_at - timedelta(seconds=3.1), tick=False):
        assert run_on_commit() == 0
    with time_machine.travel(due_at - timedelta(seconds=3), tick=False) as clock:
        # The (synchronous) task waits for the due time on this test's clock.
        monkeypatch.setattr(publishing.time, "sleep", clock.shift)
        assert run_on_commit() == 4
    # Handed over early, no call went out before its due time.
    assert {c["at"] >= due_at.timestamp() for c in FakeAdapter.calls} == {True}
    assert set(Delivery.objects.filter(pk__in=burst).values_list("state", flat=True)) == {DeliveryState.SENT}


@override_settings(**BURST_LEAD)
def test_the_longest_lead_bounds_a_huge_burst_and_a_lone_delivery_keeps_the_base_lead(author):
    due_at = NOW + timedelta(seconds=30)
    [lone] = due_deliveries(author=author, count=1, due_at=NOW + timedelta(seconds=5))
    due_deliveries(author=author, count=9, due_at=due_at)
    assert dispatch.next_due_at() == NOW + timedelta(seconds=4)
    Delivery.objects.filter(pk=lone).update(state=DeliveryState.SENT)
    assert dispatch.next_due_at() == due_at - timedelta(seconds=4)
    # Deliveries of a channel waiting for reconnection neither wake the dispatcher nor count.
    Channel.objects.filter(deliveries__occurrence__due_at=due_at).update(needs_reconnect=True)
    assert dispatch.next_due_at() is None


def test_routine_delivery_missed_beyond_grace_expires_with_reason_urgent_goes_late(author, run_on_commit):
    old = NOW - timedelta(hours=2)
    routine = due_deliveries(author=author, count=2, due_at=old)
    urgent = due_deliveries(author=author, count=1, due_at=old, urgency=Urgency.URGENT)
    recent = due_deliveries(author=author, count=1, due_at=NOW - timedelta(minutes=30))
    with time_machine.travel(NOW, tick=False):
        run_on_commit()
    expired = Delivery.objects.filter(pk__in=routine)
    assert set(expired.values_list("state", flat=True)) == {DeliveryState.EXPIRED}
    assert all("60 minutes" in d.last_error for d in expired)
    assert Message.objects.get(occurrences__deliveries=routine[0]).state == MessageState.FAILED
    # The author hears once per message, with every channel and the reason (the other
    # mails say the urgent and the recent message went out).
    [notice] = [m for m in mail.outbox if "60 minutes" in m.body]
    assert notice.to == [author.email]
    assert all(d.channel.name in notice.body for d in expired)
    assert "60 minutes" in notice.body
    late = Delivery.objects.get(pk=urgent[0])
    assert late.state == DeliveryState.SENT
    assert late.lateness_ms == 2 * 3600 * 1000
    assert Delivery.objects.get(pk=recent[0]).state == DeliveryState.SENT
    assert not any(c["delivery_id"] in routine for c in FakeAdapter.calls)


def test_lost_queued_task_is_reclaimed_after_its_lease(author, run_on_commit):
    [pk] = due_deliveries(author=author, count=1, due_at=NOW - timedelta(minutes=2))
    Delivery.objects.filter(pk=pk).update(state=DeliveryState.QUEUED, lease_expires_at=NOW + timedelta(seconds=30))
    with time_machine.travel(NOW, tick=False):
        assert run_on_commit() == 0  # lease still running: somebody has it
    with time_machine.travel(NOW + timedelta(seconds=31), tick=False):
        assert run_on_commit() == 1
    assert Delivery.objects.get(pk=pk).state == DeliveryState.SENT
    assert len(FakeAdapter.calls) == 1


def _die_mid_send(pk):
    """What a SIGKILL during the network call leaves behind: sending, an open attempt."""
    Delivery.objects.filter(pk=pk).update(
        state=DeliveryState.SENDING, attempts=1, lease_expires_at=NOW - timedelta(seconds=1)
    )
    DeliveryAttempt.objects.create(delivery_id=pk, started_at=NOW - timedelta(minutes=3), outcome="sending")


def test_delivery_lost_mid_send_is_retried_with_the_same_key_where_the_network_dedups(author, run_on_commit):
    [pk] = due_deliveries(author=author, count=1, due_at=NOW - timedelta(minutes=3))
    # The lost attempt had reached the network.
    FakeAdapter.posts[f"tandem-delivery-{pk}"] = {"delivery_id": pk}
    _die_mid_send(pk)
    with time_machine.travel(NOW, tick=False):
        run_on_commit()
    delivery = Delivery.objects.get(pk=pk)
    assert delivery.state == DeliveryState.SENT
    assert delivery.attempts == 2
    assert len(FakeAdapter.posts) == 1
    assert list(DeliveryAttempt.objects.filter(delivery=delivery).values_list("outcome", flat=True)) == [
        "lost",
        "sent",
    ]


def test_delivery_lost_mid_send_is_unconfirmed_where_the_network_cannot_dedup(author, run_on_commit):
    [pk] = due_deliveries(author=author, count=1, due_at=NOW - timedelta(minutes=3), kind="fake-nokey")
    _die_mid_send(pk)
    with time_machine.travel(NOW, tick=False):
        run_on_commit()
    delivery = Delivery.objects.get(pk=pk)
    assert delivery.state == DeliveryState.UNCONFIRMED
    assert "check whether the post is online" in delivery.last_error
    assert not FakeAdapter.calls
    assert len(mail.outbox) == 1
    assert "may not have been published" in mail.outbox[0].subject or "publié" in mail.outbox[0].subject


def test_channel_needing_reconnection_is_held(author, run_on_commit):
    [pk] = due_deliveries(author=author, count=1, due_at=NOW - timedelta(seconds=5))
    Channel.objects.filter(deliveries=pk).update(needs_reconnect=True)
    with time_machine.travel(NOW, tick=False):
        assert run_on_commit() == 0
        assert dispatch.next_due_at() is None
    Channel.objects.filter(deliveries=pk).update(needs_reconnect=False)
    with time_machine.travel(NOW, tick=False):
        assert run_on_commit() == 1


@override_settings(TANDEM_DISPATCH_BATCH=7, TANDEM_TASK_BATCH=3)
def test_claims_in_batches_until_nothing_is_due(author, run_on_commit, django_assert_max_num_queries):
    ids = due_deliveries(author=author, count=20, due_at=NOW - timedelta(seconds=1))
    with time_machine.travel(NOW, tick=False):
        assert run_on_commit() == 20
    assert set(Delivery.objects.filter(pk__in=ids).values_list("state", flat=True)) == {DeliveryState.SENT}
    assert len({c["delivery_id"] for c in FakeAdapter.calls}) == len(FakeAdapter.calls) == 20


def test_claim_costs_the_same_queries_for_5_or_50_rows(author, django_assert_num_queries):
    due_deliveries(author=author, count=5, due_at=NOW - timedelta(seconds=1))
    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as ctx:
        assert dispatch.deliveries_claim().handled == 5
    few = len(ctx.captured_queries)
    assert few <= 5
    due_deliveries(author=author, count=50, due_at=NOW - timedelta(seconds=1))
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(few):
        assert dispatch.deliveries_claim().handled == 50


def test_cancel_stops_queued_deliveries_before_the_task_runs(author, approver):
    ids = due_deliveries(author=author, count=2, due_at=NOW - timedelta(seconds=1))
    with time_machine.travel(NOW, tick=False):
        dispatch.deliveries_claim()  # on_commit never fires inside the test transaction
    message = Message.objects.get(occurrences__deliveries=ids[0])
    assert scheduling.message_unschedule(message=message, actor=approver) == 2
    from publisher.delivery import publishing

    assert publishing.deliveries_publish(delivery_ids=ids) == {}
    assert not FakeAdapter.calls


def test_urgent_rows_are_claimed_first(author):
    routine = due_deliveries(author=author, count=3, due_at=NOW - timedelta(minutes=5))
    urgent = due_deliveries(author=author, count=2, due_at=NOW - timedelta(seconds=1), urgency=Urgency.URGENT)
    with time_machine.travel(NOW, tick=False), override_settings(TANDEM_DISPATCH_BATCH=2):
        claim = dispatch.deliveries_claim()
    assert sorted(claim.urgent) == sorted(urgent)
    assert not claim.routine
    assert set(Delivery.objects.filter(pk__in=routine).values_list("state", flat=True)) == {DeliveryState.PENDING}


def test_after_an_outage_only_the_latest_occurrence_of_a_recurring_message_goes_out(author, run_on_commit):
    from publisher.models import Occurrence

    [first] = due_deliveries(author=author, count=1, due_at=NOW - timedelta(minutes=40))
    delivery = Delivery.objects.select_related("occurrence").get(pk=first)
    later = Occurrence.objects.create(message=delivery.occurrence.message, due_at=NOW - timedelta(minutes=10))
    second = Delivery.objects.create(
        occurrence=later,
        channel=delivery.channel,
        language="fr",
        due_at=later.due_at,
        next_attempt_at=later.due_at,
    )
    with time_machine.travel(NOW, tick=False):
        assert run_on_commit() == 2
    skipped = Delivery.objects.get(pk=first)
    assert skipped.state == DeliveryState.EXPIRED
    assert "later occurrence" in skipped.last_error
    assert Delivery.objects.get(pk=second.pk).state == DeliveryState.SENT
    assert [c["delivery_id"] for c in FakeAdapter.calls] == [second.pk]


@override_settings(TANDEM_DISPATCH_POLL_SECONDS=0.1)
def test_the_loop_runs_passes_until_told_to_stop(author, django_capture_on_commit_callbacks):
    ids = due_deliveries(author=author, count=2, due_at=timezone.now() - timedelta(seconds=1))
    passes = []

    def should_stop():
        passes.append(1)
        return len(passes) > 2

    with django_capture_on_commit_callbacks(execute=True):
        dispatch.run(should_stop=should_stop, log=lambda line: None)
    assert set(Delivery.objects.filter(pk__in=ids).values_list("state", flat=True)) == {DeliveryState.SENT}


def test_a_channel_disabled_before_the_due_time_fails_its_delivery_with_the_reason(author, run_on_commit):
    [pk] = due_deliveries(author=author, count=1, due_at=NOW - timedelta(seconds=1))
    Channel.objects.filter(deliveries=pk).update(enabled=False)
    with time_machine.travel(NOW, tick=False):
        assert run_on_commit() == 1
    delivery = Delivery.objects.get(pk=pk)
    assert delivery.state == DeliveryState.FAILED
    assert "disabled" in delivery.last_error
    assert not FakeAdapter.calls
    assert Message.objects.get(occurrences__deliveries=pk).state == MessageState.FAILED


def _broker_down(*args, **kwargs):
    import redis

    raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_a_hand_over_the_broker_refuses_is_logged_and_claimed_again_when_it_is_back(
    author, run_on_commit, monkeypatch, caplog
):
    ids = due_deliveries(author=author, count=2, due_at=NOW - timedelta(seconds=1))
    real_enqueue = dispatch.enqueue.enqueue_publish
    monkeypatch.setattr(dispatch.enqueue, "enqueue_publish", _broker_down)
    with time_machine.travel(NOW, tick=False):
        # The robust on-commit hook logs the broker's error instead of raising out of the commit.
        assert run_on_commit() == 2
    assert "Hand-over of 2 deliveries to the broker failed" in caplog.text
    rows = Delivery.objects.filter(pk__in=ids)
    assert {d.state for d in rows} == {DeliveryState.QUEUED}
    # Released: claimable again half a second later, not after the whole queue lease.
    retry_at = NOW + timedelta(seconds=0.5)
    assert {d.lease_expires_at for d in rows} == {retry_at}
    assert dispatch.next_due_at() == retry_at
    monkeypatch.setattr(dispatch.enqueue, "enqueue_publish", real_enqueue)
    with time_machine.travel(retry_at, tick=False):
        assert run_on_commit() == 2
    assert set(Delivery.objects.filter(pk__in=ids).values_list("state", flat=True)) == {DeliveryState.SENT}
    assert sorted(c["delivery_id"] for c in FakeAdapter.calls) == sorted(ids)


def test_an_urgent_hand_over_the_broker_refuses_does_not_fail_the_committed_request(
    author, approver, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    from tests.publisher.dispatch_support import approved_message, fake_channels

    fake_channels()
    monkeypatch.setattr(dispatch.enqueue, "enqueue_publish", _broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        message = approved_message(author=author, approver=approver, urgency=Urgency.URGENT)
    assert "Hand-over of 2 deliveries to the broker failed" in caplog.text
    rows = Delivery.objects.filter(occurrence__message=message)
    assert rows.count() == 2
    assert {d.state for d in rows} == {DeliveryState.QUEUED}
    assert all(d.lease_expires_at <= timezone.now() + dispatch.hand_over_retry() for d in rows)


def test_a_retraction_the_broker_refuses_is_logged_not_raised(
    author, approver, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    from publisher.workflow import retraction
    from tests.publisher.dispatch_support import approved_message, fake_channels

    fake_channels()
    message = approved_message(author=author, approver=approver)
    Delivery.objects.filter(occurrence__message=message).update(state=DeliveryState.SENT)
    monkeypatch.setattr("publisher.delivery.enqueue.enqueue_retract", _broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        retraction.message_retract(message=message, actor=author, reason="Erreur")
    assert "retract_enqueue" in caplog.text
    assert Message.objects.get(pk=message.pk).state == MessageState.RETRACTED


class _Flaky:
    """dispatch_once that fails ``failures`` times with ``error`` before working."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.real = dispatch.dispatch_once

    def __call__(self, **kwargs):
        if self.failures:
            self.failures -= 1
            raise self.error
        return self.real(**kwargs)


@override_settings(TANDEM_DISPATCH_POLL_SECONDS=0.01)
def test_the_loop_survives_any_exception_of_a_pass_and_backs_off_capped(
    author, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    ids = due_deliveries(author=author, count=2, due_at=timezone.now() - timedelta(seconds=1))
    monkeypatch.setattr(dispatch, "dispatch_once", _Flaky(7, AttributeError("'functools.partial' has no __qualname__")))
    slept: list[float] = []
    passes = []

    def should_stop():
        passes.append(1)
        return len(passes) > 9

    with django_capture_on_commit_callbacks(execute=True):
        dispatch.run(should_stop=should_stop, log=lambda line: None, sleep=slept.append)
    assert slept == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert caplog.text.count("Dispatcher pass failed") == 7
    assert set(Delivery.objects.filter(pk__in=ids).values_list("state", flat=True)) == {DeliveryState.SENT}


@override_settings(TANDEM_DISPATCH_POLL_SECONDS=0.01)
def test_the_backoff_starts_again_after_a_pass_that_succeeds(author, monkeypatch):
    flaky = _Flaky(2, RuntimeError("boom"))
    monkeypatch.setattr(dispatch, "dispatch_once", flaky)
    slept: list[float] = []
    passes = []

    def should_stop():
        passes.append(1)
        if len(passes) == 4:
            flaky.failures = 1  # fails again after a good pass
        return len(passes) > 5

    dispatch.run(should_stop=should_stop, log=lambda line: None, sleep=slept.append)
    assert slept == [0.5, 1.0, 0.5]


@pytest.mark.skipif("connection.vendor == 'postgresql'", reason="PostgreSQL wakes dispatchers with NOTIFY")
def test_a_commit_wakes_a_sleeping_dispatcher_on_sqlite_without_waiting_for_its_poll(
    author, django_capture_on_commit_callbacks
):
    waker = dispatch._Waker()
    try:
        assert waker.wait(0.01) is False  # binds its socket; nothing to read yet
        with django_capture_on_commit_callbacks(execute=True):
            scheduling.dispatcher_notify()
            assert waker.wait(0.01) is False, "woken before the commit"
        began = time.monotonic()
        assert waker.wait(5.0) is True
        assert time.monotonic() - began < 1.0
    finally:
        waker.close()
    assert not list(scheduling.wake_dir().glob("*.sock"))
