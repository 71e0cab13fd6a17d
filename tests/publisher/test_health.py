import socket
from datetime import UTC, datetime, timedelta

import pytest
import redis
import time_machine
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings

from accounts.tokens import api_token_create
from publisher import health
from publisher.delivery import heartbeat
from publisher.models import Channel
from tests.factories import ChannelFactory, UserFactory

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
OUTSIDE = "203.0.113.5"


@pytest.fixture(autouse=True)
def _migrations_not_memoised(monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)


@pytest.fixture
def beat():
    def make(at: datetime) -> None:
        heartbeat.dispatcher_heartbeat_record(host="worker-1", pid=4242, now=at)

    return make


@pytest.fixture
def plaintext(roles):
    _token, text = api_token_create(user=UserFactory(roles=["author"]), name="probe", scopes=["read"])
    return text


def _ready(client, **extra):
    return client.get("/readyz", **extra)


@pytest.mark.django_db
def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True)
def test_probes_over_plain_http_are_answered_while_pages_are_redirected_to_https(client, beat):
    assert client.get("/healthz").status_code == 200
    # Answered (ready or not, depending on this test database), not redirected.
    assert client.get("/readyz")["Content-Type"] == "application/json"
    assert client.get("/admin/login/").status_code == 301


@pytest.mark.django_db
def test_healthz_is_not_redirected_for_a_user_who_owes_a_second_factor(client, roles):
    user = UserFactory(roles=["author"])
    client.force_login(user)
    with override_settings(TANDEM_REQUIRE_2FA=True):
        response = client.get("/healthz")
    assert response.status_code == 200


@pytest.mark.django_db
def test_ready_with_a_fresh_heartbeat(client, beat):
    with time_machine.travel(NOW, tick=False):
        beat(NOW - timedelta(seconds=10))
        response = _ready(client)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "migrations": "ok", "broker": "ok", "dispatcher": "ok"}
    assert body["dispatcher_heartbeat_age_seconds"] == 10.0
    assert body["warnings"] == []


@pytest.mark.django_db
def test_not_ready_when_the_heartbeat_is_stale(client, beat):
    with time_machine.travel(NOW, tick=False):
        beat(NOW - timedelta(seconds=31))
        response = _ready(client)
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert response.json()["checks"]["dispatcher"] == "heartbeat stale"


@pytest.mark.django_db
@override_settings(TANDEM_READY_DISPATCHER_SECONDS=120)
def test_the_heartbeat_age_limit_is_a_setting(client, beat):
    with time_machine.travel(NOW, tick=False):
        beat(NOW - timedelta(seconds=100))
        assert _ready(client).status_code == 200


@pytest.mark.django_db
def test_not_ready_without_any_heartbeat(client):
    response = _ready(client)
    assert response.status_code == 503
    assert response.json()["checks"]["dispatcher"] == "no heartbeat"


@pytest.mark.django_db
def test_not_ready_when_the_redis_broker_does_not_answer(client, beat, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(redis.Redis, "ping", refuse)
    with time_machine.travel(NOW, tick=False), override_settings(REDIS_URL="redis://127.0.0.1:6379/10"):
        beat(NOW)
        response = _ready(client)
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unreachable"
    assert "Connection refused" not in response.content.decode()


@pytest.mark.django_db
def test_not_ready_with_unapplied_migrations(client, beat, monkeypatch):
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("publisher", "9999_x")])
    with time_machine.travel(NOW, tick=False):
        beat(NOW)
        response = _ready(client)
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "unapplied migrations"


@pytest.mark.django_db
def test_applied_migrations_are_checked_once_per_process(client, beat, monkeypatch):
    calls = []
    real = MigrationExecutor.migration_plan

    def counting(self, targets, **kwargs):
        calls.append(targets)
        return real(self, targets, **kwargs)

    monkeypatch.setattr(MigrationExecutor, "migration_plan", counting)
    with time_machine.travel(NOW, tick=False):
        beat(NOW)
        assert _ready(client).status_code == 200
        assert _ready(client).status_code == 200
    assert len(calls) == 1


@pytest.mark.django_db
def test_a_channel_waiting_too_long_for_reconnection_is_a_warning_not_a_failure(client, beat):
    with time_machine.travel(NOW - timedelta(hours=25), tick=False):
        stuck = ChannelFactory(name="Police Bruxelles FB")
        Channel.objects.filter(pk=stuck.pk).update(needs_reconnect=True, updated_at=NOW - timedelta(hours=25))
    recent = ChannelFactory(name="Recent")
    Channel.objects.filter(pk=recent.pk).update(needs_reconnect=True, updated_at=NOW - timedelta(hours=1))
    with time_machine.travel(NOW, tick=False):
        beat(NOW)
        response = _ready(client)
    assert response.status_code == 200
    warnings = response.json()["warnings"]
    assert [(w["check"], w["channel"], w["name"]) for w in warnings] == [
        ("channel_needs_reconnect", stuck.pk, "Police Bruxelles FB")
    ]


@pytest.mark.django_db
def test_details_are_hidden_from_an_outside_address_without_a_token(client, beat):
    with time_machine.travel(NOW, tick=False):
        beat(NOW - timedelta(hours=1))
        response = _ready(client, REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready"}


@pytest.mark.django_db
def test_details_are_hidden_from_an_outside_address_with_a_wrong_token(client, beat, plaintext):
    with time_machine.travel(NOW, tick=False):
        beat(NOW)
        response = _ready(client, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {plaintext}x")
    assert response.json() == {"status": "ready"}


@pytest.mark.django_db
def test_details_are_shown_to_an_outside_address_with_a_valid_token(client, beat, plaintext):
    with time_machine.travel(NOW, tick=False):
        beat(NOW - timedelta(hours=1))
        response = _ready(client, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert response.status_code == 503
    assert response.json()["checks"]["dispatcher"] == "heartbeat stale"


@pytest.mark.django_db
@override_settings(TANDEM_READY_ALLOWED_NETWORKS=["203.0.113.0/24"])
def test_details_are_shown_to_an_allowed_network(client, beat):
    with time_machine.travel(NOW, tick=False):
        beat(NOW)
        assert "checks" in _ready(client, REMOTE_ADDR=OUTSIDE).json()
        assert "checks" not in _ready(client, REMOTE_ADDR="127.0.0.1").json()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db
def test_no_secret_appears_in_the_answer(client, beat, monkeypatch):
    redis_url = f"redis://:redis-pw-s3cret@127.0.0.1:{_free_port()}/10"
    secret_key = "django-secret-key-that-must-not-leak"
    database_url = "postgres://tandem:db-pw-s3cret@127.0.0.1:5432/tandem"
    monkeypatch.setenv("DATABASE_URL", database_url)
    with (
        time_machine.travel(NOW, tick=False),
        override_settings(REDIS_URL=redis_url, SECRET_KEY=secret_key),
    ):
        beat(NOW)
        response = _ready(client)
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unreachable"
    text = response.content.decode()
    for secret in (redis_url, secret_key, database_url, "redis-pw-s3cret", "db-pw-s3cret"):
        assert secret not in text


@pytest.mark.django_db
def test_heartbeats_of_dispatchers_silent_for_a_day_are_pruned():
    from publisher.models import DispatcherHeartbeat

    heartbeat.dispatcher_heartbeat_record(host="old", pid=1, now=NOW - timedelta(days=1, seconds=1))
    heartbeat.dispatcher_heartbeat_record(host="new", pid=2, now=NOW - timedelta(seconds=5))
    heartbeat.dispatcher_heartbeat_record(host="new", pid=2, now=NOW)
    assert list(DispatcherHeartbeat.objects.values_list("host", "pid", "seen_at")) == [("new", 2, NOW)]


@pytest.mark.django_db
def test_a_reconnection_warning_counts_from_when_the_flag_was_raised_not_the_last_edit(client, beat):
    # Flagged 25 h ago, renamed an hour ago: still overdue. Flagged an hour ago on a channel
    # untouched for days: not yet.
    edited = ChannelFactory(name="Flagged long ago, edited since")
    Channel.objects.filter(pk=edited.pk).update(
        needs_reconnect=True, needs_reconnect_since=NOW - timedelta(hours=25), updated_at=NOW - timedelta(hours=1)
    )
    fresh = ChannelFactory(name="Flagged just now")
    Channel.objects.filter(pk=fresh.pk).update(
        needs_reconnect=True, needs_reconnect_since=NOW - timedelta(hours=1), updated_at=NOW - timedelta(days=9)
    )
    with time_machine.travel(NOW, tick=False):
        beat(NOW)
        warnings = _ready(client).json()["warnings"]
    assert [(w["channel"], w["since"]) for w in warnings] == [(edited.pk, (NOW - timedelta(hours=25)).isoformat())]
