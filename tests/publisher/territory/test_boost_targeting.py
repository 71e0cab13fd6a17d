"""The audiences of a promotion, checked against the reference data's postal codes."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from publisher.models import Municipality
from publisher.territory.boost_targeting import language_audiences, zip_key
from publisher.territory.reference_data import MUNICIPALITIES_CSV

pytestmark = pytest.mark.django_db

BOTH = ["fr", "nl"]


def reference_postal_codes(nis_codes=None):
    with MUNICIPALITIES_CSV.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        code
        for row in rows
        if nis_codes is None or row["nis_code"] in nis_codes
        for code in row["postal_codes"].split("|")
        if code
    }


def rows(**filters):
    return list(Municipality.objects.filter(**filters))


def test_one_brussels_municipality_both_languages_with_language_targeting():
    audiences = language_audiences(rows(nis_code="21009"), BOTH)  # Ixelles / Elsene
    assert set(audiences) == {"fr", "nl"}
    for language, locales in (("fr", [1003]), ("nl", [14, 83])):
        audience = audiences[language]
        assert set(audience.postal_codes) == reference_postal_codes({"21009"}) == {"1050"}
        (targeting,) = audience.targetings()
        assert targeting["locales"] == locales
        assert targeting["geo_locations"]["zips"] == [{"key": "BE:1050"}]


def test_a_flemish_zone_is_dutch_only_without_language_targeting():
    zone = Municipality.objects.get(nis_code="44021").police_zone_id  # Gent
    members = rows(police_zone_id=zone)
    audiences = language_audiences(members, BOTH)
    assert set(audiences) == {"nl"}
    assert set(audiences["nl"].postal_codes) == reference_postal_codes({m.nis_code for m in members})
    (targeting,) = audiences["nl"].targetings(age_min=18)
    assert "locales" not in targeting
    assert targeting["age_min"] == 18


def test_a_walloon_province_is_french_only():
    namur = rows(province__name_fr="Namur")
    audiences = language_audiences(namur, BOTH)
    assert set(audiences) == {"fr"}
    assert set(audiences["fr"].postal_codes) == reference_postal_codes({m.nis_code for m in namur})
    assert "5000" in audiences["fr"].postal_codes
    assert not audiences["fr"].locales


def test_fourons_voeren_gets_both_posts_each_in_its_language():
    voeren = rows(name_nl="Voeren")
    audiences = language_audiences(voeren, BOTH)
    assert set(audiences) == {"fr", "nl"}
    expected = reference_postal_codes({voeren[0].nis_code})
    assert set(audiences["fr"].postal_codes) == set(audiences["nl"].postal_codes) == expected
    assert audiences["fr"].locales == (1003,)
    assert audiences["nl"].locales == (14, 83)


def test_whole_country_covers_every_postal_code_of_the_reference_data():
    audiences = language_audiences(Municipality.objects.all(), BOTH)
    every = reference_postal_codes()
    assert set(audiences["fr"].postal_codes) | set(audiences["nl"].postal_codes) == every
    # Two targets per language: everyone where only this post goes, the language's readers
    # where both go (Brussels, facilities), and no postal code in both.
    for language in BOTH:
        home, shared = audiences[language].targetings()
        assert "locales" not in home
        assert shared["locales"]
        home_keys = {z["key"] for z in home["geo_locations"]["zips"]}
        shared_keys = {z["key"] for z in shared["geo_locations"]["zips"]}
        assert not home_keys & shared_keys
        assert "BE:1000" in shared_keys
    # The German-speaking area's French facilities need no second post: French serves German.
    brussels_and_facilities = {
        code
        for m in Municipality.objects.all()
        if m.language_region == "bilingual" or (m.language_region in ("fr", "nl") and m.facilities in ("fr", "nl"))
        for code in m.postal_codes.split()
    }
    shared_everywhere = set(audiences["fr"].shared_postal_codes) | set(audiences["nl"].shared_postal_codes)
    assert shared_everywhere == brussels_and_facilities
    # Brussels is in both; Flanders outside facilities only in Dutch, Wallonia only in French.
    assert "1000" in audiences["fr"].postal_codes
    assert "1000" in audiences["nl"].postal_codes
    assert "9000" not in audiences["fr"].postal_codes  # Gent
    assert "5000" not in audiences["nl"].postal_codes  # Namur
    # German-speaking municipalities get the French post (no German variant).
    assert "4700" in audiences["fr"].postal_codes  # Eupen
    assert all(zip_key(code).startswith("BE:") for code in every)


def test_an_operator_corrects_the_locale_ids_without_a_release(settings):
    """TANDEM_BOOST_LOCALES replaces a language's ids; the others keep their defaults."""
    settings.TANDEM_BOOST_LOCALES = {"nl": [83]}
    audiences = language_audiences(rows(nis_code="21009"), BOTH)
    assert audiences["nl"].locales == (83,)
    assert audiences["fr"].locales == (1003,)
    (targeting,) = audiences["nl"].targetings()
    assert targeting["locales"] == [83]


@pytest.mark.parametrize("value", ['{"fr": "1003"}', '{"fr": [0, true]}', '["fr"]'])
def test_a_malformed_locales_setting_stops_the_start(value):
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "DEBUG": "1", "TANDEM_BOOST_LOCALES": value}
    run = subprocess.run(
        [sys.executable, "-c", "import config.settings"], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode != 0
    assert "TANDEM_BOOST_LOCALES must be a JSON object" in run.stderr
