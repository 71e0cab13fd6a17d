import csv

import pytest

from publisher.territory import routing
from publisher.territory.reference_data import MUNICIPALITIES_CSV


class Row:
    def __init__(self, row: dict[str, str]) -> None:
        self.nis_code = row["nis_code"]
        self.language_region = row["language_region"]
        self.facilities = row["facilities"]


ROWS = {r["nis_code"]: Row(r) for r in csv.DictReader(MUNICIPALITIES_CSV.open(encoding="utf-8"))}


@pytest.mark.parametrize(
    ("nis", "expected"),
    [
        ("21004", ["fr", "nl"]),  # Bruxelles
        ("11002", ["nl"]),  # Antwerpen
        ("62063", ["fr"]),  # Liège
        ("63023", ["fr", "de"]),  # Eupen: German area with French facilities
        ("23102", ["fr", "nl"]),  # Wemmel: Flemish with French facilities
        ("23099", ["fr", "nl"]),  # Kraainem
        ("73109", ["fr", "nl"]),  # Voeren / Fourons
        ("57097", ["fr", "nl"]),  # Comines-Warneton: Walloon with Dutch facilities
        ("57096", ["fr", "nl"]),  # Mouscron
        ("63049", ["fr", "de"]),  # Malmedy: Walloon with German facilities
    ],
)
def test_required_languages_of_known_municipalities(nis, expected):
    assert routing.required_languages([ROWS[nis]]) == expected


def test_every_municipality_resolves_to_its_area_language_plus_facilities():
    assert len(ROWS) == 565
    official = {"nl": {"nl"}, "fr": {"fr"}, "bilingual": {"fr", "nl"}, "de": {"de"}}
    counts: dict[tuple[str, ...], int] = {}
    for row in ROWS.values():
        languages = routing.required_languages([row])
        assert set(languages) == official[row.language_region] | ({row.facilities} - {""})
        counts[tuple(languages)] = counts.get(tuple(languages), 0) + 1
    # 19 Brussels + 12 Flemish with French facilities + 4 Walloon with Dutch facilities.
    assert counts[("fr", "nl")] == 19 + 12 + 4
    assert counts[("fr", "de")] == 9 + 2  # German area (French facilities) + Malmedy, Waimes


def test_audience_union_across_regions():
    assert routing.required_languages([ROWS["11002"], ROWS["62063"]]) == ["fr", "nl"]
    assert routing.required_languages([ROWS["11002"], ROWS["11001"]]) == ["nl"]
    assert routing.required_languages([]) == []


def test_french_serves_german_when_there_is_no_german_variant():
    assert routing.variant_languages(["fr", "de"], ["fr"]) == {"fr": "fr", "de": "fr"}
    assert routing.variant_languages(["fr", "de"], ["fr", "de"]) == {"fr": "fr", "de": "de"}
    assert routing.missing_languages(["fr", "de"], ["fr"]) == []
    assert routing.missing_languages(["de"], ["nl"]) == ["de"]
    assert routing.missing_languages(["fr", "nl"], ["fr"]) == ["nl"]


class FakeChannel:
    def __init__(self, pk: int, language: str, covers_all: bool = False) -> None:
        self.pk = pk
        self.language = language
        self.covers_all = covers_all


def test_routes_send_each_variant_to_covering_channels_of_its_language_once():
    channels = [
        FakeChannel(1, "fr", covers_all=True),
        FakeChannel(2, "nl", covers_all=True),
        FakeChannel(3, "nl"),  # covers Antwerp only
        FakeChannel(4, "de", covers_all=True),
    ]
    coverage = {3: {"11002"}}
    found = routing.routes(
        required=["fr", "nl"], available=["fr", "nl"], audience_nis={"21004"}, channels=channels, coverage=coverage
    )
    assert sorted((r.channel_id, r.variant_language) for r in found) == [(1, "fr"), (2, "nl")]

    eupen = routing.routes(
        required=["fr", "de"], available=["fr"], audience_nis={"63023"}, channels=channels, coverage=coverage
    )
    # The German account gets the French text when there is no German variant.
    assert sorted((r.channel_id, r.variant_language) for r in eupen) == [(1, "fr"), (4, "fr")]
