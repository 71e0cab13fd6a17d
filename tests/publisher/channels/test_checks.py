"""Problems per routed channel before approval, in the reader's language."""

import pytest
from django.utils import translation

from publisher.channels.checks import message_channel_problems
from publisher.workflow import services
from publisher.workflow.attachments import attachment_add
from tests.factories import ChannelFactory, make_message
from tests.fakes.fixtures import make_photo


@pytest.fixture
def bluesky_nl(db):
    return ChannelFactory(kind="bluesky", language="nl", covers_all=True, name="Bluesky")


def test_too_long_for_bluesky_in_dutch_only(author, bluesky_nl, django_assert_max_num_queries):
    ChannelFactory(kind="mastodon", language="fr", covers_all=True, name="Mastodon")
    message = make_message(author=author, variants={"fr": "é" * 312, "nl": "ë" * 312})

    with django_assert_max_num_queries(8):
        found = message_channel_problems(message)

    assert [(language, channel.name, problem.message) for language, channel, problem in found] == [
        ("nl", "Bluesky", "NL — Bluesky: 312/300 characters")
    ]
    assert "NL — Bluesky: 312/300 characters" in services.message_problems(message)


def test_messages_follow_the_active_language(author, bluesky_nl):
    message = make_message(author=author, variants={"fr": "Bonjour", "nl": "ë" * 312})
    with translation.override("fr"):
        (found,) = message_channel_problems(message)
    assert found[2].message == "NL — Bluesky : 312/300 caractères"
    with translation.override("nl"):
        (found,) = message_channel_problems(message)
    assert found[2].message == "NL — Bluesky: 312/300 tekens"


def test_missing_alt_text_blocks_and_small_image_only_warns(author, db):
    ChannelFactory(kind="instagram", language="fr", covers_all=True, name="Instagram")
    message = make_message(author=author, variants={"fr": "Bonjour", "nl": "Hallo"})
    from django.core.files.uploadedfile import SimpleUploadedFile

    attachment_add(
        message=message, actor=author, file=SimpleUploadedFile("p.jpg", make_photo(300, 300)), alt_fr="", alt_nl="x"
    )

    found = {problem.code: problem for _l, _c, problem in message_channel_problems(message)}
    assert found["image_small"].severity == "warning"
    assert "FR — Instagram: image 1 is 300 pixels wide" in found["image_small"].message
    blocking = services.message_problems(message)
    assert not any("300 pixels" in p for p in blocking)


def test_instagram_needs_an_image(author, db):
    ChannelFactory(kind="instagram", language="nl", covers_all=True, name="Instagram")
    message = make_message(author=author, variants={"fr": "Bonjour", "nl": "Hallo"})
    (found,) = message_channel_problems(message)
    assert found[2].code == "image_required"
