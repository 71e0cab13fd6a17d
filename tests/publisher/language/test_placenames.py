"""Place names in the reader's language, on the real 565 municipalities (loaded for every test
database, see tests/conftest.py)."""

import pytest
from django.utils import translation

from publisher.language import placenames
from publisher.language.placenames import place_name_findings

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_tables():
    placenames.cache_clear()
    yield
    placenames.cache_clear()


def found(language, text):
    """(excerpt, replacement) pairs, checking each offset points at its excerpt."""
    findings = place_name_findings(language=language, text=text)
    for f in findings:
        assert text[f.start : f.end] == f.excerpt
        assert (f.code, f.severity, f.language) == ("place_name", "warning", language)
    return [(f.excerpt, f.replacement) for f in findings]


def test_french_names_in_a_dutch_text_get_the_dutch_names():
    text = "Fietsdiefstallen in Ixelles, Anvers en Mons: wees waakzaam."
    assert found("nl", text) == [("Ixelles", "Elsene"), ("Anvers", "Antwerpen"), ("Mons", "Bergen")]


def test_dutch_names_in_a_french_text_get_the_french_names():
    text = "Vols de vélos à Elsene, Luik et Bergen : soyez vigilants."
    assert found("fr", text) == [("Elsene", "Ixelles"), ("Luik", "Liège"), ("Bergen", "Mons")]


def test_the_message_says_the_name_in_the_readers_language():
    [finding] = place_name_findings(language="nl", text="Ongeval in Ixelles.")
    assert finding.message == "In Dutch: Elsene."
    assert (finding.start, finding.end) == (11, 18)
    with translation.override("fr"):
        [finding] = place_name_findings(language="nl", text="Ongeval in Ixelles.")
    assert finding.message == "En néerlandais : Elsene."


def test_a_name_valid_in_the_readers_language_is_never_flagged():
    # Bergen is Mons in Dutch (and a Dutch word), Limburg a Dutch province, Luik Liège.
    assert found("nl", "Bergen, Luik, Limburg en Elsene") == []
    assert found("fr", "Mons, Liège, Limbourg et Ixelles") == []


def test_names_identical_in_both_languages_are_never_flagged():
    text = "Eupen, Anderlecht, La Louvière, Charleroi, Namur-Sud, Etterbeek"
    assert found("fr", text) == []
    assert found("nl", "Eupen, Anderlecht, La Louvière, Charleroi, Etterbeek") == []


def test_whole_words_only():
    assert found("nl", "Monsieur Hallo zei: Ixellesstraat, Anversois, Monsa") == []
    assert found("fr", "Luiken, Bergenstraat, Elsenestraat") == []


@pytest.mark.parametrize("written", ["liege", "LIÈGE", "Liége", "LIEGE", "lIèGe"])
def test_accents_and_case_do_not_matter(written):
    assert found("nl", f"Zware regen in {written} vanavond.") == [(written, "Luik")]


def test_a_decomposed_accent_belongs_to_the_name():
    text = "Zware regen in Lie\u0300ge vanavond."
    [finding] = place_name_findings(language="nl", text=text)
    assert text[finding.start : finding.end] == "Lie\u0300ge"


def test_offsets_point_into_the_original_text_after_accents_and_ligatures():
    text = "Één ﬁets gestolen in Ixelles, één in Anvers."
    findings = place_name_findings(language="nl", text=text)
    assert [text[f.start : f.end] for f in findings] == ["Ixelles", "Anvers"]


def test_hyphenated_and_multi_word_names():
    assert found("nl", "Omleiding via Rhode-Saint-Genèse en Braine-l’Alleud") == [
        ("Rhode-Saint-Genèse", "Sint-Genesius-Rode"),
        ("Braine-l’Alleud", "Eigenbrakel"),
    ]
    assert found("fr", "Déviation par Sint-Genesius-Rode, Sint Joost ten Node et ’s Gravenbrakel") == [
        ("Sint-Genesius-Rode", "Rhode-Saint-Genèse"),
        ("Sint Joost ten Node", "Saint-Josse-ten-Noode"),
        ("’s Gravenbrakel", "Braine-le-Comte"),
    ]


def test_the_longest_name_wins():
    # The province, not the region "Flandre" followed by a word.
    assert found("nl", "Onweer in Flandre orientale en in Flandre") == [
        ("Flandre orientale", "Oost-Vlaanderen"),
        ("Flandre", "Vlaanderen"),
    ]


def test_a_hyphenated_compound_is_split_at_the_hyphen():
    assert found("fr", "L’arrondissement de Halle-Vilvoorde") == [("Halle", "Hal"), ("Vilvoorde", "Vilvorde")]
    assert found("nl", "Arrondissement Halle-Vilvoorde") == []


def test_names_that_are_everyday_words_only_as_proper_nouns():
    assert found("fr", "Il faut lier les deux. La halle est fermée. Lier est une ville.") == []
    assert found("fr", "Accident à Lier et sous la halle de Halle.") == [("Lier", "Lierre"), ("Halle", "Hal")]
    assert found("nl", "Wacht in de hal. Hal is dicht.") == []
    assert found("nl", "Brand in Hal vannacht.") == [("Hal", "Halle")]


def test_german_gets_the_german_names_where_the_data_has_them():
    text = "Sperrung zwischen Saint-Vith, Bullange und La Calamine."
    assert found("de", text) == [("Saint-Vith", "Sankt Vith"), ("Bullange", "Büllingen"), ("La Calamine", "Kelmis")]
    # No German name in the data: no guess ("Lüttich" would be right, but is not in the data).
    assert found("de", "Stau bei Liège und Luik, in Eupen und Büllingen.") == []


def test_german_names_in_french_and_dutch_texts():
    assert found("fr", "Accident à Sankt Vith et à Kelmis") == [("Sankt Vith", "Saint-Vith"), ("Kelmis", "La Calamine")]
    assert found("nl", "Ongeval in Waimes") == [("Waimes", "Weismes")]


def test_urls_addresses_and_mentions_are_left_alone():
    text = "Info: https://www.liege.be/anvers, liege.be, info@ixelles.be, @Ixelles; #Ixelles"
    assert found("nl", text) == [("Ixelles", "Elsene")]  # the hashtag only


def test_provinces_and_regions():
    # "Wallonie" differs from "Wallonië" by an accent only: the same name.
    assert found("nl", "Wateroverlast in Hainaut en Brabant wallon, Wallonie, Flandern") == [
        ("Hainaut", "Henegouwen"),
        ("Brabant wallon", "Waals-Brabant"),
        ("Flandern", "Vlaanderen"),
    ]


def test_other_languages_and_empty_texts_give_nothing():
    assert place_name_findings(language="en", text="Ixelles") == []
    assert place_name_findings(language="nl", text="   ") == []


def test_tables_are_built_once_per_process(django_assert_num_queries):
    place_name_findings(language="nl", text="Ixelles")
    with django_assert_num_queries(0):
        assert found("nl", "Ixelles en Anvers") == [("Ixelles", "Elsene"), ("Anvers", "Antwerpen")]


def test_changed_reference_data_is_read_after_the_cache_expires(monkeypatch):
    from publisher.models import Municipality

    assert found("nl", "Ongeval in Ixelles") == [("Ixelles", "Elsene")]
    Municipality.objects.filter(nis_code="21009").update(name_nl="Elsene-Nieuw")
    assert found("nl", "Ongeval in Ixelles") == [("Ixelles", "Elsene")]  # still cached
    clock = placenames.time.monotonic() + placenames.CACHE_SECONDS + 1
    monkeypatch.setattr(placenames.time, "monotonic", lambda: clock)
    assert found("nl", "Ongeval in Ixelles") == [("Ixelles", "Elsene-Nieuw")]
