"""The API refuses a variant over 20,000 characters with the compose form's own words."""

import pytest

from publisher.models import VARIANT_TEXT_MAX, Message
from tests.api.conftest import message_body

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", f"A text has at most {VARIANT_TEXT_MAX} characters; this one has {VARIANT_TEXT_MAX + 1}."),
        ("fr", f"Un texte compte au plus {VARIANT_TEXT_MAX} caractères ; celui-ci en a {VARIANT_TEXT_MAX + 1}."),
        ("nl", f"Een tekst telt hoogstens {VARIANT_TEXT_MAX} tekens; deze telt er {VARIANT_TEXT_MAX + 1}."),
    ],
)
def test_a_text_over_the_limit_is_refused_in_the_callers_language(make_client, author, language, expected):
    client = make_client(["read", "compose"], user=author, language=language)
    body = message_body(variants={"fr": {"text": "x" * (VARIANT_TEXT_MAX + 1)}, "nl": {"text": "Kort."}})

    response = client.post("/api/v1/messages/", body, format="json")

    assert response.status_code == 400
    assert expected in str(response.json())
    assert not Message.objects.exists()


def test_a_text_at_the_limit_is_accepted(make_client, author):
    client = make_client(["read", "compose"], user=author)
    body = message_body(variants={"fr": {"text": "x" * VARIANT_TEXT_MAX}, "nl": {"text": "Kort."}})
    assert client.post("/api/v1/messages/", body, format="json").status_code == 201


def test_the_schema_still_says_the_limit(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    assert schema["components"]["schemas"]["Variant"]["properties"]["text"]["maxLength"] == VARIANT_TEXT_MAX
