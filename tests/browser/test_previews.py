"""Preview cards in Chromium: a message for Mastodon and X in French, Bluesky and Telegram in
Dutch, with a long text and a small logo. Each card counts by its network's rule (the server's),
marks where the text is cut, frames the image as the rendition does and warns that the logo is
too small; typing updates the cards. Screenshots in FR and NL under test-artifacts/browser/."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from publisher.workflow.attachments import attachment_add
from tests.factories import ChannelFactory, UserFactory, make_message
from tests.fakes.fixtures import make_photo

pytestmark = pytest.mark.browser

LINK = "https://www.police.be/5339/fr/actualites/prevention-cambriolages-2026"
LONG_FR = (
    "Cambriolages en hausse à Bruxelles et Ixelles : fermez portes et fenêtres, même pour une courte absence. "
    "Ne laissez pas de clés sous le paillasson ni d’objets de valeur visibles. Signalez votre départ en vacances "
    "au commissariat : une patrouille passera devant votre maison. Un comportement suspect dans votre rue ? "
    "Appelez le 101. Plus de conseils : " + LINK + " #prévention #cambriolage"
)
LONG_NL = (
    "Meer inbraken in Brussel en Elsene: sluit deuren en ramen, ook als u maar even weg bent. Leg geen sleutels "
    "onder de deurmat en laat geen waardevolle spullen zien. Meld uw vakantie aan het commissariaat: een patrouille "
    "rijdt langs uw woning. Verdacht gedrag in uw straat? Bel 101. Meer tips: https://www.politie.be/5339/nl"
)


@pytest.fixture
def scene(db, settings, tmp_path):
    from accounts.services import roles_sync

    settings.MEDIA_ROOT = tmp_path
    settings.ROOT_URLCONF = "tests.browser.media_urls"
    roles_sync()
    author = UserFactory(username="auteur", roles=["author"], preferred_language="fr")
    UserFactory(username="approbateur", roles=["approver"], preferred_language="fr")
    for kind, language, name in (
        ("mastodon", "fr", "Police Bruxelles"),
        ("x", "fr", "Police Bruxelles"),
        ("bluesky", "nl", "Politie Brussel"),
        ("telegram", "nl", "Politie Brussel"),
    ):
        ChannelFactory(kind=kind, language=language, covers_all=True, name=f"{name} ({kind})")
    message = make_message(author=author, variants={"fr": LONG_FR, "nl": LONG_NL})
    # A logo 400 px wide: every timeline shows it wider, so it would look blurry.
    attachment_add(
        message=message,
        actor=author,
        file=SimpleUploadedFile("logo.png", make_photo(400, 160, fmt="PNG")),
        alt_fr="Logo de la zone de police Bruxelles-Capitale Ixelles",
        alt_nl="Logo van de politiezone Brussel Hoofdstad Elsene",
    )
    return message


def card(page, kind):
    return page.locator(f'#preview-cards .preview-card[data-kind="{kind}"]')


def count_of(page, kind):
    return card(page, kind).locator(".card-count .count").inner_text()


@pytest.mark.parametrize(("language", "locale"), [("fr", "fr-BE"), ("nl", "nl-BE")])
def test_preview_cards_of_a_four_network_message(login, scene, language, locale):
    from accounts.models import User

    User.objects.filter(username="auteur").update(preferred_language=language)
    session = login("auteur", locale=locale)
    page = session.page
    session.goto(f"/admin/publisher/message/{scene.pk}/change/")
    page.locator('#preview-cards[data-ready="1"]').wait_for(timeout=5_000)

    assert page.locator("#preview-cards .preview-card").count() == 4
    # Each network's own rule: Mastodon and X count the link as 23, Bluesky and Telegram in full.
    fr_length = len(LONG_FR) - len(LINK) + 23
    assert count_of(page, "mastodon") == f"{fr_length}/500"
    assert count_of(page, "x") == f"{fr_length}/280"
    assert count_of(page, "bluesky") == f"{len(LONG_NL)}/300"
    assert count_of(page, "telegram") == f"{len(LONG_NL)}/4096"
    # Where each network cuts: X keeps 280, Bluesky 300; Telegram keeps all.
    kept_by_x = (
        card(page, "x")
        .locator(".card-text")
        .evaluate(
            "p => Array.from(p.children).filter(e => !e.classList.contains('over')).map(e => e.textContent).join('')"
        )
    )
    assert kept_by_x == LONG_FR[:280]
    assert card(page, "bluesky").locator(".card-text .over").count() >= 1
    assert card(page, "telegram").locator(".card-text .over").count() == 0
    # Links as the networks print them.
    assert card(page, "mastodon").locator("a.card-link").inner_text() == "police.be/5339/fr/actualites/p…"
    assert card(page, "x").locator(".card-link").first.inner_text().startswith("police.be/5339/fr/actua")
    assert card(page, "telegram").locator("a.card-link").inner_text() == "https://www.politie.be/5339/nl"
    # The image: loaded, framed as the rendition, its alt text, and the warning that it is too small.
    for kind in ("mastodon", "x", "bluesky", "telegram"):
        image = card(page, kind).locator(".rendition img")
        assert image.evaluate("img => img.complete && img.naturalWidth") == 400
        assert card(page, kind).locator('.card-problems [data-code="image_small"]').count() == 1
    assert "Logo van de politiezone" in card(page, "bluesky").locator(".alt").inner_text()
    assert "Logo de la zone" in card(page, "x").locator(".alt").inner_text()
    # The per-language counters under the texts come from the same cards.
    counters = page.locator('.counter[data-language="fr"]').inner_text()
    assert f"{fr_length}/280" in counters
    assert f"{fr_length}/500" in counters
    session.shot(f"30-previews-four-networks-{language}")

    # Typing: the server counts again and the cards follow. X links the bare domain (23) and
    # weighs € (U+20AC, outside twitter-text's light ranges) 2: 5 + 23 + 15 + 2.
    page.fill("#id_text_fr", "Voir example.com maintenant, 5 €")
    page.wait_for_function(
        "() => document.querySelector('#preview-cards .preview-card[data-kind=\"x\"] .count')"
        ".textContent.trim() === '45/280'",
        timeout=5_000,
    )
    assert count_of(page, "mastodon") == "32/500"  # no scheme, no link: 32 graphemes
    assert card(page, "x").locator(".card-text .over").count() == 0
    session.shot(f"31-previews-typed-{language}")

    # Far too long: the form refuses what the API refuses, in the same words.
    page.fill("#id_text_fr", "x" * 20_001)
    page.locator("#preview-cards .errornote").wait_for(timeout=5_000)
    page.click("input[name=_save]")
    error = page.locator('.field-error[data-for="text_fr"] li').first.inner_text()
    assert re.search(r"20\D?000", error), error


def test_the_approver_sees_the_cards(login, scene):
    session = login("approbateur", locale="fr-BE")
    page = session.page
    session.goto(f"/admin/publisher/message/{scene.pk}/change/")
    assert page.locator("#preview-cards .preview-card").count() == 4
    assert card(page, "x").locator(".card-problems [data-code=text_too_long]").count() == 1
    session.shot("32-previews-approver-fr")


def test_an_image_chosen_but_not_saved_shows_in_the_cards(login, scene, tmp_path):
    photo = tmp_path / "affiche.jpg"
    photo.write_bytes(make_photo(1600, 400))  # 4:1, wider than Instagram's 1.91:1
    ChannelFactory(kind="instagram", language="fr", covers_all=True, name="Police Bruxelles (instagram)")
    session = login("auteur", locale="fr-BE")
    page = session.page
    session.goto(f"/admin/publisher/message/{scene.pk}/change/")
    page.locator('#preview-cards[data-ready="1"]').wait_for(timeout=5_000)
    page.fill("#id_image_alt_fr", "Affiche de la campagne")
    page.set_input_files("#id_image", str(photo))
    fresh = card(page, "instagram").locator(".rendition img[data-new-image]")
    fresh.wait_for(timeout=5_000)
    page.wait_for_function(
        "() => { const i = document.querySelector('.preview-card[data-kind=\"instagram\"] img[data-new-image]');"
        " return i && i.complete && i.naturalWidth === 1600; }",
        timeout=5_000,
    )
    # Instagram pads the 4:1 poster to 1.91:1 and scales it to 1440 px: 1440 × 754.
    assert "1440×754" in card(page, "instagram").locator(".card-image").nth(1).inner_text()
    assert "Affiche de la campagne" in card(page, "instagram").locator(".card-image").nth(1).inner_text()
    session.shot("33-previews-new-image-fr")
