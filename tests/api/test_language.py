"""The language guard in the API: submit and alerts refuse a text in the wrong language with a
field and a code; a deliberate exception is confirmed through its own endpoint."""

import pytest

from publisher.models import AuditEvent, LanguageConfirmation, Message
from tests.api.conftest import alert_body, message_body
from tests.publisher.language.corpus import FR, NL

pytestmark = pytest.mark.django_db

SWAPPED = {"fr": {"text": NL[5]}, "nl": {"text": FR[5]}}


@pytest.fixture
def author_client(make_client, author):
    return make_client(["read", "compose"], user=author)


def test_submit_refuses_swapped_texts_with_field_and_code(author_client, brussels_channels):
    message = author_client.post("/api/v1/messages/", message_body(variants=SWAPPED), format="json").json()
    response = author_client.post(f"/api/v1/messages/{message['id']}/submit/")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"] == {
        "variants.fr": ["The French text looks Dutch (confidence 0.99)."],
        "variants.nl": ["The Dutch text looks French (confidence 0.99)."],
    }
    assert problem["codes"] == {"variants.fr": ["wrong_language"], "variants.nl": ["wrong_language"]}
    assert Message.objects.get(pk=message["id"]).state == "draft"


def test_the_error_is_in_the_callers_language(make_client, author, brussels_channels):
    client = make_client(["read", "compose"], user=author, language="nl")
    message = client.post("/api/v1/messages/", message_body(variants=SWAPPED), format="json").json()
    problem = client.post(f"/api/v1/messages/{message['id']}/submit/").json()
    assert problem["errors"]["variants.nl"] == ["De tekst in het Nederlands lijkt Frans (zekerheid 0,99)."]


def test_existing_unkeyed_problems_have_no_codes(author_client, brussels_channels):
    body = message_body(variants={"fr": {"text": FR[1]}})
    message = author_client.post("/api/v1/messages/", body, format="json").json()
    problem = author_client.post(f"/api/v1/messages/{message['id']}/submit/").json()
    assert list(problem["errors"]) == ["non_field_errors"]
    assert "codes" not in problem


def test_an_alert_in_the_wrong_languages_is_refused_and_stores_nothing(alert_client, brussels_channels):
    response = alert_client.post("/api/v1/alerts/", alert_body(variants=SWAPPED), format="json")
    assert response.status_code == 400
    problem = response.json()
    assert problem["codes"] == {"variants.fr": ["wrong_language"], "variants.nl": ["wrong_language"]}
    assert not Message.objects.exists()
    assert not AuditEvent.objects.filter(object_type="message").exists()


def test_a_confirmed_exception_is_submitted(author_client, brussels_channels):
    message = author_client.post("/api/v1/messages/", message_body(variants=SWAPPED), format="json").json()
    url = f"/api/v1/messages/{message['id']}/language-confirmations/"
    for language in ("fr", "nl"):
        response = author_client.post(url, {"language": language, "reason": "Exercise script"}, format="json")
        assert response.status_code == 201, response.content
    body = response.json()
    assert body["field"] == "variants.nl"
    assert body["reason"] == "Exercise script"
    assert body["confirmed_by"] == "author"
    assert len(body["text_hash"]) == 64
    assert author_client.post(f"/api/v1/messages/{message['id']}/submit/").json()["state"] == "submitted"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"language": "fr"}, "reason"),
        ({"language": "fr", "reason": ""}, "reason"),
        ({"language": "it", "reason": "Quote"}, "language"),
        ({"language": "fr", "reason": "Quote", "attachment": 999999}, "attachment"),
    ],
)
def test_a_confirmation_is_checked(author_client, brussels_channels, payload, field):
    message = author_client.post("/api/v1/messages/", message_body(variants=SWAPPED), format="json").json()
    response = author_client.post(f"/api/v1/messages/{message['id']}/language-confirmations/", payload, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert not LanguageConfirmation.objects.exists()


def test_nothing_to_confirm_is_a_400_on_the_field(author_client, brussels_channels):
    message = author_client.post("/api/v1/messages/", message_body(), format="json").json()
    response = author_client.post(
        f"/api/v1/messages/{message['id']}/language-confirmations/", {"language": "fr", "reason": "x"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["variants.fr"]


def test_confirming_needs_the_compose_scope(make_client, author, brussels_channels):
    writer = make_client(["read", "compose"], user=author)
    message = writer.post("/api/v1/messages/", message_body(variants=SWAPPED), format="json").json()
    reader = make_client(["read"], user=author)
    response = reader.post(
        f"/api/v1/messages/{message['id']}/language-confirmations/", {"language": "fr", "reason": "x"}, format="json"
    )
    assert response.status_code == 403


def test_the_message_detail_lists_findings_and_confirmations(author_client, brussels_channels):
    mixed = f"{FR[2]} Wees voorzichtig met onbekende bellers die om je bankgegevens vragen."
    variants = {"fr": {"text": mixed}, "nl": {"text": FR[4]}}
    message = author_client.post("/api/v1/messages/", message_body(variants=variants), format="json").json()
    # (The French text in the Dutch slot names a place in French: a place-name suggestion too.)
    language = [f for f in message["language_findings"] if f["code"] != "place_name"]
    assert [(f["field"], f["code"], f["severity"], f["confirmed"]) for f in language] == [
        ("variants.fr", "mixed_language", "warning", None),
        ("variants.nl", "wrong_language", "error", None),
    ]
    warning = language[0]
    assert mixed[warning["start"] : warning["end"]] == warning["excerpt"]

    author_client.post(
        f"/api/v1/messages/{message['id']}/language-confirmations/",
        {"language": "nl", "reason": "Citation"},
        format="json",
    )
    detail = author_client.get(f"/api/v1/messages/{message['id']}/").json()
    [confirmed] = [f["confirmed"] for f in detail["language_findings"] if f["code"] == "wrong_language"]
    assert confirmed["reason"] == "Citation"
    assert confirmed["confirmed_by"] == "author"
