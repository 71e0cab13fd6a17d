"""/metrics: who may read it, and the series read at scrape time (publisher/metrics_view.py)."""

from datetime import UTC, datetime, timedelta

import pytest
import redis
import time_machine
from django.conf import settings
from django.db import DatabaseError
from django.test import override_settings
from django_q.brokers import get_broker
from django_q.brokers.redis_broker import Redis as RedisBroker
from prometheus_client.parser import text_string_to_metric_families

from accounts.tokens import api_token_create
from publisher import metrics, metrics_view
from publisher.delivery import heartbeat, selectors
from publisher.models import Delivery, DeliveryState
from tests.factories import UserFactory
from tests.fakes.outages import free_port
from tests.publisher.dispatch_support import due_deliveries

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
OUTSIDE = "203.0.113.5"


def samples(response) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def sample(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def plaintext(roles):
    _token, text = api_token_create(user=UserFactory(roles=["author"]), name="scraper", scopes=["read"])
    return text


# --- who may read it -------------------------------------------------------------------------


def test_outside_the_allowed_networks_without_a_token_gets_403_and_no_data(client):
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 403
    assert response.content == b""


def test_a_wrong_token_gets_nothing_either(client, plaintext):
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 403
    assert response.content == b""


def test_a_valid_api_token_reads_it_from_anywhere(client, plaintext):
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert sample(samples(response), "tandem_metrics_source_up", source="database") == 1


def test_an_allowed_network_reads_it_without_a_token(client):
    with override_settings(TANDEM_READY_ALLOWED_NETWORKS=["203.0.113.0/24"]):
        assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 200
        assert client.get("/metrics", REMOTE_ADDR="198.51.100.7").status_code == 403


def test_it_only_answers_reads(client):
    assert client.post("/metrics").status_code == 405


# --- series read at scrape time --------------------------------------------------------------


def test_deliveries_by_state_and_network_with_zeros_for_the_other_states(client, author):
    webhook = due_deliveries(author=author, count=3, kind="webhook")
    mastodon = due_deliveries(author=author, count=1, kind="mastodon")
    Delivery.objects.filter(pk__in=webhook[:2]).update(state=DeliveryState.SENT)
    Delivery.objects.filter(pk=webhook[2]).update(state=DeliveryState.FAILED)
    found = samples(client.get("/metrics"))
    assert sample(found, "tandem_deliveries_total", state="sent", network="webhook") == 2
    assert sample(found, "tandem_deliveries_total", state="failed", network="webhook") == 1
    assert sample(found, "tandem_deliveries_total", state="pending", network="webhook") == 0
    assert sample(found, "tandem_deliveries_total", state="pending", network="mastodon") == len(mastodon)
    assert sample(found, "tandem_deliveries_total", state="sent", network="mastodon") == 0
    assert sample(found, "tandem_deliveries_total", state="sent", network="bluesky") is None


def test_a_scrape_costs_the_same_queries_for_1_or_40_deliveries(client, author, django_assert_num_queries):
    # One grouped query for the deliveries, one for the heartbeat, and on the ORM broker one
    # count per cluster queue; Redis answers the queue depths itself.
    expected = 2 + (0 if settings.REDIS_URL else len(metrics_view._clusters()))
    due_deliveries(author=author, count=1, kind="webhook")
    with django_assert_num_queries(expected):
        client.get("/metrics")
    due_deliveries(author=author, count=40, kind="x")
    with django_assert_num_queries(expected):
        found = samples(client.get("/metrics"))
    assert sample(found, "tandem_deliveries_total", state="pending", network="x") == 40


def test_dispatcher_heartbeat_age(client):
    heartbeat.dispatcher_heartbeat_record(host="worker-1", pid=4242, now=NOW - timedelta(seconds=12))
    with time_machine.travel(NOW, tick=False):
        found = samples(client.get("/metrics"))
    assert sample(found, "tandem_dispatcher_heartbeat_age_seconds") == 12


def test_no_heartbeat_leaves_the_age_out(client):
    found = samples(client.get("/metrics"))
    assert sample(found, "tandem_dispatcher_heartbeat_age_seconds") is None
    assert sample(found, "tandem_metrics_source_up", source="database") == 1


@pytest.fixture
def queues():
    """The real broker's cluster queues, emptied before and after (Redis outlives the test)."""
    brokers = {cluster: get_broker(key) for cluster, key in metrics_view._clusters().items()}
    for broker in brokers.values():
        broker.purge_queue()
    yield brokers
    for broker in brokers.values():
        broker.purge_queue()


def test_queue_depth_per_cluster_from_the_configured_broker(client, queues):
    for _ in range(3):
        queues["urgent"].enqueue("task")
    queues["routine"].enqueue("task")
    found = samples(client.get("/metrics"))
    assert sample(found, "tandem_queue_depth", cluster="urgent") == 3
    assert sample(found, "tandem_queue_depth", cluster="routine") == 1
    assert sample(found, "tandem_metrics_source_up", source="broker") == 1


class _UnreachableRedisBroker(RedisBroker):
    """django-q2's Redis broker, built without connecting (as get_broker does lazily)."""

    def __init__(self, list_key: str) -> None:
        self.list_key = f"django_q:{list_key}:q"
        self.connection = None


def test_an_unreachable_redis_leaves_the_queue_depth_out_and_the_rest_in(client, author, monkeypatch, caplog):
    due_deliveries(author=author, count=2, kind="webhook")
    monkeypatch.setattr(metrics_view, "get_broker", _UnreachableRedisBroker)
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        found = samples(client.get("/metrics"))
    refusals = [r for r in caplog.records if r.name == "publisher.metrics_view"]
    assert refusals
    assert all(isinstance(r.exc_info[1], redis.ConnectionError) for r in refusals)
    assert sample(found, "tandem_queue_depth", cluster="urgent") is None
    assert sample(found, "tandem_metrics_source_up", source="broker") == 0
    assert sample(found, "tandem_metrics_source_up", source="database") == 1
    assert sample(found, "tandem_deliveries_total", state="pending", network="webhook") == 2


def test_an_unreachable_database_leaves_its_series_out_and_the_scrape_answers(client, monkeypatch):
    def refuse():
        raise DatabaseError("connection refused")

    monkeypatch.setattr(selectors, "deliveries_count_by_state_and_kind", refuse)
    metrics.token_refresh_failed(network="bluesky")
    found = samples(client.get("/metrics"))
    assert sample(found, "tandem_metrics_source_up", source="database") == 0
    assert not [key for key in found if key[0] == "tandem_deliveries_total"]
    assert sample(found, "tandem_metrics_source_up", source="broker") == 1
    # The event-time series come from the files, not the database.
    assert sample(found, "tandem_token_refresh_failures_total", network="bluesky") >= 1
