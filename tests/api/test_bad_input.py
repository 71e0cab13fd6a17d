"""Hostile or absurd input gets a clear 4xx problem, never a 500, and stores nothing."""

import pytest

from publisher.api.parsers import MAX_DEPTH, nesting_within
from publisher.models import Attachment, Message
from tests.api.conftest import message_body
from tests.publisher.test_request_limits import CAP, UnreadableBody, oversize

pytestmark = pytest.mark.django_db


@pytest.fixture
def composer(make_client, author):
    return make_client(["read", "compose"], user=author)


def problem(response, status):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    return body


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_json_nested_a_thousand_deep_is_a_400(composer, opening):
    closing = "]" if opening == "[" else "}"
    body = opening * 1000 + "1" + closing * 1000
    response = composer.generic("POST", "/api/v1/messages/", body, content_type="application/json")
    detail = problem(response, 400)["detail"]
    assert str(MAX_DEPTH) in detail
    assert not Message.objects.exists()


def test_json_nesting_error_is_translated(make_client, author):
    client = make_client(["read", "compose"], user=author, language="nl")
    response = client.generic("POST", "/api/v1/messages/", "[" * 100 + "]" * 100, content_type="application/json")
    body = problem(response, 400)
    assert body["title"] == "Het verzoek is niet geldig."
    assert "32" in body["detail"]
    assert "JSON" in body["detail"]
    assert body["detail"] != "JSON parse error: arrays and objects nest deeper than 32 levels."


def test_truncated_json_gets_the_parsers_own_message(composer):
    response = composer.generic("POST", "/api/v1/messages/", '{"title": [1,', content_type="application/json")
    assert "Expecting" in problem(response, 400)["detail"]


def test_json_body_over_the_size_limit_is_a_413_before_parsing(composer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    padded = message_body(title="x" * 2000)
    import json

    response = composer.generic("POST", "/api/v1/messages/", json.dumps(padded), content_type="application/json")
    problem(response, 413)
    assert not Message.objects.exists()


def test_ordinary_json_still_parses(composer):
    response = composer.post("/api/v1/messages/", message_body(), format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("text", "depth", "within"),
    [
        (b'{"a": [1, {"b": "[[[[[[[[[["}]}', 3, True),  # brackets inside strings are text
        (b'{"a": [1, {"b": "\\"[[[["}]}', 3, True),  # an escaped quote does not end the string
        (b"[[[]]]", 2, False),
        (b"[[[]]]", 3, True),
        (b"[}", 5, True),  # unbalanced but shallow: json.loads says what is wrong
        (b"[" * 40 + b"}" + b"]" * 40, 32, False),  # unbalanced and deep
        (b'"\\"\\"\\"' * 1000, 1, True),  # many escaped quotes, unterminated: still linear
        (b"", 1, True),
    ],
)
def test_nesting_scan(text, depth, within):
    assert nesting_within(text, depth) is within


def test_api_upload_over_the_limit_is_a_413_problem_unread(make_client, author, settings):
    settings.TANDEM_UPLOAD_MAX_BYTES = CAP
    client = make_client(["read", "compose"], user=author, language="fr")
    message = client.post("/api/v1/messages/", message_body(), format="json").json()
    body = UnreadableBody()
    response = oversize(client, f"/api/v1/messages/{message['id']}/attachments/", body)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 413
    assert "1 Mo" in problem["detail"]
    assert problem["title"] == "La requête est trop volumineuse."
    assert body.read_bytes == 0
    assert not Attachment.objects.exists()


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00-14:00",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59Z",
        "2030-01-01T09:00:00+99:00",  # an offset Python cannot represent
    ],
)
def test_extreme_publish_at_is_a_400_naming_the_field(composer, value):
    response = composer.post("/api/v1/messages/", message_body(publish_at=value), format="json")
    body = problem(response, 400)
    assert list(body["errors"]) == ["publish_at"]
    assert not Message.objects.exists()


def test_extreme_publish_at_in_an_update_and_a_recurrence(composer):
    message = composer.post("/api/v1/messages/", message_body(), format="json").json()
    response = composer.patch(
        f"/api/v1/messages/{message['id']}/", {"publish_at": "0001-01-01T00:00:00+14:00"}, format="json"
    )
    assert "2000-01-01" in problem(response, 400)["errors"]["publish_at"][0]
    response = composer.post(
        "/api/v1/messages/",
        message_body(publish_at=None, recurrence={"rrule": "FREQ=DAILY", "dtstart": "9999-12-31T23:59:00-14:00"}),
        format="json",
    )
    assert list(problem(response, 400)["errors"]) == ["recurrence.dtstart"]
    response = composer.post(
        "/api/v1/messages/",
        message_body(
            publish_at=None,
            recurrence={"rrule": "FREQ=DAILY\nEXDATE:99991231T235959Z", "dtstart": "2031-03-03T09:00:00+01:00"},
        ),
        format="json",
    )
    assert list(problem(response, 400)["errors"]) == ["recurrence.rrule"]
    assert Message.objects.count() == 1


def test_an_api_url_matching_no_endpoint_is_a_problem(composer):
    body = problem(composer.get("/api/v1/messages/-1/"), 404)
    assert body["instance"] == "/api/v1/messages/-1/"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("offset=null", "offset"),
        ("offset=1&offset=2", "offset"),
        ("limit=-5", "limit"),
        ("state=AAA", "state"),
        ("urgency=AAA", "urgency"),
        ("kind=x&kind=y", "kind"),
    ],
)
def test_list_parameters_outside_the_schema_are_a_400(composer, query, field):
    body = problem(composer.get(f"/api/v1/messages/?{query}"), 400)
    assert list(body["errors"]) == [field]


def test_list_parameters_within_the_schema_still_work(composer):
    response = composer.get("/api/v1/messages/?limit=500&offset=99999999999999999999&state=draft")
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


def test_idempotency_key_with_spaces_is_refused_as_documented(make_client, author):
    client = make_client(["read", "compose"], user=author)
    response = client.post("/api/v1/messages/", message_body(), format="json", HTTP_IDEMPOTENCY_KEY="two words")
    assert "Idempotency-Key" in problem(response, 400)["errors"]
    assert not Message.objects.exists()
