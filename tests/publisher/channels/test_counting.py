"""Length rules per network on French and Dutch text: accents, emoji, URLs, combining marks."""

import unicodedata

import pytest

from publisher.channels import counting
from tests.fakes import textrules

FRENCH = "Été à Liège : la fête de l'Île, 🎉 rendez-vous place Saint-Lambert !"
DUTCH = "Café-terras in Ieper: één fiets per persoon 🚲 — zie https://ieper.be/fiets."
COMBINING = "Cafe\u0301 Noe\u0308l"  # é and ë as e + combining mark
FAMILY = "👨‍👩‍👧‍👦"  # one grapheme of 7 code points
FLAG = "🇧🇪"


def test_graphemes_count_user_perceived_characters():
    assert counting.graphemes(COMBINING) == len("Café Noël")
    assert counting.graphemes(FAMILY) == 1
    assert counting.graphemes(FLAG) == 1
    assert counting.graphemes(FRENCH) == len(FRENCH)  # precomposed accents, single-code-point emoji


def test_urls_exclude_trailing_punctuation():
    (span,) = counting.urls(DUTCH)
    assert span.url == "https://ieper.be/fiets"
    (span,) = counting.urls("(voir https://fr.wikipedia.org/wiki/Liège_(ville))")
    assert span.url == "https://fr.wikipedia.org/wiki/Liège_(ville)"


@pytest.mark.parametrize("text", [FRENCH, DUTCH, COMBINING, FAMILY + FLAG, "x" * 10 + " https://a.be/" + "y" * 90])
def test_mastodon_matches_the_fake_server(text):
    assert counting.mastodon_length(text) == textrules.mastodon(text)


def test_mastodon_counts_urls_as_23_and_remote_mentions_without_domain():
    assert counting.mastodon_length("https://www.belgium.be/fr/a/very/long/path?with=query") == 23
    assert counting.mastodon_length("@police@mastodon.social") == len("@police")
    assert counting.mastodon_length("voir https://ieper.be.") == 5 + 23 + 1


def test_bluesky_counts_graphemes_and_bytes():
    assert counting.bluesky_length(COMBINING) == (9, len(COMBINING.encode()))
    assert counting.bluesky_length(FAMILY) == (1, 25)
    # URLs count in full on Bluesky.
    assert counting.bluesky_length("https://ieper.be/fiets")[0] == 22


def test_telegram_counts_utf16_units():
    assert counting.utf16_units("é") == 1
    assert counting.utf16_units("🚲") == 2
    assert counting.utf16_units(FAMILY) == 11


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        ("Bonjour à tous", 14),
        (COMBINING, 9),  # NFC first: é and ë become one code point each
        ("🚲", 2),
        (FAMILY, 2),  # an emoji sequence weighs as one emoji
        (FLAG, 2),
        ("Voir https://www.police.be/fr/tres/longue/adresse", 5 + 23),
        ("« guillemets » – tiret…", 24),  # U+2013 is in a light range, U+2026 (…) is not
        ("東京", 4),
        # twitter-text links a domain without a scheme too: 5 + 23 + 11. The hand-written
        # weighting this replaced said 27.
        ("Voir example.com maintenant", 39),
    ],
)
def test_x_weighted_length(text, weight):
    assert counting.x_weighted_length(text) == weight
    assert textrules.twitter_weighted(text) == weight


def test_x_limit_with_french_and_dutch_text():
    text = ("Été " * 70).strip()  # 279 code points, all weight 1
    assert counting.x_weighted_length(text) == 279
    assert counting.x_weighted_length(unicodedata.normalize("NFD", text)) == 279


def test_compose_appends_the_link_once():
    assert counting.compose("Texte", "https://a.be") == "Texte\n\nhttps://a.be"
    assert counting.compose("Voir https://a.be", "https://a.be") == "Voir https://a.be"


def test_x_cut_is_where_the_280_weighted_characters_end():
    assert counting.x_cut("a" * 280) is None
    assert counting.x_cut("a" * 300) == 280
    # Emoji weigh 2 and are astral (two UTF-16 units): the cut is in code points all the same.
    assert counting.x_cut("🚲" * 141) == 140


def test_x_urls_include_domains_without_a_scheme():
    assert [(s.start, s.end, s.url) for s in counting.x_urls("Voir example.com maintenant")] == [(5, 16, "example.com")]


def test_cut_at_keeps_whole_graphemes_and_counts_with_the_networks_rule():
    text = "Voir https://www.police.be/fr/une/adresse/tres/longue " + "é" * 10
    assert counting.cut_at(text, counting.mastodon_length, 500) is None
    cut = counting.cut_at(text, counting.mastodon_length, 30)
    assert counting.mastodon_length(text[:cut]) <= 30 < counting.mastodon_length(text[: cut + 1])
    assert counting.cut_at(FAMILY + "a", counting.graphemes, 1) == len(FAMILY)


def test_links_are_shown_without_scheme_and_cut():
    assert counting.link_shown("https://www.police.be/fr/actualites/2026", keep=12) == "police.be/fr…"
    assert counting.link_shown("https://police.be", keep=30) == "police.be"
