"""The publish service: outcomes, retries, notifications, exercise, retract, rendering."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import TestCase, override_settings
from django.utils import timezone

from publisher.delivery import dispatch, posts, publishing
from publisher.models import (
    Attachment,
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Message,
    MessageState,
    MessageStatus,
)
from publisher.workflow import retraction
from tests.factories import UserFactory
from tests.fakes.dispatch_adapters import ADAPTERS, FakeAdapter
from tests.publisher.dispatch_support import approved_message, due_deliveries, fake_channels

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_registry")]

NOW = datetime(2027, 5, 3, 7, 0, tzinfo=UTC)


@pytest.fixture
def fake_registry():
    FakeAdapter.reset()
    with override_settings(TANDEM_CHANNEL_ADAPTERS=ADAPTERS):
        yield


def claim_and_publish(ids):
    """Claim (its on-commit hand-over never fires in the test transaction) and run the
    publish task directly, with its own on-commit notifications."""
    dispatch.deliveries_claim(ids=ids)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return publishing.deliveries_publish(delivery_ids=ids)


def set_behaviour(ids, **config):
    Channel.objects.filter(deliveries__in=ids).update(config=config)


def test_success_records_attempt_remote_id_and_lateness(author):
    ids = due_deliveries(author=author, count=2, due_at=NOW - timedelta(milliseconds=250))
    with time_machine.travel(NOW, tick=False):
        assert claim_and_publish(ids) == {"sent": 2}
    delivery = Delivery.objects.get(pk=ids[0])
    assert delivery.state == DeliveryState.SENT
    assert delivery.remote_url.startswith("https://fake.invalid/")
    assert delivery.lateness_ms == 250
    assert delivery.lease_expires_at is None
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert attempt.outcome == "sent"
    assert attempt.finished_at is not None
    assert attempt.duration_ms == 0


def test_running_the_task_twice_publishes_once(author):
    ids = due_deliveries(author=author, count=3, due_at=NOW)
    with time_machine.travel(NOW, tick=False):
        claim_and_publish(ids)
        assert publishing.deliveries_publish(delivery_ids=ids) == {}
    assert len(FakeAdapter.calls) == 3


def test_transient_error_backs_off_and_honours_retry_after_then_fails_with_reason(author):
    ids = due_deliveries(author=author, count=1, due_at=NOW)
    set_behaviour(ids, **{"raise": "rate_limited"})
    with (
        override_settings(TANDEM_MAX_ATTEMPTS=3, TANDEM_RETRY_BASE_SECONDS=0.5),
        time_machine.travel(NOW, tick=False) as clock,
    ):
        claim_and_publish(ids)
        delivery = Delivery.objects.get(pk=ids[0])
        assert delivery.state == DeliveryState.RETRY_WAIT
        assert delivery.next_attempt_at >= NOW + timedelta(seconds=2)  # Retry-After: 2
        assert delivery.last_error == "429 Too Many Requests"
        for _ in range(2):
            clock.shift(timedelta(seconds=3))
            claim_and_publish(ids)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED
    assert delivery.attempts == 3
    assert "3 attempts" in delivery.last_error
    assert "429 Too Many Requests" in delivery.last_error
    assert list(delivery.attempt_log.values_list("http_status", flat=True)) == [429, 429, 429]


def test_backoff_grows_exponentially_with_jitter():
    with override_settings(TANDEM_RETRY_BASE_SECONDS=10, TANDEM_RETRY_MAX_SECONDS=100):
        delays = [publishing.retry_delay(n) for n in (1, 2, 3, 4, 5, 6)]
        assert 5 <= delays[0] <= 10
        assert 10 <= delays[1] <= 20
        assert 20 <= delays[2] <= 40
        assert 50 <= delays[5] <= 100  # capped
        assert publishing.retry_delay(1, retry_after=60) == 60


def test_permanent_failure_on_one_language_does_not_hold_back_the_other(author, approver):
    fr, nl = fake_channels()
    Channel.objects.filter(pk=nl.pk).update(config={"raise": "permanent"})
    with time_machine.travel(NOW - timedelta(minutes=1), tick=False):
        message = approved_message(author=author, approver=approver, publish_at=NOW)
    ids = list(Delivery.objects.filter(occurrence__message=message).values_list("pk", flat=True))
    with time_machine.travel(NOW, tick=False):
        assert claim_and_publish(ids) == {"sent": 1, "permanent": 1}
    assert Delivery.objects.get(channel=fr).state == DeliveryState.SENT
    failed = Delivery.objects.get(channel=nl)
    assert failed.state == DeliveryState.FAILED
    assert failed.last_error == "422 Status is a duplicate"
    message.refresh_from_db()
    assert message.state == MessageState.PARTIALLY_FAILED
    assert nl.name in message.state_reason_text
    assert fr.name not in message.state_reason_text
    # Author and approver are told, each in their language, with channel and reason.
    assert sorted(m.to[0] for m in mail.outbox) == sorted([author.email, approver.email])
    assert all(nl.name in m.subject and "422 Status is a duplicate" in m.body for m in mail.outbox)


def test_auth_error_holds_the_channel_and_tells_its_admins(author, roles):
    admin = UserFactory(username="chanadmin", roles=["channel_admin"])
    ids = due_deliveries(author=author, count=1, due_at=NOW)
    set_behaviour(ids, **{"raise": "auth"})
    with time_machine.travel(NOW, tick=False):
        assert claim_and_publish(ids) == {"auth": 1}
        channel = Channel.objects.get(deliveries=ids[0])
        assert channel.needs_reconnect
        assert channel.needs_reconnect_reason == "401 The access token expired"
        assert channel.needs_reconnect_since == NOW
        assert Delivery.objects.get(pk=ids[0]).state == DeliveryState.RETRY_WAIT
        # Held: the dispatcher does not hammer the network.
        assert dispatch.deliveries_claim().handled == 0
    assert [m.to for m in mail.outbox] == [[admin.email]]
    assert "reconnect" in mail.outbox[0].subject.lower() or "reconnect" in mail.outbox[0].body.lower()
    Channel.objects.filter(pk=channel.pk).update(config={})
    publishing.channel_reconnected(channel=channel, actor=admin)
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        assert claim_and_publish(ids) == {"sent": 1}


def test_timeout_after_sending_is_unconfirmed_without_idempotency(author):
    ids = due_deliveries(author=author, count=1, due_at=NOW, kind="fake-nokey")
    set_behaviour(ids, **{"raise": "unknown"})
    with time_machine.travel(NOW, tick=False):
        claim_and_publish(ids)
    delivery = Delivery.objects.get(pk=ids[0])
    assert delivery.state == DeliveryState.UNCONFIRMED
    assert delivery.last_error == "Read timed out after 10 s"
    assert len(mail.outbox) == 1
    assert Message.objects.get(occurrences__deliveries=delivery).state == MessageState.FAILED


def test_timeout_after_sending_is_retried_with_the_same_key_where_honoured(author):
    ids = due_deliveries(author=author, count=1, due_at=NOW)
    set_behaviour(ids, **{"raise": "unknown"})
    with time_machine.travel(NOW, tick=False):
        claim_and_publish(ids)
    assert Delivery.objects.get(pk=ids[0]).state == DeliveryState.RETRY_WAIT
    set_behaviour(ids)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        claim_and_publish(ids)
    assert Delivery.objects.get(pk=ids[0]).state == DeliveryState.SENT
    assert len(FakeAdapter.posts) == 1  # the first (timed-out) request and the retry are one post
    assert {c["key"] for c in FakeAdapter.calls} == {f"tandem-delivery-{ids[0]}"}


def test_a_stale_worker_cannot_overwrite_a_newer_attempt(author):
    ids = due_deliveries(author=author, count=1, due_at=NOW)
    with time_machine.travel(NOW, tick=False):
        dispatch.deliveries_claim(ids=ids)
        started = publishing._deliveries_start(ids, NOW)
    # Meanwhile the lease ran out and another attempt took over.
    Delivery.objects.filter(pk=ids[0]).update(attempts=2)
    delivery = Delivery.objects.select_related("occurrence").get(pk=ids[0])
    attempt_id, attempt_no = started[ids[0]]
    call = publishing._Call(delivery=delivery, attempt_id=attempt_id, attempt_no=attempt_no, outcome="permanent")
    publishing._outcomes_record([call])
    assert Delivery.objects.get(pk=ids[0]).state == DeliveryState.SENDING
    assert DeliveryAttempt.objects.get(pk=attempt_id).outcome == "permanent-stale"


def test_exercise_renders_every_payload_without_sending(author):
    ids = due_deliveries(author=author, count=2, due_at=NOW, status=MessageStatus.EXERCISE)
    with time_machine.travel(NOW, tick=False):
        assert claim_and_publish(ids) == {"exercise": 2}
    assert not FakeAdapter.calls
    delivery = Delivery.objects.get(pk=ids[0])
    assert delivery.state == DeliveryState.SENT
    assert delivery.remote_id == "exercise"
    assert delivery.receipt["rendered"]["text"] == "Bonjour"
    assert delivery.receipt["rendered"]["exercise"] is True
    assert delivery.receipt["problems"] == []


def test_retract_deletes_where_possible_and_records_where_not(author, approver):
    fr, nl = fake_channels()
    Channel.objects.filter(pk=nl.pk).update(config={"retract": "refuse"})
    with time_machine.travel(NOW - timedelta(minutes=1), tick=False):
        message = approved_message(author=author, approver=approver, publish_at=NOW)
    ids = list(Delivery.objects.filter(occurrence__message=message).values_list("pk", flat=True))
    with time_machine.travel(NOW, tick=False):
        claim_and_publish(ids)
    retraction.message_retract(message=message, actor=approver, reason="Erreur de nom")
    # on_commit never fires inside the test transaction: run the task the hook would queue.
    result = publishing.deliveries_retract(delivery_ids=ids)
    assert len(result["retracted"]) == 1
    assert len(result["failed"]) == 1
    assert Delivery.objects.get(channel=fr).state == DeliveryState.RETRACTED
    refused = Delivery.objects.get(channel=nl)
    assert refused.state == DeliveryState.SENT
    assert "403 This post can no longer be deleted" in refused.last_error
    assert refused.receipt["retract_error"] == "403 This post can no longer be deleted"
    message.refresh_from_db()
    assert message.state == MessageState.RETRACTED
    assert message.state_reason == "Erreur de nom"
    assert FakeAdapter.retracted == [Delivery.objects.get(channel=fr).remote_id]


def test_post_carries_variant_images_with_alt_text_and_reply_receipt(author, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    ids = due_deliveries(author=author, count=1, due_at=NOW)
    delivery = Delivery.objects.select_related("occurrence__message").get(pk=ids[0])
    message = delivery.occurrence.message
    (tmp_path / "attachments").mkdir()
    (tmp_path / "attachments" / "x.png").write_bytes(_png())
    both = Attachment.objects.create(
        message=message,
        image="attachments/x.png",
        width=1,
        height=1,
        sha256="a" * 64,
        format="PNG",
        alt_fr="Un chien",
        alt_nl="Een hond",
    )
    Attachment.objects.create(
        message=message,
        image="attachments/x.png",
        width=1,
        height=1,
        sha256="b" * 64,
        format="PNG",
        alt_nl="Alleen NL",
        language="nl",
    )
    original = Delivery.objects.get(pk=due_deliveries(author=author, count=1, due_at=NOW)[0])
    Delivery.objects.filter(pk=original.pk).update(
        state=DeliveryState.SENT, remote_id="42", remote_url="https://x.invalid/42", receipt={"thread": "t1"}
    )
    Delivery.objects.filter(pk=delivery.pk).update(reply_to=original)
    [rendered] = posts.deliveries_for_render([delivery.pk])
    post = posts.post_build(rendered)
    assert post.language == "fr"
    assert post.text == "Bonjour"
    assert [(i.alt, i.width) for i in post.images] == [("Un chien", 1)]
    assert post.images[0].path == both.image.path
    assert post.reply_to.remote_id == "42"
    assert post.reply_to.extra == {"thread": "t1"}
    assert post.delivery_id == delivery.pk


def test_flaky_network_every_delivery_ends_sent_once_or_failed_with_reason(author):
    """30 % of calls fail with 503, 429 + Retry-After or a timeout after sending."""
    ids = due_deliveries(author=author, count=60, due_at=NOW)
    set_behaviour(ids, fail_rate=0.3, seed=7)
    with (
        override_settings(TANDEM_MAX_ATTEMPTS=4, TANDEM_RETRY_BASE_SECONDS=1),
        time_machine.travel(NOW, tick=False) as clock,
    ):
        for _ in range(12):
            due = list(
                Delivery.objects.filter(pk__in=ids, state__in=["pending", "retry_wait"]).values_list("pk", flat=True)
            )
            if not due:
                break
            claim_and_publish(due)
            clock.shift(timedelta(seconds=20))
    states = dict(Delivery.objects.filter(pk__in=ids).values_list("pk", "state"))
    # Sent once, or failed with the reason; a delivery whose last try also timed out after
    # sending stays honestly unconfirmed (with an idempotent network, rare at 30 %).
    assert set(states.values()) <= {DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.UNCONFIRMED}
    assert DeliveryState.SENT in states.values()
    posted = [p["delivery_id"] for p in FakeAdapter.posts.values()]
    assert len(posted) == len(set(posted))  # never twice
    sent = {pk for pk, state in states.items() if state == DeliveryState.SENT}
    assert set(posted) >= sent
    for failed in Delivery.objects.filter(pk__in=ids).exclude(state=DeliveryState.SENT):
        assert failed.last_error
    failures = set(DeliveryAttempt.objects.filter(delivery_id__in=ids).values_list("outcome", flat=True))
    assert {"transient", "unknown", "sent"} <= failures


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "PNG")
    return buffer.getvalue()


class InlineExecutor:
    """Runs each call at submit: every outcome is recorded in one group, deterministically."""

    def __init__(self, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, *args):
        from concurrent.futures import Future

        future = Future()
        future.set_result(fn(*args))
        return future


def test_publishing_a_batch_costs_the_same_queries_for_5_or_25_deliveries(
    author, monkeypatch, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(publishing, "ThreadPoolExecutor", InlineExecutor)
    monkeypatch.setattr(publishing, "_senders", {})  # a sender of its own, with the inline pool
    few = due_deliveries(author=author, count=5, due_at=NOW)
    many = due_deliveries(author=author, count=25, due_at=NOW)
    with time_machine.travel(NOW, tick=False):
        dispatch.deliveries_claim(ids=few + many)
        with CaptureQueriesContext(connection) as ctx:
            assert publishing.deliveries_publish(delivery_ids=few) == {"sent": 5}
        with django_assert_num_queries(len(ctx.captured_queries)):
            assert publishing.deliveries_publish(delivery_ids=many) == {"sent": 25}


def test_an_operator_can_send_a_failed_delivery_again(author, approver):
    ids = due_deliveries(author=author, count=1, due_at=NOW)
    set_behaviour(ids, **{"raise": "permanent"})
    with time_machine.travel(NOW, tick=False):
        claim_and_publish(ids)
    delivery = Delivery.objects.get(pk=ids[0])
    assert delivery.state == DeliveryState.FAILED
    set_behaviour(ids)
    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        publishing.delivery_retry(delivery=delivery, actor=approver)
        claim_and_publish(ids)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT
    assert delivery.attempts == 2
    assert Message.objects.get(occurrences__deliveries=delivery).state == MessageState.PUBLISHED
    with pytest.raises(ValidationError):
        publishing.delivery_retry(delivery=delivery, actor=approver)


def test_one_slow_network_holds_a_few_threads_and_the_others_go_past_it(author, monkeypatch):
    monkeypatch.setattr(publishing, "_senders", {})  # a sender with this test's bounds
    slow = due_deliveries(author=author, count=6, config={"url": "https://slow.invalid/hook", "latency": 0.3})
    fast = due_deliveries(author=author, count=6, config={"url": "https://fast.invalid/hook"})
    with override_settings(TANDEM_PUBLISH_NETWORK_CONCURRENCY=2):
        dispatch.deliveries_claim(ids=slow + fast)
        assert publishing.deliveries_publish(delivery_ids=slow + fast) == {"sent": 12}
    assert FakeAdapter.peak["slow.invalid"] == 2
    started = {c["delivery_id"]: c["at"] for c in FakeAdapter.calls}
    third_slow_wave = sorted(started[pk] for pk in slow)[4]
    assert max(started[pk] for pk in fast) < third_slow_wave


def test_a_task_takes_queued_deliveries_while_its_slow_call_runs(author):
    [slow] = due_deliveries(author=author, count=1, config={"latency": 0.5})
    others = due_deliveries(author=author, count=5)
    dispatch.deliveries_claim(ids=[slow, *others])
    assert publishing.deliveries_publish(delivery_ids=[slow], steal=True) == {"sent": 6}
    # The task that carried the others finds them taken and ends at once.
    assert publishing.deliveries_publish(delivery_ids=others) == {}
    assert len(FakeAdapter.calls) == 6


def test_a_task_of_a_stopping_cluster_takes_no_queued_deliveries(author):
    [slow] = due_deliveries(author=author, count=1, config={"latency": 0.3})
    others = due_deliveries(author=author, count=5)
    dispatch.deliveries_claim(ids=[slow, *others])
    assert publishing.deliveries_publish(delivery_ids=[slow], steal=True, may_steal=lambda: False) == {"sent": 1}
    assert set(Delivery.objects.filter(pk__in=others).values_list("state", flat=True)) == {DeliveryState.QUEUED}


def test_a_heartbeat_renews_only_the_leases_this_worker_still_holds(author):
    ids = due_deliveries(author=author, count=4, due_at=NOW)
    with time_machine.travel(NOW, tick=False):
        dispatch.deliveries_claim(ids=ids)
        started = publishing._deliveries_start(ids[:3], NOW)
    # ids[1] was taken back and started again elsewhere; ids[2] has its outcome; ids[3] is queued.
    Delivery.objects.filter(pk=ids[1]).update(attempts=2)
    Delivery.objects.filter(pk=ids[2]).update(state=DeliveryState.SENT, lease_expires_at=None)
    held = {pk: attempt_no for pk, (_id, attempt_no) in started.items()} | {ids[3]: 0}
    later = NOW + timedelta(seconds=5)
    assert publishing._leases_renew(held, later) == 2
    leases = dict(Delivery.objects.filter(pk__in=ids).values_list("pk", "lease_expires_at"))
    renewed = later + publishing.send_lease()
    assert leases[ids[0]] == renewed
    assert leases[ids[1]] != renewed
    assert leases[ids[2]] is None
    assert leases[ids[3]] == renewed


def test_a_row_another_worker_holds_is_not_taken_twice_until_the_dispatcher_takes_it_back(author):
    ids = due_deliveries(author=author, count=3, due_at=NOW)
    with time_machine.travel(NOW, tick=False):
        dispatch.deliveries_claim(ids=ids)
        assert sorted(publishing._deliveries_take(ids, NOW)) == sorted(ids)
        assert publishing._deliveries_take(ids, NOW) == []
        assert publishing._deliveries_waiting(urgent=False, limit=10) == []
    # The holder died: its send lease ran out, and the dispatcher queued them again.
    with time_machine.travel(NOW + publishing.send_lease() + timedelta(seconds=1), tick=False):
        assert dispatch.deliveries_claim().handled == 3
        assert sorted(publishing._deliveries_take(ids, timezone.now())) == sorted(ids)


def test_a_task_waiting_for_its_burst_renders_the_rest_of_it_and_the_other_tasks_find_nothing(author, monkeypatch):
    due_at = NOW + timedelta(seconds=5)
    burst = due_deliveries(author=author, count=6, due_at=due_at)
    later = due_deliveries(author=author, count=2, due_at=due_at + timedelta(seconds=30))
    urgent = due_deliveries(author=author, count=2, due_at=due_at, urgency="urgent")
    with time_machine.travel(NOW, tick=False) as clock:
        monkeypatch.setattr(publishing.time, "sleep", clock.shift)
        dispatch.deliveries_claim(ids=burst + later + urgent, ahead=timedelta(minutes=1))
        # The dispatcher split the burst in three tasks; the first worker to run takes it all.
        assert publishing.deliveries_publish(delivery_ids=burst[:2], steal=True) == {"sent": 6}
        assert publishing.deliveries_publish(delivery_ids=burst[2:4], steal=True) == {}
        assert publishing.deliveries_publish(delivery_ids=burst[4:], steal=True) == {}
    assert {c["delivery_id"] for c in FakeAdapter.calls} == set(burst)
    assert min(c["at"] for c in FakeAdapter.calls) >= due_at.timestamp()
    # Deliveries due later, or of the other urgency, are left to their own tasks.
    assert set(Delivery.objects.filter(pk__in=later + urgent).values_list("state", flat=True)) == {DeliveryState.QUEUED}


def test_a_task_takes_at_most_its_share_of_a_burst(author, monkeypatch):
    due_at = NOW + timedelta(seconds=5)
    burst = due_deliveries(author=author, count=6, due_at=due_at)
    with (
        override_settings(TANDEM_TASK_ABSORB_MAX=4),
        time_machine.travel(NOW, tick=False) as clock,
    ):
        monkeypatch.setattr(publishing.time, "sleep", clock.shift)
        dispatch.deliveries_claim(ids=burst, ahead=timedelta(minutes=1))
        assert publishing.deliveries_publish(delivery_ids=burst[:2], steal=True) == {"sent": 4}
        assert publishing.deliveries_publish(delivery_ids=burst[4:], steal=True) == {"sent": 2}


def test_a_burst_is_not_absorbed_by_a_task_run_inline_or_of_a_stopping_cluster(author, monkeypatch):
    due_at = NOW + timedelta(seconds=5)
    burst = due_deliveries(author=author, count=4, due_at=due_at)
    with time_machine.travel(NOW, tick=False) as clock:
        monkeypatch.setattr(publishing.time, "sleep", clock.shift)
        dispatch.deliveries_claim(ids=burst, ahead=timedelta(minutes=1))
        assert publishing.deliveries_publish(delivery_ids=burst[:1]) == {"sent": 1}
        assert publishing.deliveries_publish(delivery_ids=burst[1:2], steal=True, may_steal=lambda: False) == {
            "sent": 1
        }
    assert Delivery.objects.filter(pk__in=burst[2:], state=DeliveryState.QUEUED).count() == 2
