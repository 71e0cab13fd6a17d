"""Preview cards: each network's text as it counts and cuts it, its links, its image frame."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from publisher.channels.checks import message_channel_problems
from publisher.workflow import previews
from publisher.workflow.attachments import attachment_add
from tests.factories import ChannelFactory, make_message
from tests.fakes.fixtures import make_photo

LONG_FR = "Cambriolages : fermez vos fenêtres. " * 20  # 720 characters


@pytest.fixture
def networks(db):
    return {
        kind: ChannelFactory(kind=kind, language=language, covers_all=True, name=name)
        for kind, language, name in (
            ("mastodon", "fr", "Police FR (Mastodon)"),
            ("x", "fr", "Police FR (X)"),
            ("bluesky", "nl", "Politie NL (Bluesky)"),
            ("telegram", "nl", "Politie NL (Telegram)"),
        )
    }


def cards_by_kind(cards):
    return {card.channel.kind: card for card in cards}


def test_x_counts_a_domain_without_scheme_as_a_link(author, networks):
    message = make_message(author=author, variants={"fr": "Voir example.com maintenant", "nl": "Zie example.com nu"})

    card = cards_by_kind(previews.message_preview_cards(message))["x"]

    assert (card.measured.count, card.measured.limit, card.measured.unit) == (39, 280, "weighted")
    assert [(p.text, p.href) for p in card.pieces] == [
        ("Voir ", ""),
        ("example.com", "example.com"),
        (" maintenant", ""),
    ]
    # Mastodon links only addresses with a scheme: 27 graphemes as typed.
    assert cards_by_kind(previews.message_preview_cards(message))["mastodon"].measured.count == 27


def test_each_network_counts_and_cuts_by_its_own_rule(author, networks):
    link = "https://www.police.be/fr/actualites/prevention/cambriolages-2026"
    message = make_message(author=author, variants={"fr": f"{LONG_FR}{link}", "nl": "Sluit uw ramen. " * 25})

    cards = cards_by_kind(previews.message_preview_cards(message))

    mastodon = cards["mastodon"]
    assert mastodon.measured.count == len(LONG_FR) + 23  # the link counts 23
    assert mastodon.measured.limit == 500
    kept = "".join(p.text for p in mastodon.pieces if not p.over)
    assert kept == LONG_FR[:500]
    assert [p.text for p in mastodon.pieces if p.href] == ["police.be/fr/actualites/preven…"]
    assert mastodon.over
    assert mastodon.pieces[-1].over

    x = cards["x"]
    assert x.measured.count == len(LONG_FR) + 23
    assert "".join(p.text for p in x.pieces if not p.over) == LONG_FR[:280]
    assert [p.text for p in x.pieces if p.href] == ["police.be/fr/actualites/p…"]

    bluesky = cards["bluesky"]
    assert (bluesky.measured.count, bluesky.measured.limit) == (399, 300)  # stripped: 25 × 16 − 1
    assert bluesky.measured.also == ((399, 3000, "bytes"),)
    assert [p.code for p in bluesky.errors] == ["text_too_long"]

    telegram = cards["telegram"]
    assert (telegram.measured.count, telegram.measured.limit, telegram.over) == (399, 4096, False)


def test_cards_show_what_check_refuses(author, networks):
    message = make_message(author=author, variants={"fr": LONG_FR, "nl": "Kort."})

    cards = previews.message_preview_cards(message)

    refused = {(channel.kind, p.message) for _l, channel, p in message_channel_problems(message)}
    shown = {(card.channel.kind, p.message) for card in cards for p in card.problems if p.code == "text_too_long"}
    assert {kind for kind, _m in shown} == {"mastodon", "x"}
    assert {(kind, m.split(": ", 1)[1]) for kind, m in refused} >= shown


def test_image_frame_follows_the_rendition_and_small_images_warn(author, networks, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    ChannelFactory(kind="instagram", language="fr", covers_all=True, name="Police FR (Instagram)")
    message = make_message(author=author, variants={"fr": "Bonjour", "nl": "Hallo"})
    attachment_add(
        message=message,
        actor=author,
        file=SimpleUploadedFile("logo.png", make_photo(400, 100, fmt="PNG")),
        alt_fr="Logo de la police",
        alt_nl="Logo van de politie",
    )

    cards = cards_by_kind(previews.message_preview_cards(message))

    instagram = cards["instagram"]
    [image] = instagram.images
    assert image.alt == "Logo de la police"
    # 4:1 is wider than Instagram's 1.91:1: the rendition pads above and below.
    assert (image.frame.width, image.frame.height) == (400, 210)
    assert image.frame.left == 0
    assert round(image.frame.top, 3) == round(55 / 210, 3)
    assert image.url.endswith(".png")
    assert any(p.code == "image_small" and "1080" in p.message for p in instagram.problems)
    bluesky = cards["bluesky"]
    assert bluesky.images[0].alt == "Logo van de politie"
    assert (bluesky.images[0].frame.width, bluesky.images[0].frame.height) == (400, 100)
    assert [p.severity for p in bluesky.problems if p.code == "image_small"] == ["warning"]
    # The timeline warning is the preview's: it never blocks a submission.
    assert not any(p.code == "image_small" for _l, c, p in message_channel_problems(message) if c.kind == "bluesky")


def test_a_demo_outbox_counts_like_the_network_it_stands_for(author, db):
    ChannelFactory(kind="outbox", language="fr", covers_all=True, name="Démo X", config={"counts_like": "x"})
    ChannelFactory(
        kind="outbox", language="nl", covers_all=True, name="Demo Mastodon", config={"counts_like": "mastodon"}
    )
    message = make_message(author=author, variants={"fr": "Voir example.com maintenant " * 12, "nl": "Lang. " * 100})

    cards = {card.language: card for card in previews.message_preview_cards(message)}

    assert (cards["fr"].measured.rule, cards["nl"].measured.rule) == ("x", "mastodon")
    assert cards["fr"].over
    assert cards["nl"].over
    assert {p.code for _l, _c, p in message_channel_problems(message)} == {"text_too_long"}


def test_draft_cards_follow_the_typed_text_and_audience(author, networks, django_assert_num_queries):
    variants = {"fr": previews.DraftVariant("Voir example.com maintenant"), "nl": previews.DraftVariant("")}
    with django_assert_num_queries(2):  # municipalities, channels (all cover everywhere)
        cards = previews.draft_preview_cards(
            variants=variants, audience=previews.DraftAudience(municipalities=("21004",))
        )

    by_kind = cards_by_kind(cards)
    assert by_kind["x"].measured.count == 39
    # The Dutch text is expected (Brussels) but not written yet: its cards say so.
    assert by_kind["bluesky"].measured is None
    assert by_kind["bluesky"].notes == ("text not written yet",)


def test_email_webhook_and_cap_cards_summarise_what_they_send(author, db):
    ChannelFactory(kind="email", language="fr", covers_all=True, name="Presse", config={"recipients": ["a@b.be"]})
    ChannelFactory(kind="webhook", language="fr", covers_all=True, name="Dispatch", config={"url": "https://h.be/x"})
    ChannelFactory(kind="cap", language="nl", covers_all=True, name="CAP")
    message = make_message(author=author, variants={"fr": "Alerte inondation\nÉvitez la zone.", "nl": "x" * 200})

    cards = cards_by_kind(previews.message_preview_cards(message))

    assert cards["email"].summary == (("Subject", "Alerte inondation"),)
    assert cards["webhook"].summary == (("Event", "message.published"), ("Images", "0"))
    assert cards["cap"].summary == (("Headline", "x" * 159 + "…"), ("Web", "—"))
    for card in cards.values():
        assert card.measured.limit is None
        assert card.notes == ("Sent in full: this channel has no text limit.",)


def test_a_corrections_cards_show_the_reply_where_the_network_cannot_edit(author, networks):
    original = make_message(author=author, variants={"fr": "Route fermée", "nl": "Weg afgesloten"})
    correction = make_message(author=author, variants={"fr": "Route rouverte", "nl": "Weg weer open"})
    correction.follows, correction.is_correction = original, True
    correction.save(update_fields=["follows", "is_correction"])

    cards = cards_by_kind(previews.message_preview_cards(correction))

    # Mastodon and Telegram edit the post in place: the text as written.
    assert cards["mastodon"].measured.text == "Route rouverte"
    assert cards["telegram"].measured.text == "Weg weer open"
    # Bluesky and X cannot: a reply on the thread, counted with its "Correction:" prefix.
    assert cards["bluesky"].measured.text.endswith("Weg weer open")
    assert cards["bluesky"].measured.text != "Weg weer open"
    assert cards["x"].measured.count > len("Route rouverte")
    # The same post as the check before approval judges.
    draft = previews.draft_preview_cards(
        variants={"fr": previews.DraftVariant("Route rouverte"), "nl": previews.DraftVariant("Weg weer open")},
        audience=previews.DraftAudience(everywhere=True),
        follows=True,
        correction=True,
    )
    assert cards_by_kind(draft)["bluesky"].measured.text == cards["bluesky"].measured.text
