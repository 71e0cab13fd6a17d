"""The detector on its own: every corpus text accepted in its slot and refused in every other."""

from __future__ import annotations

import threading
import unicodedata

import pytest
from django.utils import translation

from publisher.language import detection
from publisher.language.detection import clean, language_findings
from tests.publisher.language.corpus import DE, EN, FR, NL

CORPUS = {"fr": FR, "nl": NL, "de": DE}
SLOTS = ("fr", "nl", "de")


def errors(language: str, text: str) -> list[str]:
    return [f.code for f in language_findings(language=language, text=text) if f.severity == "error"]


def test_the_corpus_is_what_the_issue_asks_for():
    for texts in (FR, NL, DE):
        assert len(texts) >= 60
        assert len(set(texts)) == len(texts)
        assert all(40 <= len(t) <= 280 for t in texts), [t for t in texts if not 40 <= len(t) <= 280]
    every = FR + NL + DE
    assert sum("http" in t for t in every) >= 15
    assert sum("#" in t for t in every) >= 15


@pytest.mark.parametrize("language", SLOTS)
def test_no_correct_text_is_blocked(language):
    blocked = [t for t in CORPUS[language] if errors(language, t)]
    assert blocked == []


@pytest.mark.parametrize(
    ("source", "slot"), [(s, o) for s in SLOTS for o in SLOTS if s != o] + [("en", o) for o in SLOTS]
)
def test_no_text_in_the_wrong_slot_is_accepted(source, slot):
    texts = EN if source == "en" else CORPUS[source]
    accepted = [t for t in texts if errors(slot, t) != ["wrong_language"]]
    assert accepted == []


def test_the_message_names_both_languages_and_the_confidence_in_the_active_language():
    text = NL[0]
    (finding,) = language_findings(language="fr", text=text)
    assert finding.code == "wrong_language"
    assert finding.severity == "error"
    assert finding.language == "fr"
    assert (finding.start, finding.end) == (-1, -1)
    assert finding.message.startswith("The French text looks Dutch (confidence 0.9")
    with translation.override("fr"):
        (finding,) = language_findings(language="fr", text=text)
    assert finding.message.startswith("Le texte en français semble être en néerlandais (certitude 0,9")
    with translation.override("nl"):
        (finding,) = language_findings(language="fr", text=text)
    assert finding.message.startswith("De tekst in het Frans lijkt Nederlands (zekerheid 0,9")


def test_a_dutch_sentence_inside_french_text_is_a_warning_naming_it():
    sentence = "Wees voorzichtig met onbekende bellers die om je bankgegevens vragen."
    text = f"Attention aux arnaques par téléphone ce week-end à Namur. {sentence} Merci de partager."
    findings = language_findings(language="fr", text=text)
    assert [(f.code, f.severity) for f in findings] == [("mixed_language", "warning")]
    (finding,) = findings
    assert finding.excerpt == sentence
    assert text[finding.start : finding.end] == sentence
    assert "looks Dutch" in finding.message
    assert sentence in finding.message


def test_a_german_sentence_inside_dutch_text_is_named_too():
    sentence = "Bitte fahren Sie vorsichtig und halten Sie Abstand zum Vordermann."
    text = f"Vanochtend is het erg glad op de wegen rond Hasselt. {sentence}"
    (finding,) = language_findings(language="nl", text=text)
    assert (finding.code, finding.severity, finding.excerpt) == ("mixed_language", "warning", sentence)


def test_a_bilingual_text_of_two_halves_is_at_least_flagged():
    text = FR[3] + "\n" + NL[3]
    findings = language_findings(language="fr", text=text)
    assert findings
    assert {f.code for f in findings} <= {"wrong_language", "mixed_language"}


def test_a_short_wrong_text_is_only_a_warning():
    findings = language_findings(language="fr", text="Rij voorzichtig!")
    assert [(f.code, f.severity) for f in findings] == [("wrong_language", "warning")]
    assert "short" in findings[0].message


@pytest.mark.parametrize("text", ["Bonjour", "Hallo", "OK", "👍", "https://police.be", "#BOB", "112", "@politie"])
def test_tiny_texts_never_block(text):
    for slot in SLOTS:
        assert errors(slot, text) == []


def test_empty_and_unknown_languages_give_nothing():
    assert language_findings(language="fr", text="   ") == []
    assert language_findings(language="it", text=NL[0]) == []


def test_urls_mentions_hashtags_numbers_and_emoji_are_removed_keeping_offsets():
    text = "Voir https://www.politie.be/nl/nieuws et @PolitieGent #verkeer 0800 30 300 🚸 ici"
    cleaned = clean(text)
    assert len(cleaned) == len(text)
    assert cleaned.split() == ["Voir", "et", "ici"]


def test_place_names_are_removed_when_written_as_names():
    cleaned = clean("Politiezone Bruxelles Ixelles en Sint-Genesius-Rode: vorst en Vorst.")
    assert cleaned.split() == ["Politiezone", "en", ":", "vorst", "en", "."]


def test_french_place_names_do_not_make_a_dutch_text_french():
    text = "Ongeval in de rue de la Loi tussen Ixelles, Etterbeek en Saint-Josse-ten-Noode: vermijd de buurt."
    assert errors("nl", text) == []


def test_the_detector_is_built_once_even_under_concurrent_first_use(monkeypatch):
    monkeypatch.setattr(detection, "_detector", None)
    seen = []

    def check() -> None:
        seen.append(detection.detector())

    threads = [threading.Thread(target=check) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8
    assert len({id(d) for d in seen}) == 1


def test_emoji_sequences_go_but_decomposed_accents_stay():
    text = "Alerte 👨‍👩‍👧 ⚠️ 👍🏽 : prudence, café"
    decomposed = unicodedata.normalize("NFD", text)
    assert clean(text).split() == ["Alerte", ":", "prudence,", "café"]
    assert clean(decomposed).split() == unicodedata.normalize("NFD", "Alerte : prudence, café").split()
    assert errors("fr", unicodedata.normalize("NFD", FR[12])) == []
