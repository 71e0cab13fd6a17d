import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from publisher.models import Municipality
from publisher.territory import selectors
from tests.factories import ChannelFactory, SegmentFactory, make_message

pytestmark = pytest.mark.django_db


def test_all_565_municipalities_are_loaded_with_zones_and_provinces():
    assert Municipality.objects.count() == 565
    brussels = Municipality.objects.get(pk="21004")
    assert brussels.police_zone_id == "5339"
    assert brussels.province_id is None
    assert "1050" in brussels.postal_code_list


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Bruxelles", "21004"),
        ("brussel", "21004"),
        ("LIEGE", "62063"),
        ("Luik", "62063"),
        ("braine lalleud", "25014"),
        ("Braine-l'Alleud", "25014"),
        ("Braine-l’Alleud", "25014"),
        ("ecaussinnes", "55050"),
        ("63023", "63023"),
        ("4700", "63023"),
    ],
)
def test_search_ignores_accents_apostrophes_and_language(query, expected):
    assert expected in set(selectors.municipality_list(q=query).values_list("pk", flat=True))


def test_filters_by_zone_province_and_postal_code():
    assert set(selectors.municipality_list(zone="5339").values_list("pk", flat=True)) == {"21004", "21009"}
    liege = selectors.municipality_list(province="Liège")
    assert liege.filter(pk="62063").exists()
    assert not liege.filter(pk="21004").exists()
    assert set(selectors.municipalities_with_postal_code("1050").values_list("pk", flat=True)) == {"21004", "21009"}


def test_audience_combines_zones_provinces_segments_and_municipalities(author):
    segment = SegmentFactory(nis=["11002"])
    message = make_message(author=author, municipalities=["62063"], zones=["5339"], segments=[segment.pk])
    nis = set(selectors.audience_municipalities(message).values_list("pk", flat=True))
    assert {"62063", "21004", "11002"} <= nis
    assert selectors.message_required_languages(message) == ["fr", "nl"]


def test_audience_province_and_all(author):
    message = make_message(author=author, municipalities=[], provinces=["60000"], variants={"fr": "x", "de": "y"})
    assert selectors.message_required_languages(message) == [
        "fr",
        "nl",
        "de",
    ]  # Liège: incl. German area, Dutch facilities
    everyone = make_message(author=author, municipalities=[], all=True)
    assert selectors.audience_municipalities(everyone).count() == 565


def test_channels_for_routes_by_language_and_coverage_in_constant_queries(author):
    federal_fr = ChannelFactory(language="fr", covers_all=True)
    federal_nl = ChannelFactory(language="nl", covers_all=True)
    brussels_nl = ChannelFactory(language="nl", coverage=["21004"])
    ChannelFactory(language="nl", coverage=["11002"])  # Antwerp: not in the audience
    ChannelFactory(language="fr", covers_all=True, enabled=False)
    ChannelFactory(language="de", covers_all=True)  # German not required for Brussels
    message = make_message(author=author, municipalities=["21004"])
    with CaptureQueriesContext(connection) as ctx:
        found = {(r.channel.pk, r.variant_language) for r in selectors.channels_for(message)}
    assert found == {(federal_fr.pk, "fr"), (federal_nl.pk, "nl"), (brussels_nl.pk, "nl")}
    small = len(ctx.captured_queries)

    for _ in range(10):
        ChannelFactory(language="nl", coverage=["21004"])
    big_message = make_message(author=author, municipalities=["21004", "62063", "11002"], zones=["5339"])
    with CaptureQueriesContext(connection) as ctx:
        assert len(selectors.channels_for(big_message)) == 3 + 10 + 1
    assert len(ctx.captured_queries) == small
