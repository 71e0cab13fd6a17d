"""Queued tasks from before the upgrade: django-q2 stores a task by its dotted path, and tasks
queued as ``publisher.tasks.deliveries_publish`` / ``deliveries_retract`` before publisher/
became packages must still run after it. New tasks are queued under publisher.delivery.tasks
(see delivery/enqueue.py). Nothing else imports this module; remove it once no queue holds
an old path."""

from publisher.delivery.tasks import deliveries_publish, deliveries_retract

__all__ = ["deliveries_publish", "deliveries_retract"]
