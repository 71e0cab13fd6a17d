import pytest
from django.conf import settings
from django_q.brokers import get_broker
from django_q.signing import SignedPackage


@pytest.mark.django_db
def test_broker_follows_redis_url():
    """REDIS_URL switches django-q2 to the Redis broker; without it the ORM broker is used."""
    from django_q.brokers.orm import ORM
    from django_q.brokers.redis_broker import Redis

    broker = get_broker()
    # On Redis, publisher.delivery.brokers.ResilientRedis: django-q2's Redis broker riding out outages.
    assert isinstance(broker, Redis if settings.REDIS_URL else ORM)


@pytest.mark.django_db(transaction=True)
def test_broker_round_trip():
    broker = get_broker(list_key="tandem-test-roundtrip")
    broker.purge_queue()
    broker.enqueue(SignedPackage.dumps({"id": "t1", "func": "math.floor", "args": (1.5,)}))
    (ack_id, payload) = broker.dequeue()[0]
    assert SignedPackage.loads(payload)["func"] == "math.floor"
    broker.acknowledge(ack_id)
    broker.purge_queue()
