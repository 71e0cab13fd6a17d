"""Event-time metrics: what the publish path counts, summed over processes (publisher/metrics.py)."""

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.test import TestCase, override_settings

from publisher import metrics
from publisher.delivery import dispatch, publishing
from publisher.models import Channel, Delivery, Message, Urgency
from tests.fakes.dispatch_adapters import ADAPTERS, FakeAdapter
from tests.publisher.dispatch_support import due_deliveries
from tests.publisher.metrics_support import Delta, value

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_registry")]

NOW = datetime(2027, 5, 3, 7, 0, tzinfo=UTC)
LATENESS = "tandem_delivery_lateness_seconds"
ATTEMPTS = "tandem_delivery_attempts_total"
POST_TO_SENT = "tandem_alert_post_to_sent_seconds"


@pytest.fixture
def fake_registry():
    FakeAdapter.reset()
    with override_settings(TANDEM_CHANNEL_ADAPTERS=ADAPTERS):
        yield


def claim_and_publish(ids):
    dispatch.deliveries_claim(ids=ids)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return publishing.deliveries_publish(delivery_ids=ids)


def test_a_sent_delivery_counts_its_attempt_and_observes_its_lateness(author):
    ids = due_deliveries(author=author, count=2, due_at=NOW - timedelta(milliseconds=1500))
    routine = {"network": "fake", "priority": "routine"}
    with (
        Delta(ATTEMPTS, network="fake", outcome="sent", status="none") as sent,
        Delta(f"{LATENESS}_count", **routine) as count,
        Delta(f"{LATENESS}_sum", **routine) as total,
        Delta(f"{LATENESS}_bucket", le="1.0", **routine) as within_a_second,
        Delta(f"{LATENESS}_bucket", le="2.0", **routine) as within_two,
        Delta(f"{POST_TO_SENT}_count") as alerts,
        time_machine.travel(NOW, tick=False),
    ):
        assert claim_and_publish(ids) == {"sent": 2}
    assert sent.value == 2
    assert count.value == 2
    assert total.value == pytest.approx(3.0)
    assert within_a_second.value == 0
    assert within_two.value == 2
    assert alerts.value == 0  # a routine message is no alert


def test_retries_and_errors_are_counted_per_network_and_http_status(author):
    ids = due_deliveries(author=author, count=1, due_at=NOW)
    Channel.objects.filter(deliveries__in=ids).update(config={"raise": "transient"})
    with (
        Delta(ATTEMPTS, network="fake", outcome="transient", status="503") as transient,
        Delta(ATTEMPTS, network="fake", outcome="permanent", status="422") as permanent,
        Delta(f"{LATENESS}_count", network="fake", priority="routine") as lateness,
        override_settings(TANDEM_MAX_ATTEMPTS=3, TANDEM_RETRY_BASE_SECONDS=0.5),
        time_machine.travel(NOW, tick=False) as clock,
    ):
        for _ in range(3):
            claim_and_publish(ids)
            clock.shift(timedelta(seconds=5))
        Delivery.objects.filter(pk=ids[0]).update(state="pending", next_attempt_at=NOW)
        Channel.objects.filter(deliveries__in=ids).update(config={"raise": "permanent"})
        claim_and_publish(ids)
    assert transient.value == 3
    assert permanent.value == 1
    assert lateness.value == 0  # nothing was sent


def test_an_alert_observes_post_to_sent_and_urgent_lateness(author):
    ids = due_deliveries(author=author, count=1, due_at=NOW - timedelta(seconds=1), urgency=Urgency.URGENT)
    message = Message.objects.get(occurrences__deliveries=ids[0])
    # As alert_create leaves it: approved by the urgent-alert policy, created at the POST.
    Message.objects.filter(pk=message.pk).update(approved_by_policy=True, created_at=NOW - timedelta(seconds=2.5))
    with (
        Delta(f"{POST_TO_SENT}_count") as count,
        Delta(f"{POST_TO_SENT}_sum") as total,
        Delta(f"{POST_TO_SENT}_bucket", le="2.0") as within_two,
        Delta(f"{POST_TO_SENT}_bucket", le="3.0") as within_three,
        Delta(f"{LATENESS}_count", network="fake", priority="urgent") as urgent,
        time_machine.travel(NOW, tick=False),
    ):
        assert claim_and_publish(ids) == {"sent": 1}
    assert count.value == 1
    assert total.value == pytest.approx(2.5)
    assert (within_two.value, within_three.value) == (0, 1)
    assert urgent.value == 1


def test_an_outcome_fenced_off_by_a_newer_attempt_counts_as_stale_and_observes_nothing(author):
    ids = due_deliveries(author=author, count=1, due_at=NOW)
    with time_machine.travel(NOW, tick=False):
        dispatch.deliveries_claim(ids=ids)
        started = publishing._deliveries_start(ids, NOW)
    Delivery.objects.filter(pk=ids[0]).update(attempts=2)
    delivery = Delivery.objects.select_related("channel", "occurrence__message").get(pk=ids[0])
    attempt_id, attempt_no = started[ids[0]]
    call = publishing._Call(
        delivery=delivery, attempt_id=attempt_id, attempt_no=attempt_no, outcome="sent", started_at=NOW, finished_at=NOW
    )
    with (
        Delta(ATTEMPTS, network="fake", outcome="sent-stale", status="none") as stale,
        Delta(f"{LATENESS}_count", network="fake", priority="routine") as lateness,
    ):
        publishing._outcomes_record([call])
    assert stale.value == 1
    assert lateness.value == 0


def test_an_attempt_whose_worker_vanished_is_counted_lost_once_the_claim_commits(author):
    ids = due_deliveries(author=author, count=1, due_at=NOW)
    with time_machine.travel(NOW, tick=False):
        dispatch.deliveries_claim(ids=ids)
        publishing._deliveries_start(ids, NOW)
    with Delta(ATTEMPTS, network="fake", outcome="lost", status="none") as lost:
        with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
            with TestCase.captureOnCommitCallbacks(execute=False) as hooks:
                dispatch.deliveries_claim(ids=ids)
        assert value(ATTEMPTS, network="fake", outcome="lost", status="none") == lost.before  # not before the commit
        for hook in hooks:
            if hook.__name__ == "lost_count":
                hook()
    assert lost.value == 1


def test_recording_makes_no_query(author, django_assert_num_queries):
    ids = due_deliveries(author=author, count=3, due_at=NOW)
    [delivery] = [d for d in publishing.posts.deliveries_for_render(ids) if d.pk == ids[0]]
    delivery.state, delivery.lateness_ms, delivery.sent_at = "sent", 10, NOW
    call = publishing._Call(delivery=delivery, outcome="sent", started_at=NOW, finished_at=NOW)
    with django_assert_num_queries(0):
        metrics.deliveries_recorded([call], recorded=[delivery])


# --- across processes -----------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import os
    from datetime import UTC, datetime, timedelta

    import django

    django.setup()
    from types import SimpleNamespace

    from publisher import metrics
    from publisher.models import Channel, Delivery, Message, Occurrence

    now = datetime.now(UTC)
    message = Message(pk=9, approved_by_policy=True, created_at=now - timedelta(seconds=4))
    delivery = Delivery(
        pk=90,
        channel=Channel(pk=7, kind="webhook"),
        occurrence=Occurrence(pk=8, message=message),
        state="sent",
        urgent=True,
        lateness_ms=700,
        sent_at=now,
    )
    call = SimpleNamespace(delivery=delivery, outcome="sent", http_status=200, started_at=now, finished_at=now)
    metrics.deliveries_recorded([call], recorded=[delivery])
    metrics.token_refresh_failed(network="webhook")
    print(os.getpid())
    """
)


def test_what_another_process_counted_is_in_this_process_scrape(client):
    """Multiprocess mode: a worker process observes, the web process serves the sum."""
    urgent = {"network": "webhook", "priority": "urgent"}
    with (
        Delta(ATTEMPTS, network="webhook", outcome="sent", status="200") as sent,
        Delta(f"{LATENESS}_count", **urgent) as lateness,
        Delta(f"{LATENESS}_sum", **urgent) as lateness_sum,
        Delta(f"{POST_TO_SENT}_count") as alerts,
        Delta("tandem_token_refresh_failures_total", network="webhook") as refresh,
    ):
        child = subprocess.run(  # noqa: PLW1510
            [sys.executable, "-c", CHILD],
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "LOG_LEVEL": "WARNING"},
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    pid = int(child.stdout.split()[-1])
    assert pid != os.getpid()
    assert (Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]) / f"counter_{pid}.db").exists()
    assert (sent.value, lateness.value, alerts.value, refresh.value) == (1, 1, 1, 1)
    assert lateness_sum.value == pytest.approx(0.7)
    # And the view serves it: the same files, read by the web process.
    body = client.get("/metrics").content.decode()
    assert 'tandem_delivery_attempts_total{network="webhook",outcome="sent",status="200"}' in body


def test_the_session_folder_is_the_multiprocess_folder_and_not_in_the_repository():
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert folder == Path(settings.PROMETHEUS_MULTIPROC_DIR)
    assert not folder.is_relative_to(settings.BASE_DIR)
    assert metrics.DELIVERY_ATTEMPTS.labels(network="x", outcome="sent", status="none")._value._multiprocess


def test_metrics_reset_empties_the_folder_of_value_files_only(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "metrics"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"x")
    (folder / "histogram_2.db").write_bytes(b"x")
    (folder / "README").write_text("kept")
    call_command("metrics_reset")
    assert [p.name for p in folder.iterdir()] == ["README"]
    assert f"Removed 2 metrics files from {folder}" in capsys.readouterr().out


def test_a_process_that_observes_nothing_leaves_no_file(tmp_path):
    """Only what a process counted is written: a manage.py command leaves the folder alone."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); import publisher.metrics, publisher.delivery.publishing",
        ],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "TANDEM_TEST_METRICS_DIR": str(folder)},
        cwd=settings.BASE_DIR,
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert list(folder.iterdir()) == []
