"""Event-time metrics and the delivery log line: what the publish path records as it happens.

Deliveries are sent by django-q2 worker processes (forked by each cluster), the dispatcher is
another process, and /metrics is answered by any of the web processes. A counter kept in one
process's memory would be seen only by the scrapes that process answers, and lost when a
worker is recycled. So these counters and histograms use prometheus-client's multiprocess
mode: every process writes its values to its own memory-mapped file in
PROMETHEUS_MULTIPROC_DIR (set for every process by config/settings.py) and a scrape sums the
files (publisher/metrics_view.py). Deriving them from the database instead would scan the
ever-growing delivery and attempt tables at every scrape and lose what pruning removed; what
IS state (deliveries by state, queue depth, heartbeat age) is read at scrape time instead.
The folder is emptied once per service start (``manage.py metrics_reset``, before any process
starts): never while processes run, or their files would vanish under them.

This module is a bottom layer: it imports Django, prometheus-client and the models only, and
the publish path calls its functions (no decision here, only recording).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

from publisher.models import Delivery, DeliveryState

logger = logging.getLogger("publisher.deliveries")

# The registry the metrics below belong to. Scrapes never read it in multiprocess mode (the
# files are the truth, this process's values included); it serves only a process started
# without PROMETHEUS_MULTIPROC_DIR (a script importing the code without the settings).
REGISTRY = CollectorRegistry(auto_describe=True)

# Seconds late: punctual posts land in the first buckets, an outage's catch-up in the last.
LATENESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
# An alert should be out within seconds of its POST.
POST_TO_SENT_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

DELIVERY_LATENESS = Histogram(
    "tandem_delivery_lateness_seconds",
    "Actual send time minus due time of each delivery sent.",
    ["network", "priority"],
    buckets=LATENESS_BUCKETS,
    registry=REGISTRY,
)


@functools.cache
def alert_post_to_sent() -> Histogram:
    """Made at its first observation: a metric without labels writes its file as soon as it
    exists, and every process importing this module (each manage.py command) would leave one
    for the scrapes to read until the next service start."""
    return Histogram(
        "tandem_alert_post_to_sent_seconds",
        "From an urgent alert's acceptance (its POST) to each of its deliveries sent.",
        buckets=POST_TO_SENT_BUCKETS,
        registry=REGISTRY,
    )


DELIVERY_ATTEMPTS = Counter(
    "tandem_delivery_attempts",
    "Network calls made for deliveries, by outcome (sent, transient = retried, permanent, auth, "
    "gone, unknown, lost; '-stale' when a newer attempt had taken the delivery) and HTTP status.",
    ["network", "outcome", "status"],
    registry=REGISTRY,
)
TOKEN_REFRESH_FAILURES = Counter(
    "tandem_token_refresh_failures",
    "Refreshes of a network session token that failed (the adapter then logs in again or gives up).",
    ["network"],
    registry=REGISTRY,
)

NO_STATUS = "none"


class Settled(Protocol):
    """What the publish path knows about one finished network call (publishing._Call)."""

    delivery: Delivery
    outcome: str
    http_status: int | None
    started_at: datetime | None
    finished_at: datetime | None


def _network(delivery: Delivery) -> str:
    # The channel kind, not the host: a bounded label set, the same one the delivery counts
    # read from the database use.
    return delivery.channel.kind


def deliveries_recorded(calls: Iterable[Settled], *, recorded: Iterable[Delivery]) -> None:
    """After the publish path wrote these calls' outcomes: count each attempt, observe the
    lateness and the alert latency of each post sent, and log one line per delivery.

    ``recorded``: the deliveries whose outcome was written (the others lost their attempt
    to a newer one). Reads only what the publish path already loaded: no query."""
    written = {d.pk for d in recorded}
    for call in calls:
        delivery = call.delivery
        network = _network(delivery)
        fenced = delivery.pk in written
        outcome = call.outcome if fenced else f"{call.outcome}-stale"
        status = str(call.http_status) if call.http_status else NO_STATUS
        DELIVERY_ATTEMPTS.labels(network=network, outcome=outcome, status=status).inc()
        sent = fenced and call.outcome == "sent" and delivery.state == DeliveryState.SENT
        if sent and delivery.lateness_ms is not None:
            priority = "urgent" if delivery.urgent else "routine"
            DELIVERY_LATENESS.labels(network=network, priority=priority).observe(delivery.lateness_ms / 1000)
        message = delivery.occurrence.message
        if sent and message.approved_by_policy and delivery.sent_at is not None:
            alert_post_to_sent().observe(max(0.0, (delivery.sent_at - message.created_at).total_seconds()))
        duration_ms = None
        if call.started_at and call.finished_at:
            duration_ms = int((call.finished_at - call.started_at).total_seconds() * 1000)
        logger.info(
            "Delivery %s of message %s on channel %s (%s): %s, %s",
            delivery.pk,
            message.pk,
            delivery.channel_id,
            network,
            outcome,
            delivery.state if fenced else "unchanged",
            extra={
                "delivery_id": delivery.pk,
                "message_id": message.pk,
                "channel": delivery.channel_id,
                "network": network,
                "outcome": outcome,
                "state": delivery.state if fenced else None,
                "http_status": call.http_status,
                "duration_ms": duration_ms,
                "lateness_ms": delivery.lateness_ms if sent else None,
            },
        )


def attempts_lost(*, networks: Iterable[str]) -> None:
    """Attempts whose worker vanished during the call (the dispatcher took them back)."""
    for network in networks:
        DELIVERY_ATTEMPTS.labels(network=network, outcome="lost", status=NO_STATUS).inc()


def token_refresh_failed(*, network: str) -> None:
    TOKEN_REFRESH_FAILURES.labels(network=network).inc()


# --- the folder of the multiprocess files ----------------------------------------------


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def collectors_register(registry: CollectorRegistry) -> None:
    """Add the event-time metrics of every process (multiprocess mode), else of this one, to a
    scrape's registry."""
    path = multiprocess_dir()
    if path:
        MultiProcessCollector(registry, path=path)
    else:
        for collector in (DELIVERY_LATENESS, alert_post_to_sent(), DELIVERY_ATTEMPTS, TOKEN_REFRESH_FAILURES):
            registry.register(collector)


def multiprocess_dir_reset() -> int:
    """Delete the value files of earlier runs; only before the service's processes start.
    Returns how many files were removed."""
    path = multiprocess_dir()
    if not path:
        return 0
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    removed = 0
    for file in folder.glob("*.db"):
        file.unlink(missing_ok=True)
        removed += 1
    return removed
