"""Staff pages cost the same number of queries however much history the ledger holds, and the
big lists do not count a large table row by row (publisher/pagination.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from publisher.models import Delivery, DeliveryAttempt, DeliveryState, Message, MessageState, Occurrence, Variant
from publisher.pagination import EstimatedCountPaginator
from tests.factories import ChannelFactory

WHEN = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


def add_history(author, channel, count: int) -> None:
    """``count`` published messages, each with one occurrence, one sent delivery and one attempt."""
    for i in range(count):
        message = Message.objects.create(title=f"Old {i}", author=author, state=MessageState.PUBLISHED)
        Variant.objects.create(message=message, language="fr", text=f"Texte {i}")
        occurrence = Occurrence.objects.create(message=message, due_at=WHEN + timedelta(hours=i))
        delivery = Delivery.objects.create(
            occurrence=occurrence, channel=channel, language="fr", due_at=occurrence.due_at, state=DeliveryState.SENT
        )
        DeliveryAttempt.objects.create(delivery=delivery, started_at=occurrence.due_at, outcome="sent")


def queries(client, url: str) -> int:
    client.get(url)  # the session and the content types are cached after the first view
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


PAGES = {
    # session, user, second factor, count, page (+ one per page-specific read)
    "message list": (reverse("admin:publisher_message_changelist"), 5),
    "delivery list": (reverse("admin:publisher_delivery_changelist"), 6),  # + the channel filter's channels
    "attempt list": (reverse("admin:publisher_deliveryattempt_changelist"), 5),
    "occurrence list": (reverse("admin:publisher_occurrence_changelist"), 5),
    "audit list": (reverse("admin:publisher_auditevent_changelist"), 5),
    "calendar month": (reverse("admin:publisher_message_calendar") + "?view=month&date=2026-06-15", 8),
    # + the newsroom's sections: decisions, reconnections, policy alerts, awaiting approval
    # + the paid promotions block (running, awaiting approval, refused access), + my messages' figures (one query)
    "home": (reverse("admin:index"), 13),
}


@pytest.mark.django_db
@pytest.mark.parametrize("page", list(PAGES))
def test_the_query_count_does_not_grow_with_the_history(admin_client, author, page):
    url, pinned = PAGES[page]
    channel = ChannelFactory(kind="outbox", language="fr", covers_all=True)
    add_history(author, channel, 2)
    few = queries(admin_client, url)
    add_history(author, channel, 40)
    many = queries(admin_client, url)
    assert (few, many) == (pinned, pinned)


@pytest.mark.django_db
def test_the_message_list_filters_by_date_without_a_hierarchy(admin_client, author):
    """The date hierarchy scanned every message for its years on each view; the filter does not."""
    Message.objects.create(title="Today", author=author)
    response = admin_client.get(
        reverse("admin:publisher_message_changelist") + "?created_at__gte=2000-01-01+00%3A00%3A00%2B00%3A00"
    )
    assert response.status_code == 200
    assert b"Today" in response.content
    assert response.context["cl"].date_hierarchy is None


@pytest.mark.django_db
@pytest.mark.postgres
def test_a_big_unfiltered_table_takes_its_total_from_the_planner_estimate(author):
    if connection.vendor != "postgresql":
        pytest.skip("The estimate is PostgreSQL's pg_class.reltuples.")
    for i in range(30):
        Message.objects.create(title=f"m{i}", author=author)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE publisher_message")
    for i in range(5):  # written after ANALYZE: the estimate does not know them yet
        Message.objects.create(title=f"late {i}", author=author)

    class Small(EstimatedCountPaginator):
        estimate_from_rows = 10

    assert Small(Message.objects.all(), 100).count == 30
    # Below the threshold, or filtered, the count is exact.
    assert EstimatedCountPaginator(Message.objects.all(), 100).count == 35
    assert Small(Message.objects.filter(title__startswith="late"), 100).count == 5


@pytest.mark.django_db
def test_other_databases_count_exactly(author):
    if connection.vendor == "postgresql":
        pytest.skip("SQLite has no planner estimate: the count is exact.")
    for i in range(3):
        Message.objects.create(title=f"m{i}", author=author)

    class Small(EstimatedCountPaginator):
        estimate_from_rows = 1

    assert Small(Message.objects.all(), 100).count == 3
