"""Clean stopping of a cluster and a broker that rides out a Redis outage (in-process parts;
the processes themselves are in test_resilience_processes.py)."""

import multiprocessing

import pytest
import redis
from django.test import override_settings

from publisher.delivery import publishing, supervision
from publisher.delivery.brokers import ResilientRedis
from publisher.models import Delivery, DeliveryState
from tests.fakes.dispatch_adapters import ADAPTERS, FakeAdapter
from tests.fakes.outages import free_port
from tests.publisher.dispatch_support import due_deliveries

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(author):
    FakeAdapter.reset()
    with override_settings(TANDEM_CHANNEL_ADAPTERS=ADAPTERS):
        ids = due_deliveries(author=author, count=3)
        Delivery.objects.filter(pk__in=ids[:2]).update(state=DeliveryState.QUEUED)
        Delivery.objects.filter(pk=ids[1]).update(attempts=1)
        yield ids


def _task(ids):
    return {"func": supervision.PUBLISH_TASK, "args": (ids,), "kwargs": {}}


def test_a_stopping_cluster_gives_unstarted_publish_tasks_back_and_they_send_nothing(queued, monkeypatch):
    stopping = multiprocessing.get_context("fork").Event()
    monkeypatch.setattr(supervision, "_stopping", stopping)
    supervision.release_unstarted_publish(sender="django_q", func=None, task=_task(queued))
    assert Delivery.objects.get(pk=queued[0]).state == DeliveryState.QUEUED  # not stopping yet
    stopping.set()
    supervision.release_unstarted_publish(sender="django_q", func=None, task=_task(queued))
    states = dict(Delivery.objects.filter(pk__in=queued).values_list("pk", "state"))
    assert states == {
        queued[0]: DeliveryState.PENDING,
        queued[1]: DeliveryState.RETRY_WAIT,  # it had an attempt before
        queued[2]: DeliveryState.PENDING,  # never queued: untouched
    }
    assert all(d.lease_expires_at is None for d in Delivery.objects.filter(pk__in=queued))
    # The task itself then runs and finds nothing queued.
    assert publishing.deliveries_publish(delivery_ids=queued) == {}
    assert not FakeAdapter.calls


def test_other_tasks_are_left_alone_while_stopping(queued, monkeypatch):
    stopping = multiprocessing.get_context("fork").Event()
    stopping.set()
    monkeypatch.setattr(supervision, "_stopping", stopping)
    task = {"func": "publisher.tasks.deliveries_retract", "args": (queued,), "kwargs": {}}
    supervision.release_unstarted_publish(sender="django_q", func=None, task=task)
    assert Delivery.objects.get(pk=queued[0]).state == DeliveryState.QUEUED


def test_the_pusher_broker_waits_out_a_redis_outage_instead_of_raising(monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{free_port()}/0")  # nobody listens there
    monkeypatch.setattr("publisher.delivery.brokers.RETRY_SECONDS", 0.01)
    broker = ResilientRedis(list_key="outage-test")
    assert broker.dequeue() is None
    assert broker.outage
    with pytest.raises(redis.ConnectionError):
        broker.enqueue("task")  # the dispatcher must know a hand-over failed
