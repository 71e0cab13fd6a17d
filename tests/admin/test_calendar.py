from datetime import UTC, datetime

import icalendar
import pytest
import time_machine
from django.urls import reverse

from publisher import services
from publisher.checklist import checklist_all_ticked
from tests.factories import make_message


@pytest.fixture
def scheduled(author, approver, channels):
    """Two approved messages: Brussels (FR+NL, zone 5339) on Tuesday, Antwerp (NL) on Thursday."""
    with time_machine.travel("2026-11-27 10:00 +01:00", tick=False):
        brussels = make_message(author=author, municipalities=["21004"])
        services.message_update(
            message=brussels,
            actor=author,
            schedule=services.Schedule(publish_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        )
        antwerp = make_message(author=author, variants={"nl": "Hallo; Antwerpen, welkom"}, municipalities=["11002"])
        services.message_update(
            message=antwerp,
            actor=author,
            title="Antwerpen",
            schedule=services.Schedule(publish_at=datetime(2026, 12, 3, 17, 30, tzinfo=UTC)),
        )
        for message in (brussels, antwerp):
            services.message_submit(message=message, actor=author)
            services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
    return brussels, antwerp


def titles(response):
    return [entry.message.title for week in response.context["weeks"] for cell in week for entry in cell["entries"]]


def test_week_view_shows_entries_in_brussels_time_and_links(author_client, scheduled):
    url = reverse("admin:publisher_message_calendar")
    response = author_client.get(url, {"date": "2026-12-02"})
    assert titles(response) == ["Test message", "Antwerpen"]
    cells = response.context["weeks"][0]
    assert cells[1]["day"].isoformat() == "2026-12-01"  # Tuesday
    assert [e.message.pk for e in cells[1]["entries"]] == [scheduled[0].pk]
    html = response.content.decode()
    assert "09:00" in html  # 08:00 UTC is 09:00 in Brussels in winter
    assert reverse("admin:publisher_message_change", args=[scheduled[0].pk]) in html


def test_calendar_filters(author_client, scheduled, channels):
    url = reverse("admin:publisher_message_calendar")
    week = {"date": "2026-12-02"}
    assert titles(author_client.get(url, {**week, "language": "fr"})) == ["Test message"]
    assert titles(author_client.get(url, {**week, "zone": "5339"})) == ["Test message"]
    assert titles(author_client.get(url, {**week, "channel": channels["fed_nl"].pk})) == ["Test message", "Antwerpen"]
    assert titles(author_client.get(url, {**week, "channel": channels["bxl_fr"].pk})) == ["Test message"]


def test_month_view(author_client, scheduled):
    response = author_client.get(reverse("admin:publisher_message_calendar"), {"view": "month", "date": "2026-12-15"})
    assert len(response.context["weeks"]) == 5
    assert titles(response) == ["Test message", "Antwerpen"]
    previous = author_client.get(reverse("admin:publisher_message_calendar"), {"view": "month", "date": "2026-10-10"})
    assert titles(previous) == []


def test_calendar_query_count_is_fixed(author_client, scheduled, django_assert_max_num_queries):
    from publisher.views import queries

    with django_assert_max_num_queries(4):
        entries = queries.calendar_entries(
            start=datetime(2026, 11, 30, tzinfo=UTC), end=datetime(2026, 12, 7, tzinfo=UTC)
        )
        [(d.channel.name, [v.text for v in e.message.variants.all()]) for e in entries for d in e.deliveries]


def test_ical_feed_parses_and_needs_the_secret(client, author, scheduled):
    with time_machine.travel("2026-11-28 10:00 +01:00", tick=False):
        response = client.get(reverse("admin:publisher_message_ical", args=[author.calendar_token]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))
    calendar = icalendar.Calendar.from_ical(body)
    events = list(calendar.walk("VEVENT"))
    assert [str(e["SUMMARY"]).split("] ", 1)[1] for e in events] == ["Test message", "Antwerpen"]
    assert events[0].decoded("DTSTART") == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    # Commas and semicolons in the text survive escaping.
    assert "Hallo; Antwerpen, welkom" in str(events[1]["DESCRIPTION"])
    assert len({str(e["UID"]) for e in events}) == 2
    assert client.get(reverse("admin:publisher_message_ical", args=["wrong-token"])).status_code == 404
