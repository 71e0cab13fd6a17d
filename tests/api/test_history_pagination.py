"""The message list does not count a big table row by row (publisher/pagination.py): its total
may then be PostgreSQL's estimate, and `next` still leads through every row."""

import pytest
from django.db import connection

from publisher.models import Message

pytestmark = pytest.mark.django_db


def walk(client, url):
    """Every id the list gives, following `next`; and the count of the first page."""
    body = client.get(url).json()
    first_count, ids = body["count"], [m["id"] for m in body["results"]]
    while body["next"]:
        body = client.get(body["next"]).json()
        ids += [m["id"] for m in body["results"]]
    return first_count, ids


@pytest.fixture
def reader(make_client, author):
    return make_client(["read"], user=author)


def test_next_leads_through_every_row_when_the_count_is_an_estimate(reader, author, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("The estimate is PostgreSQL's pg_class.reltuples.")
    for i in range(30):
        Message.objects.create(title=f"m{i}", author=author)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE publisher_message")
    for i in range(5):  # written after ANALYZE: the estimate does not know them
        Message.objects.create(title=f"late {i}", author=author)
    monkeypatch.setattr("publisher.api.views.ESTIMATE_FROM_ROWS", 10)

    count, ids = walk(reader, "/api/v1/messages/?limit=10")

    assert count == 30  # the estimate
    assert len(ids) == len(set(ids)) == 35  # and yet every message, once


def test_the_count_is_exact_below_the_threshold_or_when_filtered(reader, author):
    for i in range(12):
        Message.objects.create(title=f"m{i}", author=author)

    count, ids = walk(reader, "/api/v1/messages/?limit=5")
    assert count == len(ids) == 12
    body = reader.get("/api/v1/messages/?state=draft&limit=5").json()
    assert body["count"] == 12
    assert reader.get("/api/v1/messages/?limit=5&offset=10").json()["next"] is None
