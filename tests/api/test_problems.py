"""Errors are RFC 9457 problem details with field errors, in the language of Accept-Language."""

from datetime import datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from publisher.models import AuditEvent, Message
from tests.api.conftest import alert_body, message_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def composer(make_client, author):
    return make_client(["read", "compose"], user=author)


def problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    return body


def test_unknown_nis_code_is_a_field_error(composer):
    body = problem(
        composer.post(
            "/api/v1/messages/", message_body(audience={"municipalities": ["21004", "99999"]}), format="json"
        ),
        400,
    )
    assert body["type"] == "/api/problems/validation-error"
    assert body["instance"] == "/api/v1/messages/"
    assert "99999" in body["errors"]["municipalities"][0]
    assert not Message.objects.exists()


def test_malformed_nis_code_is_a_field_error(composer):
    body = problem(
        composer.post("/api/v1/messages/", message_body(audience={"municipalities": ["2100"]}), format="json"), 400
    )
    assert "audience.municipalities.0" in body["errors"]


def test_naive_datetime_is_refused(composer):
    body = problem(
        composer.post("/api/v1/messages/", message_body(publish_at="2031-03-03T09:00:00"), format="json"), 400
    )
    assert "offset" in body["errors"]["publish_at"][0]


def test_dst_gap_time_is_refused(composer):
    # 28 March 2032: Brussels clocks jump from 02:00 to 03:00; 02:30 does not exist.
    body = problem(
        composer.post("/api/v1/messages/", message_body(publish_at="2032-03-28T02:30:00+01:00"), format="json"), 400
    )
    assert "does not exist in Brussels" in body["errors"]["publish_at"][0]
    ok = composer.post("/api/v1/messages/", message_body(publish_at="2032-03-28T03:30:00+02:00"), format="json")
    assert ok.status_code == 201


def test_past_time_is_refused(composer):
    past = (timezone.localtime() - timedelta(hours=2)).isoformat()
    body = problem(composer.post("/api/v1/messages/", message_body(publish_at=past), format="json"), 400)
    assert body["errors"]["publish_at"][0].endswith("is in the past: choose a time to come.")
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("rrule", "fragment"),
    [
        ("FREQ=SOMETIMES", "not valid RFC 5545"),
        ("BYDAY=MO", "not valid RFC 5545"),
        ("FREQ=WEEKLY;BYDAY=XX", "not valid RFC 5545"),
        ("FREQ=MINUTELY", "at most every hour"),
        ("FREQ=DAILY;UNTIL=20300101T000000", "no publication time left in the future"),
    ],
)
def test_invalid_rrule_is_refused(composer, rrule, fragment):
    body = problem(
        composer.post(
            "/api/v1/messages/",
            message_body(publish_at=None, recurrence={"rrule": rrule, "dtstart": "2031-03-03T09:00:00+01:00"}),
            format="json",
        ),
        400,
    )
    assert fragment in body["errors"]["recurrence.rrule"][0]
    assert not Message.objects.exists()


def test_variant_in_an_unknown_language(composer):
    body = problem(
        composer.post("/api/v1/messages/", message_body(variants={"en": {"text": "Hello"}}), format="json"), 400
    )
    assert "variants.en" in body["errors"]


def test_not_found_and_method_not_allowed_are_problems(composer):
    assert problem(composer.get("/api/v1/messages/424242/"), 404)["type"] == "/api/problems/not-found"
    assert problem(composer.get("/api/v1/municipalities/99999/"), 404)
    problem(composer.delete("/api/v1/messages/"), 405)


@pytest.mark.parametrize(
    ("language", "title", "fragment"),
    [
        ("en", "The request is not valid.", "French and Dutch are required"),
        ("fr", "La requête n’est pas valide.", "le texte en néerlandais"),
        ("nl", "Het verzoek is niet geldig.", "de Nederlandse tekst"),
    ],
)
def test_errors_follow_accept_language(make_client, api_user, language, title, fragment):
    # The token's user prefers French; for a machine, Accept-Language wins.
    client = make_client(["alert", "read"], user=api_user, language=language)
    body = problem(client.post("/api/v1/alerts/", alert_body(variants={"fr": {"text": "Feu"}}), format="json"), 400)
    assert body["title"] == title
    assert fragment in body["errors"]["variants.nl"][0]
    assert not AuditEvent.objects.filter(object_type="message").exists()


def test_authentication_errors_are_translated_too(client):
    response = client.get("/api/v1/messages/", HTTP_AUTHORIZATION="Bearer nope", HTTP_ACCEPT_LANGUAGE="nl")
    body = problem(response, 401)
    assert body["title"] == "Authenticatie is vereist."


@override_settings(TANDEM_API_RATE="3/minute")
def test_throttling_per_token_with_retry_after(make_client):
    first = make_client(["read"])
    second = make_client(["read"])
    for _ in range(3):
        assert first.get("/api/v1/municipalities/21004/").status_code == 200
    body = problem(first.get("/api/v1/municipalities/21004/"), 429)
    assert body["type"] == "/api/problems/throttled"
    retry_after = int(first.get("/api/v1/municipalities/21004/")["Retry-After"])
    assert 1 <= retry_after <= 60
    # Another token has its own budget.
    assert second.get("/api/v1/municipalities/21004/").status_code == 200


def test_schedule_helper_accepts_utc_and_offsets():
    from publisher.api.schedule import schedule_fields

    now = datetime.fromisoformat("2031-01-01T00:00:00+00:00")
    assert schedule_fields(publish_at="2032-03-28T02:30:00Z", recurrence=None, now=now).publish_at is not None
    assert schedule_fields(publish_at=None, recurrence=None, now=now).publish_at is None
    urgent = schedule_fields(publish_at="2030-12-31T23:00:00+00:00", recurrence=None, urgent=True, now=now)
    assert urgent.publish_at is not None
