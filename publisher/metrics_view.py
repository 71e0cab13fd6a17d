"""/metrics: Prometheus text format, for the same clients as readiness details.

Two kinds of series: what the publish path counted as it happened, summed over every process
(publisher/metrics.py), and state read at scrape time: deliveries by state and network (one
grouped query), the django-q2 queue depth of each cluster, the dispatcher heartbeat's age.
A source that does not answer (database, broker) leaves its series out and sets
``tandem_metrics_source_up{source}`` to 0: the scrape itself still succeeds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_q.brokers import get_broker
from django_q.brokers.redis_broker import Redis as RedisBroker
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from publisher import metrics
from publisher.delivery import selectors
from publisher.health import BROKER_TIMEOUT_SECONDS, details_allowed
from publisher.models import DeliveryState

logger = logging.getLogger(__name__)


def _clusters() -> dict[str, str]:
    """Cluster label → the broker queue it takes tasks from (publisher/tasks.py enqueue_publish)."""
    clusters = {"routine": str(settings.Q_CLUSTER["name"])}
    if settings.TANDEM_URGENT_QUEUE:
        clusters["urgent"] = settings.TANDEM_URGENT_QUEUE
    return clusters


def queue_depth(list_key: str) -> int:
    """Tasks waiting in this queue, through django-q2's broker (ORM or Redis). A Redis broker
    gets a client with short timeouts: a scrape must not hang on an unreachable Redis."""
    broker = get_broker(list_key)
    if isinstance(broker, RedisBroker):
        broker.connection = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=BROKER_TIMEOUT_SECONDS, socket_timeout=BROKER_TIMEOUT_SECONDS
        )
        try:
            return int(broker.queue_size())
        finally:
            broker.connection.close()
    return int(broker.queue_size())


class StateCollector(Collector):
    """Series read from the database and the broker at each scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "tandem_metrics_source_up", "1 if this source answered the scrape, 0 if not.", labels=["source"]
        )
        database_up = 1.0
        try:
            yield from self._deliveries()
            yield from self._heartbeat()
        except Exception:  # noqa: BLE001 - report what can be reported
            logger.warning("Metrics: the database did not answer.", exc_info=True)
            database_up = 0.0
        up.add_metric(["database"], database_up)
        depth = GaugeMetricFamily(
            "tandem_queue_depth", "Tasks waiting in the django-q2 broker queue of each cluster.", labels=["cluster"]
        )
        broker_up = 1.0
        for cluster, list_key in _clusters().items():
            try:
                depth.add_metric([cluster], queue_depth(list_key))
            except Exception:  # noqa: BLE001
                logger.warning("Metrics: the broker did not give the %s queue's size.", cluster, exc_info=True)
                broker_up = 0.0
        yield depth
        up.add_metric(["broker"], broker_up)
        yield up

    def _deliveries(self) -> Iterator[GaugeMetricFamily]:
        rows = selectors.deliveries_count_by_state_and_kind()
        counts = {(state, kind): n for state, kind, n in rows}
        family = GaugeMetricFamily(
            "tandem_deliveries_total",
            "Deliveries now in each state, by network (channel kind); read from the database.",
            labels=["state", "network"],
        )
        # Every state of every network seen, zeros included: a state's series does not vanish
        # when its last delivery moves on.
        for kind in sorted({kind for _state, kind in counts}):
            for state in DeliveryState.values:
                family.add_metric([state, kind], counts.get((state, kind), 0))
        yield family

    def _heartbeat(self) -> Iterator[GaugeMetricFamily]:
        seen_at = selectors.dispatcher_heartbeat_latest()
        if seen_at is None:
            return  # no dispatcher ever beat: the series is absent (alert on absent())
        family = GaugeMetricFamily(
            "tandem_dispatcher_heartbeat_age_seconds", "Seconds since the newest dispatcher heartbeat."
        )
        family.add_metric([], max(0.0, (timezone.now() - seen_at).total_seconds()))
        yield family


@require_safe
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not details_allowed(request):
        # No data, no hint: the same answer whatever the reason.
        return HttpResponse(status=403)
    registry = CollectorRegistry(auto_describe=False)
    metrics.collectors_register(registry)
    registry.register(StateCollector())
    # The classic text format, which every Prometheus version reads; Tandem's names need
    # nothing newer.
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
