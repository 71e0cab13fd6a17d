"""Real processes through outages (PostgreSQL + Redis): Redis killed and started again while a
dispatcher hands over, an alert posted while Redis is down, PostgreSQL dropping every
connection, and stopping a cluster (SIGTERM, kill -9 of its parent or sentinel).

Each test starts its own redis-server on a free port (the shared one is never touched) and,
for PostgreSQL, a proxy that drops the connections going through it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tokens import api_token_create
from publisher.models import Delivery, DeliveryState
from tests.factories import ChannelFactory, UserFactory
from tests.fakes.dispatch_adapters import ADAPTERS, calls_in, posts_in
from tests.fakes.outages import DroppingProxy, ThrowawayRedis
from tests.processes import family
from tests.publisher.delivery.test_dispatch_processes import Processes, database_url, wait_until
from tests.publisher.dispatch_support import due_deliveries

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# Tasks that were in the killed Redis are gone with it (no persistence): their deliveries
# come back when their queue lease ends. A short lease keeps these tests short.
FAST = {"TANDEM_QUEUE_LEASE_SECONDS": "5", "TANDEM_SEND_LEASE_SECONDS": "10"}


@pytest.fixture
def live(transactional_db, tmp_path_factory):
    if connection.vendor != "postgresql":
        pytest.skip("Several processes on one database need PostgreSQL.")
    procs = Processes(tmp_path_factory.mktemp("logs"))
    yield procs
    procs.stop_all()


@pytest.fixture
def own_redis():
    server = ThrowawayRedis()
    server.start()
    yield server
    server.stop()


def started(live, proc: subprocess.Popen[bytes], marker: bytes, timeout: float = 30) -> bool:
    log = live.logs / f"{live.running.index(proc)}-{proc.args[2]}.log"
    return wait_until(lambda: marker in log.read_bytes(), timeout=timeout)


def log_of(live, proc: subprocess.Popen[bytes]) -> str:
    return (live.logs / f"{live.running.index(proc)}-{proc.args[2]}.log").read_text(errors="replace")


def assert_each_posted_once(folder, ids) -> None:
    posted = Counter(int(p) for p in posts_in(folder))
    assert set(posted) == set(ids), f"missing: {sorted(set(ids) - set(posted))[:10]}"
    assert set(posted.values()) == {1}, "a delivery was posted twice"


def test_redis_killed_and_restarted_while_the_dispatcher_hands_over(live, author, tmp_path, own_redis):
    env = {"REDIS_URL": own_redis.url, "TANDEM_DISPATCH_BATCH": "20", "TANDEM_TASK_BATCH": "10", **FAST}
    first = due_deliveries(
        author=author, count=100, due_at=timezone.now() + timedelta(seconds=4), config={"dir": str(tmp_path)}
    )
    dispatcher = live.start("run_dispatcher", **env)
    cluster = live.start("run_cluster", TANDEM_WORKERS="2", **env)
    assert started(live, dispatcher, b"Dispatcher started.")
    assert started(live, cluster, b"Cluster running")
    assert wait_until(lambda: len(posts_in(tmp_path)) > 0, timeout=30)
    own_redis.kill()  # while the first wave is being handed over and published
    # A second wave falls due during the outage: every one of its hand-overs fails.
    second = due_deliveries(
        author=author, count=100, due_at=timezone.now() + timedelta(seconds=1), config={"dir": str(tmp_path)}
    )
    assert wait_until(lambda: "Hand-over of" in log_of(live, dispatcher), timeout=15)
    time.sleep(2)
    assert dispatcher.poll() is None, "the dispatcher died during the Redis outage"
    own_redis.start()
    ids = first + second
    assert wait_until(
        lambda: Delivery.objects.filter(pk__in=ids, state=DeliveryState.SENT).count() == len(ids), timeout=60
    ), Counter(Delivery.objects.filter(pk__in=ids).values_list("state", flat=True))
    assert dispatcher.poll() is None
    assert cluster.poll() is None
    assert_each_posted_once(tmp_path, ids)


@pytest.mark.django_db(transaction=True)
def test_an_alert_posted_while_redis_is_down_is_accepted_and_delivered_when_it_returns(
    live, roles, tmp_path, own_redis, monkeypatch
):
    from django_q.conf import Conf

    env = {"REDIS_URL": own_redis.url, **FAST}
    channels = [
        ChannelFactory(name=f"Alert {lang}", kind="fake", language=lang, covers_all=True, config={"dir": str(tmp_path)})
        for lang in ("fr", "nl")
    ]
    _token, plaintext = api_token_create(
        user=UserFactory(username="dispatch", roles=["api_client"]), name="t", scopes=["alert", "read"]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    dispatcher = live.start("run_dispatcher", **env)
    urgent = live.start("run_cluster", Q_CLUSTER_NAME="urgent", **env)
    assert started(live, dispatcher, b"Dispatcher started.")
    assert started(live, urgent, b"Cluster running")
    # This process (the web side) uses the throwaway Redis too, as cache and broker.
    monkeypatch.setattr(Conf, "REDIS", own_redis.url)
    monkeypatch.setattr(Conf, "SYNC", False)  # the test settings run tasks in-process
    cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": own_redis.url,
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        }
    }
    own_redis.kill()
    body = {
        "audience": {"municipalities": ["21004"]},
        "variants": {"fr": {"text": "Incendie rue Neuve."}, "nl": {"text": "Brand Nieuwstraat."}},
        "category": "Fire",
        "severity": "Severe",
        "urgency": "Immediate",
        "certainty": "Observed",
        "event": "Incendie / Brand",
        "status": "actual",
    }
    with override_settings(CACHES=cache, TANDEM_CHANNEL_ADAPTERS=ADAPTERS):
        response = client.post("/api/v1/alerts/", body, format="json")
    assert response.status_code == 201, response.content
    ids = list(Delivery.objects.filter(occurrence__message_id=response.json()["id"]).values_list("pk", flat=True))
    assert len(ids) == len(channels)
    time.sleep(2)
    assert not posts_in(tmp_path)
    assert dispatcher.poll() is None
    own_redis.start()
    assert wait_until(lambda: len(posts_in(tmp_path)) == len(ids), timeout=30)
    assert wait_until(
        lambda: Delivery.objects.filter(pk__in=ids, state=DeliveryState.SENT).count() == len(ids), timeout=10
    )
    assert_each_posted_once(tmp_path, ids)


def test_dispatcher_and_cluster_recover_by_themselves_when_postgresql_drops_every_connection(
    live, author, tmp_path, own_redis
):
    db = connection.settings_dict
    proxy = DroppingProxy(db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432))
    try:
        url = database_url({**db, "HOST": "127.0.0.1", "PORT": proxy.port})
        env = {"REDIS_URL": own_redis.url, "DATABASE_URL": url, **FAST}
        first = due_deliveries(author=author, count=20, config={"dir": str(tmp_path)})
        dispatcher = live.start("run_dispatcher", **env)
        cluster = live.start("run_cluster", TANDEM_WORKERS="2", **env)
        assert wait_until(lambda: len(posts_in(tmp_path)) == 20, timeout=40)
        assert proxy.drop(down_for=3.0) > 0  # PostgreSQL "restarts": every connection is cut
        second = due_deliveries(
            author=author, count=20, due_at=timezone.now() + timedelta(seconds=1), config={"dir": str(tmp_path)}
        )
        time.sleep(4)
        proxy.drop()  # once more, after the processes reconnected
        third = due_deliveries(author=author, count=20, config={"dir": str(tmp_path)})
        ids = first + second + third
        assert wait_until(
            lambda: Delivery.objects.filter(pk__in=ids, state=DeliveryState.SENT).count() == len(ids), timeout=60
        ), Counter(Delivery.objects.filter(pk__in=ids).values_list("state", flat=True))
        assert dispatcher.poll() is None
        assert cluster.poll() is None
        assert_each_posted_once(tmp_path, ids)
        assert {key for _id, key, _at in calls_in(tmp_path)} == {f"tandem-delivery-{pk}" for pk in ids}
    finally:
        proxy.close()


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] != "Z":
                    alive.add(pid)
        except OSError:
            continue
    return alive


@pytest.mark.parametrize("victim", ["parent", "sentinel"])
def test_no_cluster_process_outlives_a_killed_parent_or_sentinel(live, own_redis, victim):
    cluster = live.start("run_cluster", TANDEM_WORKERS="2", REDIS_URL=own_redis.url)
    assert started(live, cluster, b"Cluster running")
    everyone = family(cluster.pid)
    assert len(everyone) == 6  # run_cluster, sentinel, 2 workers, pusher, monitor
    [sentinel] = [p for p in everyone if p != cluster.pid and os.getpgid(p) == p]
    below = everyone - {cluster.pid}
    os.kill(cluster.pid if victim == "parent" else sentinel, signal.SIGKILL)
    assert wait_until(lambda: not _alive(below), timeout=5), f"left behind: {_alive(below)}"
    if victim == "sentinel":
        # run_cluster starts a new cluster in its place.
        assert started(live, cluster, b"starting the cluster again", timeout=10)
        assert wait_until(lambda: len(_alive(family(cluster.pid))) == 6, timeout=20)


def test_sigterm_stops_the_cluster_within_its_grace_and_releases_unstarted_work(live, author, tmp_path, own_redis):
    # One worker busy with a slow call; more tasks wait behind it in the cluster's queue.
    ids = due_deliveries(author=author, count=6, config={"dir": str(tmp_path), "latency": 2.0})
    env = {"REDIS_URL": own_redis.url, "TANDEM_TASK_BATCH": "1", "TANDEM_TASK_FANOUT": "6"}
    dispatcher = live.start("run_dispatcher", **env)
    cluster = live.start("run_cluster", TANDEM_WORKERS="1", TANDEM_CLUSTER_STOP_SECONDS="4", **env)
    assert wait_until(lambda: len(calls_in(tmp_path)) >= 1, timeout=30)
    live.kill(dispatcher)  # so that released rows stay as the cluster left them
    began = time.monotonic()
    os.killpg(cluster.pid, signal.SIGTERM)  # what honcho and systemd send: the whole group
    cluster.wait(timeout=10)
    took = time.monotonic() - began
    assert took < 4 + 2, f"took {took:.1f} s"
    log = log_of(live, cluster)
    assert "Stopped in" in log
    states = Counter(Delivery.objects.filter(pk__in=ids).values_list("state", flat=True))
    # The calls in progress finished (the busy task may also have taken queued rows while its
    # slow call ran, until the stop began); a task taken but not started gave its rows back;
    # the others are still in the broker for the next cluster. Nothing is left mid-send.
    # (Which of the last two happens depends on timing; tests/publisher/delivery/test_supervision.py
    # covers the release itself.)
    assert states[DeliveryState.SENT] >= 1
    assert not states[DeliveryState.SENDING]
    assert states[DeliveryState.SENT] + states[DeliveryState.PENDING] + states[DeliveryState.QUEUED] == 6, states
    if states[DeliveryState.PENDING]:
        assert "released 1 of 1 deliveries" in log
    assert len(posts_in(tmp_path)) == states[DeliveryState.SENT]
