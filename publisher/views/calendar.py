"""The calendar of scheduled occurrences (week and month, Brussels time) and the
per-user iCalendar feed (RFC 5545) behind a secret URL."""

from __future__ import annotations

import calendar as pycalendar
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from publisher import scheduling
from publisher.forms import BRUSSELS
from publisher.models import Channel, Language, Message, PoliceZone
from publisher.views import queries

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    from accounts.models import User

FEED_PAST_DAYS = 30
FEED_FUTURE_DAYS = 180


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


def calendar_view(model_admin: ModelAdmin[Message], request: HttpRequest) -> HttpResponse:
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
    start, end = _window(view, anchor)
    entries = queries.calendar_entries(
        start=_local_midnight(start), end=_local_midnight(end), language=language, channel=channel, zone=zone
    )
    by_day: dict[date, list[queries.CalendarEntry]] = {}
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
    user: User = request.user  # type: ignore[assignment]
    feed_url = settings.TANDEM_PUBLIC_URL.rstrip("/") + reverse(
        "admin:publisher_message_ical", args=[user.calendar_token]
    )
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
        "filters": {"language": language, "channel": channel, "zone": zone},
        "language_choices": Language.choices,
        "channel_choices": list(Channel.objects.order_by("language", "name").values_list("pk", "name")),
        "zone_choices": list(PoliceZone.objects.order_by("code").values_list("code", "label")),
        "feed_url": feed_url,
        "entry_count": len(entries),
    }
    return TemplateResponse(request, "admin/publisher/message/calendar.html", context)


# --- iCalendar (RFC 5545) -----------------------------------------------------------------


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets are folded (RFC 5545 §3.1), never inside a UTF-8 sequence."""
    encoded = line.encode()
    if len(encoded) <= 75:
        return line
    parts: list[str] = []
    current = ""
    limit = 75
    for char in line:
        if len((current + char).encode()) > limit:
            parts.append(current)
            current = char
            limit = 74  # continuation lines start with a space
        else:
            current += char
    parts.append(current)
    return "\r\n ".join(parts)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def ical_feed(entries: list[queries.CalendarEntry], *, host: str, now: datetime) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Tandem//Publication calendar//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:" + _escape(_("Tandem publications")),
        "X-WR-TIMEZONE:Europe/Brussels",
    ]
    base = settings.TANDEM_PUBLIC_URL.rstrip("/")
    for entry in entries:
        message = entry.message
        channels = ", ".join(f"{d.language.upper()} → {d.channel.name}" for d in entry.deliveries)
        variants = "\n\n".join(f"{v.language.upper()}: {v.text}" for v in message.variants.all())
        description = f"{variants}\n\n{channels}".strip()
        lines += [
            "BEGIN:VEVENT",
            f"UID:occurrence-{entry.occurrence.pk}@{host}",
            f"DTSTAMP:{_utc(now)}",
            f"DTSTART:{_utc(entry.occurrence.due_at)}",
            "DURATION:PT15M",
            "SUMMARY:" + _escape(f"[{message.get_state_display()}] {message.title}"),
            "DESCRIPTION:" + _escape(description),
            "URL:" + base + reverse("admin:publisher_message_change", args=[message.pk]),
            "STATUS:CONFIRMED",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def ical_view(model_admin: ModelAdmin[Message], request: HttpRequest, token: str) -> HttpResponse:
    """No session here: calendar clients cannot log in; the unguessable token is the credential."""
    user = queries.user_by_calendar_token(token)
    if user is None:
        raise Http404
    now = timezone.now()
    entries = queries.calendar_entries(
        start=now - timedelta(days=FEED_PAST_DAYS), end=now + timedelta(days=FEED_FUTURE_DAYS)
    )
    host = (settings.TANDEM_PUBLIC_URL.split("//", 1)[-1].split("/", 1)[0] or "tandem").split(":")[0]
    response = HttpResponse(ical_feed(entries, host=host, now=now), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="tandem.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
