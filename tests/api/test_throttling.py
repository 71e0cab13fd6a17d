"""Failed bearer tokens are counted per address; past the budget they get 429, valid tokens never."""

import logging
import secrets
import socket
from unittest import mock

import pytest
import time_machine
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def fresh_address():
    # Its own address per test: a shared Redis cache keeps counters between tests.
    return "127.{}.{}.{}".format(*secrets.token_bytes(3))


@pytest.fixture
def address():
    return fresh_address()


def garbage(address):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION="Bearer tdm_deadbeef_" + "x" * 43)
    return client


@override_settings(TANDEM_API_TOKEN_FAILURE_RATE="3/minute")
def test_failed_token_attempts_from_one_address_get_429_with_retry_after(make_client, address):
    with time_machine.travel("2026-12-01 10:00:20 +00:00", tick=False) as traveller:
        statuses = [garbage(address).get("/api/v1/municipalities/").status_code for _ in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        refused = garbage(address).get("/api/v1/messages/")
        assert refused.status_code == 429
        assert refused["Content-Type"] == "application/problem+json"
        assert refused["Retry-After"] == "40"  # the minute's window ends at 10:01:00
        assert "failed token attempts" in refused.json()["detail"]
        # A valid token from the same address is not refused: the budget counts failures only.
        valid = make_client(["read"])
        valid.defaults["REMOTE_ADDR"] = address
        assert valid.get("/api/v1/municipalities/").status_code == 200
        # Other addresses keep their own budget.
        assert garbage(fresh_address()).get("/api/v1/municipalities/").status_code == 401
        traveller.move_to("2026-12-01 10:01:01 +00:00")
        assert garbage(address).get("/api/v1/municipalities/").status_code == 401


@override_settings(TANDEM_API_TOKEN_FAILURE_RATE="3/minute")
def test_malformed_authorization_headers_count_as_failures(address):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    statuses = [client.get("/api/v1/municipalities/").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_valid_tokens_make_no_cache_call_for_the_failure_budget(make_client):
    client = make_client(["read"])
    with mock.patch("publisher.api.throttling.cache") as counters:
        assert client.get("/api/v1/municipalities/21004/").status_code == 200
    assert counters.mock_calls == []


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_cache_lets_failed_attempts_through_to_401(address, caplog):
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }
    with (
        override_settings(CACHES=unreachable, TANDEM_API_TOKEN_FAILURE_RATE="1/minute"),
        caplog.at_level(logging.WARNING, logger="publisher.api.throttling"),
    ):
        statuses = [garbage(address).get("/api/v1/municipalities/").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    assert "not counted" in caplog.text
