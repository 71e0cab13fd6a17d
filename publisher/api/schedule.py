"""Validation of the API's schedule fields, in one place.

The API is stricter than the admin about input (every time carries its UTC offset, and a
local wall time in Brussels' spring-forward gap is refused), then applies the scheduling
engine's own rules (scheduling.validate_schedule): not in the past unless urgent, a valid
RFC 5545 RRULE with at least one future occurrence.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from publisher.delivery import scheduling
from publisher.errors import ValidationError
from publisher.models import Urgency
from publisher.workflow.services import Schedule

# A request takes a moment to arrive: "now" sent by a client is not "in the past".
PAST_TOLERANCE = timedelta(minutes=1)


def parse_aware(value: str, field: str) -> datetime:
    """An ISO 8601 time with an offset; refused when naive or when its wall time is in the DST gap."""
    try:
        parsed = parse_datetime(value.strip()) if isinstance(value, str) else None
    except ValueError:  # well formed, but an impossible UTC offset (+99:00)
        parsed = None
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
    # Before any conversion: year 1 or 9999 with an extreme offset overflows once shifted.
    scheduling.check_time_range(parsed, field=field)
    # A UTC time ("Z", +00:00) names an instant, not a Brussels wall time: no gap to fall in.
    offset = parsed.utcoffset()
    if offset and not scheduling.wall_time_exists(parsed.replace(tzinfo=None)):
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


FIELD_OF = {"publish_at": "publish_at", "recurrence": "recurrence.rrule", "recurrence_start": "recurrence.dtstart"}


def _validated(**schedule: object) -> None:
    """The scheduling engine's own rules (past times, RFC 5545, a future occurrence), with
    its errors renamed to the API's field names."""
    try:
        scheduling.validate_schedule(**schedule)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ValidationError(
            {FIELD_OF.get(field, field): errors for field, errors in exc.message_dict.items()}
        ) from exc


def schedule_fields(
    *,
    publish_at: str | None,
    recurrence: dict[str, str] | None,
    urgent: bool = False,
    now: datetime | None = None,
) -> Schedule:
    """The message's schedule from the request fields; a ValidationError names the field at fault."""
    now = now or timezone.now()
    # A request takes a moment to arrive: "now" sent by a client is not "in the past".
    tolerant_now = now - PAST_TOLERANCE
    if publish_at and recurrence:
        raise ValidationError({"recurrence": _("Give either publish_at or a recurrence, not both.")})
    if publish_at:
        when = parse_aware(publish_at, "publish_at")
        _validated(publish_at=when, urgency=Urgency.URGENT if urgent else Urgency.ROUTINE, now=tolerant_now)
        return Schedule(publish_at=when)
    if recurrence:
        rule_text = (recurrence.get("rrule") or "").strip().removeprefix("RRULE:")
        dtstart_text = recurrence.get("dtstart") or ""
        if not rule_text:
            raise ValidationError({"recurrence.rrule": _("Give the recurrence rule (RRULE).")})
        if not dtstart_text:
            raise ValidationError({"recurrence.dtstart": _("Give the first occurrence (dtstart).")})
        dtstart = parse_aware(dtstart_text, "recurrence.dtstart")
        if dtstart < tolerant_now:
            raise ValidationError({"recurrence.dtstart": _("This time is in the past.")})
        compact = rule_text.upper().replace(" ", "")
        if "FREQ=SECONDLY" in compact or "FREQ=MINUTELY" in compact:
            raise ValidationError({"recurrence.rrule": _("A recurrence repeats at most every hour.")})
        _validated(recurrence=rule_text, recurrence_start=dtstart, now=tolerant_now)
        return Schedule(recurrence=rule_text, recurrence_start=dtstart)
    return Schedule()
