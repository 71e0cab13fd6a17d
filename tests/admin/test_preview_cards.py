"""The compose page's preview cards endpoint, the cards on the message page, and the
one 20,000-character rule the compose form shares with the API."""

import json

import pytest
from django.urls import reverse

from publisher.models import VARIANT_TEXT_MAX, Message
from tests.admin.test_compose import ADD, compose_data
from tests.factories import ChannelFactory, UserFactory, make_message

URL = reverse("admin:publisher_message_preview_cards")


@pytest.fixture(autouse=True)
def _english_interface(author, approver):
    for user in (author, approver):
        user.preferred_language = "en"
        user.save(update_fields=["preferred_language"])


@pytest.fixture
def networks(db):
    for kind, language in (("mastodon", "fr"), ("x", "fr"), ("bluesky", "nl"), ("telegram", "nl")):
        ChannelFactory(kind=kind, language=language, covers_all=True, name=f"{kind} {language}")


def post(client, payload):
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post(URL, body, content_type="application/json")


def draft(**overrides):
    body = {
        "message": None,
        "variants": {"fr": {"text": "Voir example.com maintenant", "link": ""}, "nl": {"text": "Zie ook.", "link": ""}},
        "audience": {"municipalities": ["21004"]},
    }
    body.update(overrides)
    return body


def test_cards_for_the_typed_texts(author_client, networks, django_assert_num_queries):
    # session, user, second factor, permissions ×2 (admin_view), then municipalities and channels
    with django_assert_num_queries(7):
        response = post(author_client, draft())

    assert response.status_code == 200
    cards = {card["kind"]: card for card in response.json()["cards"]}
    assert set(cards) == {"mastodon", "x", "bluesky", "telegram"}
    assert (cards["x"]["count"], cards["x"]["limit"], cards["x"]["unit"]) == (39, 280, "weighted")
    assert cards["mastodon"]["count"] == 27
    assert cards["bluesky"]["also"] == [{"count": 8, "limit": 3000, "unit": "bytes"}]
    html = response.json()["html"]
    assert html.count('class="preview-card ') == 4
    assert "39/280" in html


def test_the_query_count_does_not_grow_with_images(
    author, author_client, networks, settings, tmp_path, django_assert_num_queries
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from publisher.workflow.attachments import attachment_add
    from tests.fakes.fixtures import make_photo

    settings.MEDIA_ROOT = tmp_path
    message = make_message(author=author)
    for number in range(3):
        attachment_add(
            message=message,
            actor=author,
            file=SimpleUploadedFile("p.jpg", make_photo(900 + number, 600)),
            alt_fr="photo",
            alt_nl="foto",
        )
    first = message.attachments.order_by("pk").first().pk

    with django_assert_num_queries(9):  # + the message and its attachments, whatever their number
        response = post(author_client, draft(message=message.pk, alts={str(first): {"fr": "Tapé"}}))
    assert response.status_code == 200
    cards = {card["kind"]: card for card in response.json()["cards"]}
    assert [image["alt"] for image in cards["x"]["images"]] == ["Tapé", "photo", "photo"]
    assert cards["x"]["images"][0]["rendition"] == {"width": 900, "height": 600}


def test_the_image_not_uploaded_yet_is_framed_by_its_size(author_client, networks):
    body = draft(new_image={"width": 300, "height": 300, "alts": {"fr": "Logo", "nl": "Logo NL"}, "language": ""})
    response = post(author_client, body)
    assert response.status_code == 200
    cards = {card["kind"]: card for card in response.json()["cards"]}
    assert cards["x"]["images"] == [
        {
            "url": "",
            "alt": "Logo",
            "width": 300,
            "height": 300,
            "rendition": {"width": 300, "height": 300},
            "box": {"left": 0.0, "top": 0.0, "width": 1.0, "height": 1.0},
        }
    ]
    assert "image_small" in {p["code"] for p in cards["x"]["problems"]}
    assert cards["bluesky"]["images"][0]["alt"] == "Logo NL"
    assert "data-new-image" in response.json()["html"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "The request is not valid JSON."),
        ("[1, 2]", "The request is not valid JSON."),
        (json.dumps(draft(variants=[])), "Send the texts as an object by language."),
        (json.dumps(draft(variants={"en": {"text": "Hi"}})), "Unknown language: use fr, nl or de."),
        (json.dumps(draft(variants={"fr": {"text": 5}})), "The text must be a string."),
        (json.dumps(draft(audience={"municipalities": "21004"})), "“municipalities” must be a list of identifiers."),
        (json.dumps(draft(audience=[])), "Send the audience as an object."),
        (json.dumps(draft(alts={"x": {}})), "Send the alt texts as an object by image."),
        (json.dumps(draft(message="abc")), "Unknown message."),
        (json.dumps(draft(new_image=[1])), "Send the new image as an object with its width and height."),
        (
            json.dumps(draft(new_image={"width": 0, "height": 5})),
            "Send the new image as an object with its width and height.",
        ),
        (
            json.dumps(draft(new_image={"width": True, "height": 5})),
            "Send the new image as an object with its width and height.",
        ),
        (json.dumps(draft(message=10**6)), "Unknown message."),
        (
            json.dumps(draft(variants={"fr": {"text": "x" * (VARIANT_TEXT_MAX + 1)}})),
            f"A text has at most {VARIANT_TEXT_MAX} characters; this one has {VARIANT_TEXT_MAX + 1}.",
        ),
    ],
)
def test_bad_input_is_a_400_with_a_message(author_client, networks, body, message):
    response = post(author_client, body)
    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_a_form_post_is_a_400_and_get_a_405(author_client):
    assert author_client.post(URL, {"variants": "x"}).status_code == 400
    response = author_client.get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_an_oversize_body_is_refused_before_reading(author_client):
    response = author_client.generic("POST", URL, "x", content_type="application/json", CONTENT_LENGTH="99999999")
    assert response.status_code in {400, 413}  # ours, or the site-wide cap that comes first


def test_permissions(client, roles, networks):
    assert post(client, draft()).status_code == 302  # to the sign-in page
    client.force_login(UserFactory(username="nobody", is_staff=True))
    assert post(client, draft()).status_code == 403


def test_the_message_page_shows_the_cards_to_the_approver(author, approver_client, networks):
    from publisher.workflow import services

    message = make_message(author=author, variants={"fr": "Voir example.com maintenant", "nl": "Kort."})
    services.message_submit(message=message, actor=author)

    page = approver_client.get(reverse("admin:publisher_message_change", args=[message.pk]))

    html = page.content.decode()
    assert html.count('class="preview-card ') == 4
    assert "39/280" in html  # X, by twitter-text


def test_the_draft_page_shows_where_each_network_cuts(author, author_client, networks):
    message = make_message(author=author, variants={"fr": "Cambriolages. " * 40, "nl": "Kort."})

    page = author_client.get(reverse("admin:publisher_message_change", args=[message.pk]))

    html = page.content.decode()
    assert "559/500" in html  # Mastodon
    assert "559/280" in html  # X
    assert html.count('<mark class="over">') == 2


def test_the_compose_form_refuses_a_text_over_the_apis_limit_with_its_message(author_client, networks):
    # tests/api/test_variant_text_limit.py sends the same text to the API and expects the same words.
    response = author_client.post(ADD, compose_data(text_fr="x" * (VARIANT_TEXT_MAX + 1)))
    assert response.status_code == 200
    assert response.context["form"].errors["text_fr"] == [
        f"A text has at most {VARIANT_TEXT_MAX} characters; this one has {VARIANT_TEXT_MAX + 1}."
    ]
    assert not Message.objects.exists()
