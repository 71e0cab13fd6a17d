"""The calendar says each entry's state and urgency in words (not colour alone), shows
cancelled and retracted messages as such, and filters by state."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from publisher.models import MessageState
from tests.publisher.newsroom_support import message_with_deliveries

DAY = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
WEEK = {"date": "2026-12-02"}


@pytest.fixture
def week(author, channels):
    get_user_model().objects.filter(pk=author.pk).update(preferred_language="en")
    fr = channels["bxl_fr"]
    rows = {}
    for title, state, urgency in [
        ("Live alert", MessageState.PUBLISHED, "urgent"),
        ("Withdrawn", MessageState.RETRACTED, "routine"),
        ("Called off", MessageState.CANCELLED, "important"),
        ("Refused", MessageState.REJECTED, "routine"),
        ("Coming", MessageState.SCHEDULED, "routine"),
    ]:
        rows[title], _ = message_with_deliveries(
            author=author, title=title, due_at=DAY, routes=[(fr, "sent")], state=state, urgency=urgency
        )
    return rows


def entries(response):
    return {e.message.title: e for w in response.context["weeks"] for c in w for e in c["entries"]}


def entry_html(html, title):
    end = html.index(title)
    return html[html.rindex('<a class="calendar-entry', 0, end) : html.index("</a>", end)]


def test_every_entry_carries_its_state_and_urgency_in_words(author_client, week):
    response = author_client.get(reverse("admin:publisher_message_calendar"), WEEK)
    assert set(entries(response)) == {"Live alert", "Withdrawn", "Called off", "Coming"}  # not the refused one
    html = response.content.decode()
    live = entry_html(html, "Live alert")
    assert 'data-state="published">Published</span>' in live
    assert 'data-urgency="urgent">Urgent</span>' in live
    withdrawn = entry_html(html, "Withdrawn")
    assert "state-retracted" in withdrawn
    assert ">Retracted</span>" in withdrawn
    assert "urgency-badge" not in withdrawn  # routine says nothing
    called_off = entry_html(html, "Called off")
    assert ">Cancelled</span>" in called_off
    assert ">Important</span>" in called_off


@pytest.mark.parametrize(
    ("state", "expected"),
    [("retracted", {"Withdrawn"}), ("rejected", {"Refused"}), ("scheduled", {"Coming"}), ("bogus", None)],
)
def test_the_calendar_filters_by_state(author_client, week, state, expected):
    response = author_client.get(reverse("admin:publisher_message_calendar"), {**WEEK, "state": state})
    assert response.status_code == 200
    kept = state if expected is not None else ""  # an unknown state is ignored: the default view
    assert set(entries(response)) == (expected or {"Live alert", "Withdrawn", "Called off", "Coming"})
    assert f'&amp;state={kept}"' in response.content.decode()  # the week links keep the filter


def test_the_state_filter_is_translated(client, roles, week):
    from tests.factories import UserFactory

    for language, label in (("fr", "Retiré"), ("nl", "Ingetrokken")):
        user = UserFactory(username=f"cal-{language}", roles=["author"], preferred_language=language)
        client.force_login(user)
        html = client.get(reverse("admin:publisher_message_calendar"), WEEK).content.decode()
        assert f">{label}</span>" in entry_html(html, "Withdrawn"), language


def test_the_ical_feed_still_leaves_out_cancelled_and_retracted(week):
    from publisher.workflow import selectors

    shown = selectors.calendar_entries(start=datetime(2026, 12, 1, tzinfo=UTC), end=datetime(2026, 12, 3, tzinfo=UTC))
    assert {e.message.title for e in shown} == {"Live alert", "Withdrawn", "Coming"}
