"""django-q2 tasks: thin, they take ids and call the services. django-q2 only executes;
publisher.dispatch decides when, publisher.publishing decides retries."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.conf import settings
from django_q.brokers import get_broker
from django_q.tasks import async_task

from publisher import publishing, supervision


def deliveries_publish(delivery_ids: list[int]) -> dict[str, int]:
    # In a worker, the task also takes queued deliveries while its calls run (see
    # deliveries_publish) until its cluster stops; run inline (django-q2's sync mode), it
    # publishes only its own.
    steal = not settings.Q_CLUSTER.get("sync")
    return publishing.deliveries_publish(
        delivery_ids=delivery_ids, steal=steal, may_steal=lambda: not supervision.cluster_stopping()
    )


def deliveries_retract(delivery_ids: list[int]) -> dict[str, list[int]]:
    return publishing.deliveries_retract(delivery_ids=delivery_ids)


def _chunks(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def enqueue_publish(delivery_ids: Sequence[int], *, urgent: bool) -> None:
    """Hand claimed ids to the workers in batches: one task per batch, calls run concurrently
    inside it, so the per-task overhead of the queue is paid once per batch, not per post."""
    queue = settings.TANDEM_URGENT_QUEUE if urgent and settings.TANDEM_URGENT_QUEUE else None
    # One broker connection for the whole hand-over instead of one per task.
    options: dict[str, object] = {"broker": get_broker(queue)}
    if queue:
        options["cluster"] = queue
    # Spread a burst over the workers in a few large tasks: the work per delivery is small
    # and a task's fixed costs (queue hop, lock, thread pool, result) are paid per task.
    size = min(settings.TANDEM_TASK_BATCH, max(25, math.ceil(len(delivery_ids) / settings.TANDEM_TASK_FANOUT)))
    for chunk in _chunks(delivery_ids, size):
        async_task("publisher.tasks.deliveries_publish", chunk, q_options=options)


def enqueue_retract(delivery_ids: Sequence[int]) -> None:
    async_task("publisher.tasks.deliveries_retract", list(delivery_ids), q_options={})
