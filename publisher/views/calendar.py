"""The calendar of scheduled occurrences (week and month, Brussels time) and the
per-user iCalendar feed (RFC 5545) behind a secret link, for those who may read the
message list. The link's secret is stored hashed (accounts.tokens) and shown once."""

from __future__ import annotations

import calendar as pycalendar
import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import icalendar
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.permissions import user_may_read_messages
from accounts.tokens import calendar_link_create
from publisher.delivery import scheduling
from publisher.mail import subject_line
from publisher.models import Channel, Language, Message, MessageState, MessageStatus, PoliceZone
from publisher.views.forms import BRUSSELS
from publisher.views.messages import post_only
from publisher.workflow import selectors

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    from accounts.models import User

FEED_PAST_DAYS = 30
FEED_FUTURE_DAYS = 180
# Shown unless a state is chosen: cancelled and retracted too (marked as such), not what was
# refused or expired before it was ever approved.
CALENDAR_STATES = [s for s in MessageState.values if s not in {MessageState.EXPIRED, MessageState.REJECTED}]


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=BRUSSELS)


def _window(view: str, anchor: date) -> tuple[date, date]:
    """First shown day and the day after the last: whole weeks, Monday first."""
    if view == "month":
        first = anchor.replace(day=1)
        last = first.replace(day=pycalendar.monthrange(first.year, first.month)[1])
        start = first - timedelta(days=first.weekday())
        end = last + timedelta(days=7 - last.weekday())
        return start, end
    start = anchor - timedelta(days=anchor.weekday())
    return start, start + timedelta(days=7)


def _reader(request: HttpRequest) -> User:
    """The signed-in user, if they may read the message list (the feed's condition too)."""
    user: User = request.user  # type: ignore[assignment]
    if not user_may_read_messages(user):
        raise PermissionDenied
    return user


def calendar_view(model_admin: ModelAdmin[Message], request: HttpRequest) -> HttpResponse:
    user = _reader(request)
    view = "month" if request.GET.get("view") == "month" else "week"
    try:
        anchor = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        anchor = timezone.localdate()
    if not scheduling.EARLIEST.date() <= anchor <= scheduling.latest_time().date():
        anchor = timezone.localdate()  # nothing is scheduled there, and the week around 9999-12-31 overflows
    language = request.GET.get("language", "")
    language = language if language in Language.values else ""
    channel_param = request.GET.get("channel", "")
    channel = int(channel_param) if channel_param.isdigit() else None
    zone = request.GET.get("zone", "")
    state = request.GET.get("state", "")
    state = state if state in MessageState.values else ""
    start, end = _window(view, anchor)
    entries = selectors.calendar_entries(
        start=_local_midnight(start),
        end=_local_midnight(end),
        language=language,
        channel=channel,
        zone=zone,
        states=[state] if state else CALENDAR_STATES,
    )
    by_day: dict[date, list[selectors.CalendarEntry]] = {}
    for entry in entries:
        by_day.setdefault(timezone.localtime(entry.occurrence.due_at, BRUSSELS).date(), []).append(entry)
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    weeks = [
        [
            {"day": d, "entries": by_day.get(d, []), "other_month": view == "month" and d.month != anchor.month}
            for d in days[i : i + 7]
        ]
        for i in range(0, len(days), 7)
    ]
    step = timedelta(days=7)
    if view == "month":
        previous = (anchor.replace(day=1) - timedelta(days=1)).replace(day=1)
        following = (anchor.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        previous, following = anchor - step, anchor + step
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": Message._meta,
        "title": _("Publication calendar"),
        "view": view,
        "anchor": anchor,
        "weeks": weeks,
        "previous": previous.isoformat(),
        "following": following.isoformat(),
        "today": timezone.localdate().isoformat(),
        "filters": {"language": language, "channel": channel, "zone": zone, "state": state},
        "state_choices": MessageState.choices,
        "language_choices": Language.choices,
        "channel_choices": list(Channel.objects.order_by("language", "name").values_list("pk", "name")),
        "zone_choices": list(PoliceZone.objects.order_by("code").values_list("code", "label")),
        "has_feed_link": bool(user.calendar_token_hash),
        "entry_count": len(entries),
    }
    return TemplateResponse(request, "admin/publisher/message/calendar.html", context)


@post_only
def calendar_link_view(model_admin: ModelAdmin[Message], request: HttpRequest) -> HttpResponse:
    """A new feed link for the signed-in user, shown once; the previous link stops working."""
    user = _reader(request)
    plaintext = calendar_link_create(user=user, actor=user)
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": Message._meta,
        "title": _("Your new calendar link"),
        "feed_url": settings.TANDEM_PUBLIC_URL.rstrip("/") + reverse("admin:publisher_message_ical", args=[plaintext]),
    }
    response = TemplateResponse(request, "admin/publisher/message/calendar_link.html", context)
    # The page holds a secret: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response


# --- iCalendar (RFC 5545) -----------------------------------------------------------------

# RFC 5545 TEXT allows no control character but tab and line breaks (which icalendar escapes).
_ICAL_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _ical_text(text: str) -> str:
    return _ICAL_CONTROL.sub(" ", text)


def ical_feed(entries: list[selectors.CalendarEntry], *, host: str, now: datetime) -> bytes:
    """The feed, written by the icalendar library: escaping and line folding are its job."""
    feed = icalendar.Calendar()
    feed.add("prodid", "-//Tandem//Publication calendar//EN")
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    feed.add("x-wr-calname", _("Tandem publications"))
    feed.add("x-wr-timezone", "Europe/Brussels")
    base = settings.TANDEM_PUBLIC_URL.rstrip("/")
    for entry in entries:
        message = entry.message
        channels = ", ".join(f"{d.language.upper()} → {d.channel.name}" for d in entry.deliveries)
        variants = "\n\n".join(f"{v.language.upper()}: {v.text}" for v in message.variants.all())
        label = message.get_state_display()
        if message.status == MessageStatus.EXERCISE:
            label = f"{message.get_status_display()} · {label}"
        event = icalendar.Event()
        event.add("uid", f"occurrence-{entry.occurrence.pk}@{host}")
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", entry.occurrence.due_at.astimezone(UTC))
        event.add("duration", timedelta(minutes=15))
        # The title heads the entry: one line, whatever was stored before titles were checked.
        event.add("summary", f"[{label}] {subject_line(message.title)}")
        event.add("description", _ical_text(f"{variants}\n\n{channels}".strip()))
        event.add("url", base + reverse("admin:publisher_message_change", args=[message.pk]))
        event.add("status", "CONFIRMED")
        event.add("transp", "TRANSPARENT")
        feed.add_component(event)
    return feed.to_ical()


def ical_view(model_admin: ModelAdmin[Message], request: HttpRequest, token: str) -> HttpResponse:
    """No session here: calendar clients cannot log in; the unguessable token is the credential.

    It answers only while its owner may read the message list, and leaves out retracted
    messages: what was retracted everywhere must not live on in people's calendars."""
    user = selectors.calendar_feed_owner(token)
    if user is None:
        raise Http404
    now = timezone.now()
    entries = [
        entry
        for entry in selectors.calendar_entries(
            start=now - timedelta(days=FEED_PAST_DAYS), end=now + timedelta(days=FEED_FUTURE_DAYS)
        )
        if entry.message.state != MessageState.RETRACTED
    ]
    host = (settings.TANDEM_PUBLIC_URL.split("//", 1)[-1].split("/", 1)[0] or "tandem").split(":")[0]
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        body = ical_feed(entries, host=host, now=now)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="tandem.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
