"""Validation of the API's schedule fields, in one place.

At merge this is where scheduling.validate_schedule (recurrence and DST rules of the dispatch
engine) takes over; until then it checks what the API contract promises: times carry an
offset, do not fall in Brussels' spring-forward gap, are not in the past (unless urgent),
and a recurrence is a valid RFC 5545 RRULE with at least one future occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil import rrule
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from publisher.errors import ValidationError

BRUSSELS = ZoneInfo("Europe/Brussels")
# A request takes a moment to arrive: "now" sent by a client is not "in the past".
PAST_TOLERANCE = timedelta(minutes=1)


@dataclass(frozen=True)
class Schedule:
    publish_at: datetime | None = None
    recurrence: str = ""
    recurrence_start: datetime | None = None


def _in_gap(wall: datetime) -> bool:
    """True when this Brussels wall-clock time does not exist (clocks jump forward over it)."""
    local = wall.replace(tzinfo=BRUSSELS)
    roundtrip = local.astimezone(ZoneInfo("UTC")).astimezone(BRUSSELS)
    return roundtrip.replace(tzinfo=None) != wall


def parse_aware(value: str, field: str) -> datetime:
    """An ISO 8601 time with an offset; refused when naive or when its wall time is in the DST gap."""
    parsed = parse_datetime(value.strip()) if isinstance(value, str) else None
    if parsed is None:
        raise ValidationError({field: _("Give a date and time in ISO 8601, e.g. 2027-03-01T09:00:00+01:00.")})
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValidationError(
            {
                field: _(
                    "“%(value)s” has no UTC offset: add one (e.g. +01:00 in winter, +02:00 in summer in Brussels)."
                )
                % {"value": value}
            }
        )
    # A UTC time ("Z", +00:00) names an instant, not a Brussels wall time: no gap to fall in.
    offset = parsed.utcoffset()
    if offset and _in_gap(parsed.replace(tzinfo=None)):
        raise ValidationError(
            {
                field: _(
                    "%(time)s does not exist in Brussels on %(date)s: the clocks jump from 02:00 to 03:00. "
                    "Choose another time."
                )
                % {"time": parsed.strftime("%H:%M"), "date": date_format(parsed.date(), "DATE_FORMAT")}
            }
        )
    return parsed


def schedule_fields(
    *,
    publish_at: str | None,
    recurrence: dict[str, str] | None,
    urgent: bool = False,
    now: datetime | None = None,
) -> Schedule:
    """The message's schedule from the request fields; a ValidationError names the field at fault."""
    now = now or timezone.now()
    if publish_at and recurrence:
        raise ValidationError({"recurrence": _("Give either publish_at or a recurrence, not both.")})
    if publish_at:
        when = parse_aware(publish_at, "publish_at")
        if when < now - PAST_TOLERANCE and not urgent:
            raise ValidationError({"publish_at": _("This time is in the past.")})
        return Schedule(publish_at=when)
    if recurrence:
        rule_text = (recurrence.get("rrule") or "").strip()
        dtstart_text = recurrence.get("dtstart") or ""
        if not rule_text:
            raise ValidationError({"recurrence.rrule": _("Give the recurrence rule (RRULE).")})
        if not dtstart_text:
            raise ValidationError({"recurrence.dtstart": _("Give the first occurrence (dtstart).")})
        dtstart = parse_aware(dtstart_text, "recurrence.dtstart")
        if dtstart < now - PAST_TOLERANCE:
            raise ValidationError({"recurrence.dtstart": _("This time is in the past.")})
        compact = rule_text.upper().replace(" ", "")
        if "FREQ=SECONDLY" in compact or "FREQ=MINUTELY" in compact:
            raise ValidationError({"recurrence.rrule": _("A recurrence repeats at most every hour.")})
        # Evaluated on Brussels wall time, so "every Monday 09:00" stays 09:00 across DST.
        local_start = dtstart.astimezone(BRUSSELS).replace(tzinfo=None)
        try:
            rule = rrule.rrulestr(rule_text.removeprefix("RRULE:"), dtstart=local_start, forceset=True)
            next_local = rule.after(local_start, inc=True)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValidationError(
                {"recurrence.rrule": _("This is not a valid RRULE (RFC 5545): %(error)s") % {"error": exc}}
            ) from exc
        if next_local is None:
            raise ValidationError({"recurrence.rrule": _("This recurrence has no occurrence in the future.")})
        return Schedule(recurrence=rule_text, recurrence_start=dtstart)
    return Schedule()
