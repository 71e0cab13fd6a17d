import hashlib
import re
from datetime import UTC, datetime

import icalendar
import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.tokens import calendar_link_create
from publisher.models import AuditEvent, Message, MessageState, MessageStatus, Variant
from publisher.workflow import services
from publisher.workflow.checklist import checklist_all_ticked
from tests.factories import UserFactory, make_message


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
    from publisher.workflow import selectors as queries

    with django_assert_max_num_queries(4):
        entries = queries.calendar_entries(
            start=datetime(2026, 11, 30, tzinfo=UTC), end=datetime(2026, 12, 7, tzinfo=UTC)
        )
        [(d.channel.name, [v.text for v in e.message.variants.all()]) for e in entries for d in e.deliveries]


def feed(client, token):
    return client.get(reverse("admin:publisher_message_ical", args=[token]))


def test_ical_feed_parses_and_needs_the_secret(client, author, scheduled):
    token = calendar_link_create(user=author)
    with time_machine.travel("2026-11-28 10:00 +01:00", tick=False):
        response = feed(client, token)
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
    assert feed(client, "wrong-token").status_code == 404


@pytest.mark.parametrize("title", ["Fermeture\rrue Neuve", "Fermeture\nrue Neuve", "Fermeture\r\n\x07rue Neuve"])
def test_ical_feed_keeps_a_title_with_line_breaks_on_one_escaped_line(client, author, scheduled, title):
    Message.objects.filter(pk=scheduled[0].pk).update(title=title)
    Variant.objects.filter(message=scheduled[0], language="fr").update(text="Ligne 1\rLigne 2\x07")
    with time_machine.travel("2026-11-28 10:00 +01:00", tick=False):
        body = feed(client, calendar_link_create(user=author)).content
    # Every line ends with CRLF; no CR, LF or other control character stands alone in a value.
    assert all(not re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", line) for line in body.split(b"\r\n"))
    events = list(icalendar.Calendar.from_ical(body).walk("VEVENT"))
    assert str(events[0]["SUMMARY"]).endswith("] Fermeture rue Neuve")
    assert "FR: Ligne 1\nLigne 2" in str(events[0]["DESCRIPTION"])
    assert len(events) == 2


def test_ical_feed_leaves_out_retracted_messages_and_labels_exercises(client, author, scheduled):
    brussels, antwerp = scheduled
    Message.objects.filter(pk=brussels.pk).update(state=MessageState.RETRACTED)
    Message.objects.filter(pk=antwerp.pk).update(status=MessageStatus.EXERCISE)
    author.preferred_language = "en"
    author.save(update_fields=["preferred_language"])
    with time_machine.travel("2026-11-28 10:00 +01:00", tick=False):
        body = feed(client, calendar_link_create(user=author)).content
    events = list(icalendar.Calendar.from_ical(body).walk("VEVENT"))
    assert [str(e["SUMMARY"]) for e in events] == ["[Exercise · Scheduled] Antwerpen"]


@pytest.mark.parametrize(
    ("user_roles", "is_staff", "is_active"),
    [(["channel_admin"], True, True), ([], True, True), (["author"], False, True), (["author"], True, False)],
    ids=["channel-admin-only", "no-role", "not-staff", "inactive"],
)
def test_ical_feed_answers_only_who_may_read_the_message_list(client, scheduled, user_roles, is_staff, is_active):
    user = UserFactory(username="someone", roles=user_roles, is_staff=is_staff, is_active=is_active)
    assert feed(client, calendar_link_create(user=user)).status_code == 404


def test_ical_feed_stops_when_its_owner_loses_the_permission(client, author, scheduled):
    token = calendar_link_create(user=author)
    assert feed(client, token).status_code == 200
    author.groups.clear()
    assert feed(client, token).status_code == 404


def test_calendar_page_needs_the_message_list_permission(client, roles):
    client.force_login(UserFactory(username="channels", roles=["channel_admin"]))
    assert client.get(reverse("admin:publisher_message_calendar")).status_code == 403
    assert client.post(reverse("admin:publisher_message_calendar_link")).status_code == 403


def test_new_link_is_shown_once_stored_hashed_and_revokes_the_old_one(author_client, author, scheduled):
    page = author_client.get(reverse("admin:publisher_message_calendar"))
    assert "feed-link-form" in page.content.decode()
    assert author_client.get(reverse("admin:publisher_message_calendar_link")).status_code == 405
    old = calendar_link_create(user=author)
    response = author_client.post(reverse("admin:publisher_message_calendar_link"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    url = response.context["feed_url"]
    assert url in response.content.decode()
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    author.refresh_from_db()
    assert author.calendar_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not User.objects.filter(calendar_token_hash__in=[token, old]).exists()
    client = Client()
    assert feed(client, old).status_code == 404
    assert feed(client, token).status_code == 200
    # The link is not on the calendar page any more: shown only when created.
    assert token not in author_client.get(reverse("admin:publisher_message_calendar")).content.decode()
    assert AuditEvent.objects.filter(verb="calendar_link.created", object_type="user", actor=author).count() == 1


def test_admin_action_revokes_the_selected_users_links(admin_client, author, approver, scheduled):
    tokens = {user.pk: calendar_link_create(user=user) for user in (author, approver)}
    response = admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "revoke_calendar_links", "_selected_action": [author.pk]},
    )
    assert response.status_code == 302
    assert feed(Client(), tokens[author.pk]).status_code == 404
    assert feed(Client(), tokens[approver.pk]).status_code == 200
    assert AuditEvent.objects.filter(verb="calendar_link.revoked", object_id=str(author.pk)).exists()
