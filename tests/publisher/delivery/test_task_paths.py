"""django-q2 stores a task by its dotted path: tasks queued before publisher/ became packages
(publisher.tasks.*) must still run, and a stopping cluster must still give them back."""

import multiprocessing

import pytest
from django.test import override_settings
from django.utils.module_loading import import_string

from publisher.delivery import enqueue, supervision, tasks
from publisher.models import Delivery, DeliveryState
from tests.fakes.dispatch_adapters import ADAPTERS
from tests.publisher.dispatch_support import due_deliveries

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("old_path", "function"),
    [
        ("publisher.tasks.deliveries_publish", tasks.deliveries_publish),
        ("publisher.tasks.deliveries_retract", tasks.deliveries_retract),
    ],
)
def test_a_task_queued_under_its_old_path_still_imports(old_path, function):
    # django-q2's worker resolves the stored path like this (django_q.worker).
    assert import_string(old_path) is function


def test_new_tasks_are_queued_under_paths_that_resolve():
    assert import_string(enqueue.TASK_PUBLISH) is tasks.deliveries_publish
    assert import_string(enqueue.TASK_RETRACT) is tasks.deliveries_retract


@pytest.mark.parametrize("func", [enqueue.TASK_PUBLISH, "publisher.tasks.deliveries_publish"])
def test_a_stopping_cluster_gives_back_publish_tasks_under_either_path(author, monkeypatch, func):
    with override_settings(TANDEM_CHANNEL_ADAPTERS=ADAPTERS):
        ids = due_deliveries(author=author, count=2)
    Delivery.objects.filter(pk__in=ids).update(state=DeliveryState.QUEUED)
    stopping = multiprocessing.get_context("fork").Event()
    stopping.set()
    monkeypatch.setattr(supervision, "_stopping", stopping)
    supervision.release_unstarted_publish(sender="django_q", func=None, task={"func": func, "args": (ids,)})
    assert set(Delivery.objects.filter(pk__in=ids).values_list("state", flat=True)) == {DeliveryState.PENDING}
