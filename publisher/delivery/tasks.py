"""django-q2 tasks: thin, they take ids and call the services. django-q2 only executes;
delivery.dispatch decides when, delivery.publishing decides retries, delivery.enqueue hands
the ids over. The broker stores each task by its dotted path (TASK_PUBLISH, TASK_RETRACT);
publisher/tasks.py keeps the paths of tasks queued before publisher/ became packages importable."""

from __future__ import annotations

from django.conf import settings

from publisher.delivery import hooks, inbox, publishing, renewal, supervision


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


def boosts_refresh() -> int:
    # The workflow owns promotions; delivery only runs the periodic pull (hooks.py).
    return int(hooks.boosts_refresh.call())


def boosts_remote(action: str, boost_ids: list[int]) -> None:
    # Meta's calls for promotions a person just proposed, approved or stopped (hooks.py).
    hooks.boosts_remote.call(action=action, boost_ids=boost_ids)


def credentials_refresh(channel_ids: list[int]) -> dict[str, list[int]]:
    return renewal.credentials_refresh(channel_ids=channel_ids)


def inbox_reply_send(reply_id: int) -> str:
    return inbox.inbox_reply_send(reply_id=reply_id)
