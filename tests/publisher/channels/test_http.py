"""One vocabulary of errors for every network."""

import httpx
import pytest

from publisher.channels.base import AuthError, Gone, PermanentError, RateLimited, TransientError, UnknownOutcome
from publisher.channels.http import HttpSession, from_response, parse_reset, parse_retry_after
from publisher.channels.secrets import MissingSecret, channel_secret


def response(status, body=None, headers=None):
    return httpx.Response(status, json=body, headers=headers or {}, request=httpx.Request("POST", "https://x"))


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, AuthError),
        (403, AuthError),
        (404, PermanentError),
        (408, TransientError),
        (410, Gone),
        (422, PermanentError),
        (429, RateLimited),
        (500, TransientError),
        (503, TransientError),
    ],
)
def test_status_mapping(status, kind):
    error = from_response(response(status, {"error": "nope"}))
    assert type(error) is kind
    assert error.status == status
    assert error.message == f"HTTP {status}: nope"


def test_network_messages_are_kept_and_secrets_redacted():
    error = from_response(response(400, {"error": {"message": "Invalid token abc123secret"}}), secrets=["abc123secret"])
    assert error.message == "HTTP 400: Invalid token [redacted]"
    assert from_response(response(400, {"error": "InvalidRequest", "message": "bad facet"})).message == (
        "HTTP 400: InvalidRequest: bad facet"
    )


def test_retry_after_forms():
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert parse_reset("1700000060", now=1700000000) == 60
    assert parse_reset("2026-11-27T12:01:00.000000Z", now=1795780800) == 60
    assert from_response(response(429, headers={"Retry-After": "30"})).retry_after == 30


def test_connection_refused_is_transient_and_timeout_after_send_is_unknown():
    with HttpSession(config={"timeout": 0.2, "connect_timeout": 0.2}) as http, pytest.raises(TransientError):
        http.request("POST", "http://127.0.0.1:9/x", creates_post=True)


def test_slow_answer_to_a_create_is_unknown_outcome(fake_webhook):
    fake_webhook.slow_next(0.6)
    with HttpSession(config={"timeout": 0.2}) as http, pytest.raises(UnknownOutcome):
        http.request("POST", fake_webhook.endpoint, creates_post=True)
    fake_webhook.slow_next(0.6)
    with HttpSession(config={"timeout": 0.2}) as http, pytest.raises(TransientError) as caught:
        http.request("POST", fake_webhook.endpoint, creates_post=True, deduplicated=True)
    assert caught.type is TransientError


def test_missing_secret_is_an_auth_error(db, monkeypatch):
    from tests.factories import ChannelFactory

    channel = ChannelFactory(kind="mastodon", secret_ref="TANDEM_SECRET_TEST_UNSET_TOKEN")
    monkeypatch.delenv("TANDEM_SECRET_TEST_UNSET_TOKEN", raising=False)
    with pytest.raises(MissingSecret, match="TANDEM_SECRET_TEST_UNSET_TOKEN is not set") as caught:
        channel_secret(channel)
    assert isinstance(caught.value, AuthError)
    monkeypatch.setenv("TANDEM_SECRET_TEST_UNSET_TOKEN", "s3cr3t")
    assert channel_secret(channel) == "s3cr3t"


def test_a_network_error_body_is_cut_to_a_short_excerpt():
    page = "<html>" + "internal stack trace line\n" * 2000 + "</html>"
    raw = httpx.Response(500, text=page, request=httpx.Request("POST", "https://x"))
    assert len(from_response(raw).message) <= len("HTTP 500: ") + 300
    wordy = from_response(response(400, {"error": "x" * 100_000}))
    assert len(wordy.message) <= len("HTTP 400: ") + 300


def test_a_secret_across_the_excerpts_end_is_redacted_before_cutting():
    secret = "tok-" + "s" * 40
    error = from_response(response(400, {"message": "a" * 280 + secret}), secrets=[secret])
    assert "tok-ssss" not in error.message
