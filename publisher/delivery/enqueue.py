"""Hand delivery ids over to django-q2: the only place (with the broker and the cluster
modules) that talks to django_q. The tasks are named by dotted path; the workers import
publisher.delivery.tasks by that path."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.conf import settings
from django_q.brokers import get_broker
from django_q.tasks import async_task

TASK_PUBLISH = "publisher.delivery.tasks.deliveries_publish"
TASK_RETRACT = "publisher.delivery.tasks.deliveries_retract"
TASK_BOOSTS_REFRESH = "publisher.delivery.tasks.boosts_refresh"
TASK_BOOSTS_REMOTE = "publisher.delivery.tasks.boosts_remote"
TASK_REFRESH = "publisher.delivery.tasks.credentials_refresh"
TASK_INBOX_REPLY = "publisher.delivery.tasks.inbox_reply_send"


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
        async_task(TASK_PUBLISH, chunk, q_options=options)


def enqueue_retract(delivery_ids: Sequence[int]) -> None:
    async_task(TASK_RETRACT, list(delivery_ids), q_options={})


def enqueue_boosts_refresh() -> None:
    async_task(TASK_BOOSTS_REFRESH, q_options={})


def enqueue_boosts_remote(action: str, boost_ids: Sequence[int]) -> None:
    """Promotions' calls to Meta go to the routine cluster: a slow Marketing API holds a
    worker, not the web request of the person who proposed, approved or stopped them."""
    async_task(TASK_BOOSTS_REMOTE, action, list(boost_ids), q_options={})


def enqueue_refresh(channel_ids: Sequence[int]) -> None:
    """Credential refreshes go to the routine cluster: they are due minutes ahead, not seconds."""
    async_task(TASK_REFRESH, list(channel_ids), q_options={})


def enqueue_inbox_replies(reply_ids: Sequence[int]) -> None:
    for reply_id in reply_ids:
        async_task(TASK_INBOX_REPLY, reply_id, q_options={})
