"""The compose page's live language check, and the findings on the approval page."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from publisher.language import placenames
from publisher.views.language import MAX_TEXT_CHARS
from publisher.workflow import services
from tests.factories import UserFactory, make_message

URL = reverse("admin:publisher_message_preview_language")


@pytest.fixture(autouse=True)
def _fresh_tables():
    placenames.cache_clear()


@pytest.fixture(autouse=True)
def _english_interface(author, approver):
    for user in (author, approver):
        user.preferred_language = "en"
        user.save(update_fields=["preferred_language"])


def post(client, payload, **extra):
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return client.post(URL, body, content_type="application/json", **extra)


def test_returns_the_guards_findings(author_client):
    response = post(author_client, {"language": "nl", "text": "Ongeval in Ixelles."})
    assert response.status_code == 200
    assert response.json() == {
        "findings": [
            {
                "code": "place_name",
                "severity": "warning",
                "message": "In Dutch: Elsene.",
                "language": "nl",
                "excerpt": "Ixelles",
                "start": 11,
                "end": 18,
                "replacement": "Elsene",
            }
        ]
    }


def test_messages_follow_the_users_language(client, roles):
    user = UserFactory(username="auteur", roles=["author"], preferred_language="fr")
    client.force_login(user)
    [finding] = post(client, {"language": "nl", "text": "Ongeval in Ixelles."}).json()["findings"]
    assert finding["message"] == "En néerlandais : Elsene."


def test_a_clean_text_has_no_findings(author_client):
    assert post(author_client, {"language": "fr", "text": "Accident à Ixelles."}).json() == {"findings": []}


def test_sign_in_is_required(client):
    response = post(client, {"language": "nl", "text": "Ixelles"})
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_compose_permission_is_refused(client, roles):
    client.force_login(UserFactory(username="reader", is_staff=True))
    assert post(client, {"language": "nl", "text": "Ixelles"}).status_code == 403


def test_csrf_is_checked(author):
    client = Client(enforce_csrf_checks=True)
    client.force_login(author)
    assert post(client, {"language": "nl", "text": "Ixelles"}).status_code == 403
    client.get(reverse("admin:publisher_message_add"))
    token = client.cookies["csrftoken"].value
    assert post(client, {"language": "nl", "text": "Ixelles"}, HTTP_X_CSRFTOKEN=token).status_code == 200


def test_get_is_refused(author_client):
    response = author_client.get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ("{not json", "The request is not valid JSON."),
        ("[" * 10_000 + "]" * 10_000, "The request is not valid JSON."),
        ("[1, 2]", "Send an object with a language and a text."),
        ({"language": "en", "text": "Ixelles"}, "Unknown language: use fr, nl or de."),
        ({"language": ["nl"], "text": "Ixelles"}, "Unknown language: use fr, nl or de."),
        ({"language": "nl"}, "The text must be a string."),
        ({"language": "nl", "text": 12}, "The text must be a string."),
        (
            {"language": "nl", "text": "x" * (MAX_TEXT_CHARS + 1)},
            f"The text is too long to check (at most {MAX_TEXT_CHARS} characters).",
        ),
        (
            {"language": "nl", "text": "x" * 70_000},
            f"The text is too long to check (at most {MAX_TEXT_CHARS} characters).",
        ),
    ],
)
def test_bad_input_is_a_400_with_a_clear_error(author_client, payload, error):
    response = post(author_client, payload)
    assert response.status_code == 400
    assert response.json() == {"error": error}


def test_a_form_post_is_a_400(author_client):
    response = author_client.post(URL, {"language": "nl", "text": "Ixelles"})
    assert response.status_code == 400


def test_the_error_is_in_the_users_language(client, roles):
    client.force_login(UserFactory(username="auteur", roles=["author"], preferred_language="nl"))
    response = post(client, "{not json")
    assert response.json() == {"error": "Het verzoek is geen geldige JSON."}


def test_query_count_does_not_grow_with_the_text(author_client, django_assert_num_queries):
    post(author_client, {"language": "nl", "text": "Ixelles"})  # builds the tables once
    short = {"language": "nl", "text": "Ixelles"}
    long = {"language": "nl", "text": "Ongeval in Ixelles, Anvers, Mons en Liège. " * 50}
    # Session, user, second factor, permissions (user's and groups'): none for the check itself.
    with django_assert_num_queries(5) as short_queries:
        assert len(post(author_client, short).json()["findings"]) == 1
    with django_assert_num_queries(len(short_queries.captured_queries)):
        assert len(post(author_client, long).json()["findings"]) == 200


def test_the_approval_page_shows_the_findings_beside_each_text(approver_client, author, channels):
    message = make_message(author=author, variants={"fr": "Vol de vélos à Elsene.", "nl": "Fietsdiefstal in Ixelles."})
    services.message_submit(message=message, actor=author)
    page = approver_client.get(reverse("admin:publisher_message_change", args=[message.pk])).content.decode()
    assert page.count('class="finding severity-warning" data-code="place_name"') == 2
    assert "<q>Elsene</q> In French: Ixelles." in page
    assert "<q>Ixelles</q> In Dutch: Elsene." in page


def test_the_compose_page_carries_the_check_url_and_labels(author_client):
    page = author_client.get(reverse("admin:publisher_message_add")).content.decode()
    assert f'data-language-url="{URL}"' in page
    assert 'data-label-replace-with="Replace with {name}"' in page
    assert "publisher/language.js" in page
