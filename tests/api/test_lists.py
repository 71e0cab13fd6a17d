"""Lists are paginated and cost a fixed number of queries, whatever their length."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from publisher.workflow import alerts
from publisher.workflow.services import Audience, VariantInput
from tests.factories import ChannelFactory, SegmentFactory, make_message

pytestmark = pytest.mark.django_db


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


@pytest.fixture
def reader(make_client, author, roles):
    author.groups.add(roles["channel_admin"])
    client = make_client(["read", "admin"], user=author)
    # Warm the user's permission cache and the token's last use so both runs compare like with like.
    client.get("/api/v1/municipalities/?limit=1")
    return client


def test_municipality_filters(reader):
    _, body = count_queries(reader, "/api/v1/municipalities/?q=elsene")
    assert [m["nis_code"] for m in body["results"]] == ["21009"]
    _, body = count_queries(reader, "/api/v1/municipalities/?q=1050")
    assert "21009" in [m["nis_code"] for m in body["results"]]
    _, body = count_queries(reader, "/api/v1/municipalities/?q=21004")
    assert body["results"][0]["languages"] == ["fr", "nl"]
    _, body = count_queries(reader, "/api/v1/municipalities/?language_region=bilingual&limit=100")
    assert body["count"] == 19
    _, body = count_queries(reader, "/api/v1/municipalities/?zone=5339")
    assert {m["nis_code"] for m in body["results"]} == {"21004", "21009"}
    _, body = count_queries(reader, "/api/v1/municipalities/?province=Luxembourg")
    assert body["count"] > 0
    assert body["next"] is None or "offset=" in body["next"]


def test_municipality_detail_languages(reader):
    assert reader.get("/api/v1/municipalities/21004/").json()["languages"] == ["fr", "nl"]
    assert reader.get("/api/v1/municipalities/11002/").json()["languages"] == ["nl"]
    # Eupen: German-speaking with French facilities.
    assert reader.get("/api/v1/municipalities/63023/").json()["languages"] == ["fr", "de"]


def test_municipality_list_is_paginated_and_constant(reader):
    small, body = count_queries(reader, "/api/v1/municipalities/?limit=2")
    large, body_large = count_queries(reader, "/api/v1/municipalities/?limit=200")
    assert small == large
    assert body["count"] == 565
    assert len(body_large["results"]) == 200
    assert len(count_queries(reader, "/api/v1/municipalities/?limit=100000")[1]["results"]) == 200


def test_message_list_is_constant(reader, author):
    for _ in range(2):
        make_message(author=author)
    few, _ = count_queries(reader, "/api/v1/messages/")
    for _ in range(6):
        make_message(author=author, municipalities=["21004", "21009"], zones=["5339"])
    many, body = count_queries(reader, "/api/v1/messages/")
    assert body["count"] == 8
    assert few == many
    assert many <= 12


def test_deliveries_and_channels_and_segments_are_constant(reader, api_user):
    for name in ("a", "b"):
        ChannelFactory(name=f"FR {name}", language="fr", coverage=["21004"])
        ChannelFactory(name=f"NL {name}", language="nl", coverage=["21004"])
    SegmentFactory(nis=["21004", "21009"])
    alert = alerts.alert_create(
        token_or_actor=api_user,
        audience=Audience(municipalities=["21004"]),
        variants={"fr": VariantInput("Alerte"), "nl": VariantInput("Alarm")},
        cap={"event": "Test"},
    )
    deliveries, body = count_queries(reader, f"/api/v1/messages/{alert.pk}/deliveries/")
    assert body["count"] == 4
    channels_few, _ = count_queries(reader, "/api/v1/channels/")
    segments_few, _ = count_queries(reader, "/api/v1/segments/")
    for name in ("c", "d", "e"):
        ChannelFactory(name=f"FR {name}", language="fr", coverage=["21004", "21009"])
        SegmentFactory(nis=["21004"])
    assert count_queries(reader, "/api/v1/channels/")[0] == channels_few
    assert count_queries(reader, "/api/v1/segments/")[0] == segments_few


def test_pinned_query_counts(reader, author, django_assert_num_queries):
    make_message(author=author)
    # Token, the user's two permission sets, the token's area (municipalities, zones),
    # then count, page (author joined), variants and the four audience relations.
    with django_assert_num_queries(12):
        reader.get("/api/v1/messages/")
    # Token, permissions, count, page.
    with django_assert_num_queries(5):
        reader.get("/api/v1/municipalities/?zone=5339")
