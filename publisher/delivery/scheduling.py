"""Scheduling: when a message goes out, turned into occurrences and deliveries.

Times are entered in Europe/Brussels and stored in UTC. A recurrence is an RFC 5545
RRULE (optionally with EXDATE lines) evaluated with python-dateutil on *local wall-clock
time*, so "every Monday at 09:00" stays 09:00 in Brussels across both DST switches.

Public helpers for the admin and the API:

- ``parse_local_time(value, fold=None)``: a Brussels wall-clock time (or an aware time)
  to an aware UTC datetime; refuses times in the spring-forward gap and asks for a choice
  inside the fall-back overlap.
- ``validate_schedule(...)``: every check on a message's schedule, as one
  ``ValidationError`` keyed by field.
- ``occurrences_preview(...)``: the next N publication times.

Services: ``message_schedule`` / ``message_unschedule`` (called inside the approval and
cancel transactions) and ``recurrences_extend`` (the dispatcher keeps recurring messages
materialised a few weeks ahead).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from publisher.delivery import hooks
from publisher.models import Delivery, DeliveryState, Language, Message, MessageState, Occurrence, Urgency, Variant
from publisher.territory import selectors

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

BRUSSELS = ZoneInfo("Europe/Brussels")
# The PostgreSQL NOTIFY channel the dispatcher listens on (see publisher.delivery.dispatch).
NOTIFY_CHANNEL = "tandem_dispatch"
# Deliveries that have not started and may still be stopped by a cancel.
NOT_STARTED = [DeliveryState.PENDING, DeliveryState.RETRY_WAIT, DeliveryState.QUEUED]
CARRYING = [DeliveryState.SENT, DeliveryState.UNCONFIRMED, DeliveryState.SENDING, *NOT_STARTED]


# The range of times a schedule may name. Far enough for any real plan; near enough that a
# time shifted by any UTC offset (always under a day) or shown in Brussels stays a valid
# datetime (year 1 or 9999 would overflow), and that the search for a rule's next
# occurrence ends within a bounded number of steps.
EARLIEST = datetime(2000, 1, 1)  # noqa: DTZ001 - a wall-clock bound, compared to naive wall-clock values
MAX_AHEAD = timedelta(days=10 * 366)


def _local_str(value: datetime) -> str:
    return value.astimezone(BRUSSELS).strftime("%Y-%m-%d %H:%M")


def latest_time(now: datetime | None = None) -> datetime:
    """The last instant a schedule may name (aware UTC)."""
    return (now or timezone.now()) + MAX_AHEAD


def check_time_range(value: datetime, *, field: str | None = None, now: datetime | None = None) -> None:
    """Refuse a time outside EARLIEST .. now + MAX_AHEAD with a translated ValidationError.

    Judged on the wall-clock value, before any conversion: an out-of-range value with an
    extreme offset (0001-01-01T00:00+14:00) would overflow the moment it is converted."""
    latest = latest_time(now).astimezone(BRUSSELS).replace(tzinfo=None)
    if EARLIEST <= value.replace(tzinfo=None) <= latest:
        return
    error = ValidationError(
        _("%(value)s is out of range: choose a time between %(earliest)s and %(latest)s."),
        code="out_of_range",
        params={
            "value": value.replace(tzinfo=None).isoformat(" ", "minutes"),
            "earliest": EARLIEST.strftime("%Y-%m-%d"),
            "latest": latest.strftime("%Y-%m-%d"),
        },
    )
    raise ValidationError({field: [error]}) if field else error


def wall_time_exists(naive: datetime) -> bool:
    """False for a Brussels wall-clock time in the spring-forward gap (e.g. 2027-03-28 02:30).

    A wall-clock time that does not survive a round trip through UTC never happened."""
    local = naive.replace(tzinfo=BRUSSELS, fold=0)
    return local.astimezone(UTC).astimezone(BRUSSELS).replace(tzinfo=None) == naive


def parse_local_time(value: str | datetime, *, fold: int | None = None) -> datetime:
    """Turn a Brussels wall-clock time into an aware UTC datetime.

    ``value`` is an ISO 8601 string or a datetime. An explicit offset (``+02:00``, ``Z``)
    or an aware datetime is taken as is. A naive time is Brussels local time:

    - in the spring-forward gap (e.g. 2027-03-28 02:30) it does not exist: refused;
    - in the fall-back overlap (e.g. 2027-10-31 02:30) it happens twice: refused unless
      ``fold`` says which (0 = the first, summer time +02:00; 1 = the second, +01:00)
      or the value carries its offset.

    Raises ``django.core.exceptions.ValidationError`` with a translated message.
    """
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:  # well formed, but an impossible UTC offset (+99:00)
            parsed = None
        if parsed is None:
            raise ValidationError(
                _("“%(value)s” is not a date and time (use YYYY-MM-DD HH:MM)."), code="invalid", params={"value": value}
            )
        value = parsed
    check_time_range(value)
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC)
    naive = value.replace(tzinfo=None)
    first = naive.replace(tzinfo=BRUSSELS, fold=0)
    second = naive.replace(tzinfo=BRUSSELS, fold=1)
    if not wall_time_exists(naive):
        raise ValidationError(
            _(
                "%(time)s does not exist in Brussels: the clocks jump forward an hour that night. "
                "Choose a time before or after the change."
            ),
            code="dst_gap",
            params={"time": naive.strftime("%Y-%m-%d %H:%M")},
        )
    if first.utcoffset() != second.utcoffset():
        if fold is None:
            raise ValidationError(
                _(
                    "%(time)s happens twice in Brussels: the clocks go back an hour that night. "
                    "Say which one you mean: summer time (+02:00) or winter time (+01:00)."
                ),
                code="dst_ambiguous",
                params={"time": naive.strftime("%Y-%m-%d %H:%M")},
            )
        return (second if fold else first).astimezone(UTC)
    return first.astimezone(UTC)


def _exdate_line_in_brussels(line: str) -> str:
    """An EXDATE line with its times as naive Brussels wall-clock values.

    Calendar clients write excluded dates in UTC (``…Z``) or with a ``TZID``; the rule is
    evaluated on naive Brussels wall time, so those are converted rather than read as local.
    """
    head, _sep, values = line.partition(":")
    params = dict(p.split("=", 1) for p in head.split(";")[1:] if "=" in p)
    source = ZoneInfo(params["TZID"]) if "TZID" in params else BRUSSELS
    converted = []
    for value in values.split(","):
        value = value.strip()
        if "T" not in value:  # a DATE, not a DATE-TIME: a whole day, no zone to convert
            converted.append(value)
            continue
        naive = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")  # noqa: DTZ007 - zone applied below
        moment = naive.replace(tzinfo=UTC if value.endswith("Z") else source)
        converted.append(moment.astimezone(BRUSSELS).strftime("%Y%m%dT%H%M%S"))
    return "EXDATE:" + ",".join(converted)


def _rule_set(recurrence: str, start: datetime) -> rruleset:
    """The RRULE (+ EXDATE) text as a dateutil set over naive Brussels wall-clock times."""
    local_start = start.astimezone(BRUSSELS).replace(tzinfo=None)
    try:
        lines = [
            _exdate_line_in_brussels(line) if line.upper().startswith("EXDATE") else line
            for line in recurrence.strip().splitlines()
        ]
        rules = rrulestr("\n".join(lines), dtstart=local_start, forceset=True, ignoretz=True)
    # KeyError: an unknown TZID; OverflowError: an EXDATE at the edge of the calendar (9999-12-31T23:59Z).
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise ValidationError(
            _("The recurrence rule is not valid RFC 5545: %(error)s"),
            code="invalid_rrule",
            params={"error": str(exc)},
        ) from exc
    assert isinstance(rules, rruleset)  # noqa: S101 - forceset=True guarantees it
    _refuse_impossible_days(lines)
    return rules


# The most days each month ever has (February: 29).
_MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


def _refuse_impossible_days(lines: list[str]) -> None:
    """Refuse a rule whose BYMONTHDAY never falls in its BYMONTH (the 30th of February).

    dateutil looks for such a rule's next instance one period at a time up to the year 9999
    before it gives up: 5 to 10 s of CPU per request for FREQ=HOURLY or DAILY."""
    for line in lines:
        text = line.upper().removeprefix("RRULE:")
        if not text.startswith("FREQ=") and ";FREQ=" not in f";{text}":
            continue
        parts = dict(part.split("=", 1) for part in text.split(";") if "=" in part)
        try:
            months = [int(v) for v in parts["BYMONTH"].split(",")] if "BYMONTH" in parts else list(_MONTH_DAYS)
            days = [int(v) for v in parts.get("BYMONTHDAY", "").split(",") if v]
        except ValueError:
            continue  # dateutil accepted it; nothing more to say here
        if days and all(d > 0 for d in days) and min(days) > max(_MONTH_DAYS.get(m, 31) for m in months):
            raise ValidationError(
                _("This recurrence never happens: no month it names has day %(days)s."),
                code="never",
                params={"days": ", ".join(str(d) for d in sorted(days))},
            )


def _to_utc(local: datetime) -> datetime:
    """A recurrence instance (naive Brussels) in UTC.

    An instance falling in the spring-forward gap moves forward by the gap (02:30 becomes
    03:30 summer time); in the fall-back overlap it is the first of the two (summer time).
    """
    return local.replace(tzinfo=BRUSSELS, fold=0).astimezone(UTC)


def recurrence_times(
    recurrence: str, start: datetime, *, after: datetime | None = None, before: datetime | None = None, limit: int = 500
) -> list[datetime]:
    """UTC instances of a recurrence from ``start``: strictly after ``after``, up to ``before``, at most ``limit``."""
    rules = _rule_set(recurrence, start)
    found: list[datetime] = []
    # dateutil compares naive local values; step from a local lower bound, filter in UTC.
    cursor = (after - timedelta(hours=3)).astimezone(BRUSSELS).replace(tzinfo=None) if after else None
    iterator: Iterable[datetime] = rules.xafter(cursor, inc=True) if cursor else iter(rules)
    for local in iterator:
        when = _to_utc(local)
        if after is not None and when <= after:
            continue
        if before is not None and when > before:
            break
        found.append(when)
        if len(found) >= limit:
            break
    return found


def validate_schedule(
    *,
    publish_at: datetime | None = None,
    recurrence: str = "",
    recurrence_start: datetime | None = None,
    urgency: str = Urgency.ROUTINE,
    now: datetime | None = None,
) -> None:
    """Check a schedule; raises ``ValidationError`` keyed by field with translated messages.

    A message has one publication time or a recurrence, not both. Without either it goes
    out when approved ("now"), which only urgent messages may ask for implicitly. Times in
    the past are refused unless the message is urgent. A recurrence must parse, needs a
    start, and must still have an occurrence in the future. Local times must already have
    been through ``parse_local_time`` (the datetimes here are aware).
    """
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    for name, value in (("publish_at", publish_at), ("recurrence_start", recurrence_start)):
        if value is not None:
            try:
                check_time_range(value, now=now)
            except ValidationError as exc:
                errors.setdefault(name, []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    if publish_at and recurrence.strip():
        errors.setdefault("recurrence", []).append(_("Choose either one publication time or a recurrence, not both."))
    if publish_at is not None and publish_at < now and urgency != Urgency.URGENT:
        errors.setdefault("publish_at", []).append(
            _("%(time)s is in the past: choose a time to come.") % {"time": _local_str(publish_at)}
        )
    if recurrence.strip():
        if recurrence_start is None:
            errors.setdefault("recurrence_start", []).append(_("A recurrence needs a start date and time."))
        else:
            try:
                upcoming = recurrence_times(recurrence, recurrence_start, after=now, before=latest_time(now), limit=1)
            except ValidationError as exc:
                errors.setdefault("recurrence", []).extend(exc.messages)
            else:
                if not upcoming:
                    errors.setdefault("recurrence", []).append(
                        _("This recurrence has no publication time left in the future.")
                    )
    if errors:
        raise ValidationError(errors)


def occurrences_preview(
    *,
    publish_at: datetime | None = None,
    recurrence: str = "",
    recurrence_start: datetime | None = None,
    count: int = 10,
    now: datetime | None = None,
) -> list[datetime]:
    """The next ``count`` publication times (aware UTC; show them in Brussels time).

    A one-off message previews its single time; a recurrence its next instances after now.
    An invalid rule raises ``ValidationError``.
    """
    now = now or timezone.now()
    if recurrence.strip():
        if recurrence_start is None:
            return []
        return recurrence_times(recurrence, recurrence_start, after=now, limit=count)
    return [publish_at] if publish_at else []


# --- services -------------------------------------------------------------------------


def _horizon(now: datetime) -> datetime:
    return now + timedelta(days=settings.TANDEM_RECURRENCE_HORIZON_DAYS)


def _routes(message: Message) -> list[tuple[int, str, Delivery | None]]:
    """(channel id, variant language, delivery replied to) for every channel the message goes to.

    A message goes to the audience its approval bound (``Message.approved_audience``), never
    to a segment's current members: a segment widened after approval cannot widen it.
    A follow-up (update, all-clear) goes only to the channels that carried the original,
    replying on the original post's thread.
    """
    if message.follows_id is None:
        approved = selectors.channels_for(message, approved=True)
        return [(route.channel.pk, route.variant_language, None) for route in approved]
    available = set(selectors.message_variant_languages(message))
    # Channels that carried the original or are still carrying it: an update pushed seconds
    # after an alert must not be lost because the original is still in flight.
    states = CARRYING
    if message.is_correction:
        # Only a post that is out can be corrected, and only where its text changed.
        states = [DeliveryState.SENT]
        available = correction_languages(message)
    originals = (
        Delivery.objects.filter(occurrence__message_id=message.follows_id, state__in=states)
        .select_related("channel")
        .order_by("channel_id", "-sent_at")
    )
    routes: dict[int, tuple[int, str, Delivery | None]] = {}
    for original in originals:
        if original.channel_id in routes or not original.channel.enabled:
            continue
        language = original.channel.language
        if language not in available and language == Language.DE and Language.FR in available:
            language = Language.FR
        if language in available:
            routes[original.channel_id] = (original.channel_id, language, original)
    return list(routes.values())


def correction_languages(message: Message) -> set[str]:
    """The languages whose text or link a correction changes from the message it follows."""
    if message.follows_id is None:
        return set()
    before = {v.language: (v.text, v.link) for v in Variant.objects.filter(message_id=message.follows_id)}
    return {v.language for v in Variant.objects.filter(message=message) if before.get(v.language) != (v.text, v.link)}


def _deliveries_create(
    message: Message, times: list[datetime], routes: list[tuple[int, str, Delivery | None]], urgent: bool
) -> list[int]:
    created: list[int] = []
    for due_at in times:
        occurrence, _created = Occurrence.objects.get_or_create(message=message, due_at=due_at)
        Delivery.objects.bulk_create(
            [
                Delivery(
                    occurrence=occurrence,
                    channel_id=channel_id,
                    language=language,
                    due_at=due_at,
                    next_attempt_at=due_at,
                    urgent=urgent,
                    reply_to=reply_to,
                )
                for channel_id, language, reply_to in routes
            ],
            ignore_conflicts=True,
        )
        # A message edited after approval had its deliveries cancelled; approving it again
        # revives them (the row is unique per occurrence and channel).
        for language in {language for _c, language, _r in routes}:
            Delivery.objects.filter(
                occurrence=occurrence,
                state=DeliveryState.CANCELLED,
                channel_id__in=[c for c, lang, _r in routes if lang == language],
            ).update(
                state=DeliveryState.PENDING,
                language=language,
                next_attempt_at=due_at,
                lease_expires_at=None,
                urgent=urgent,
                last_error="",
            )
        created.extend(
            Delivery.objects.filter(occurrence=occurrence, state=DeliveryState.PENDING).values_list("pk", flat=True)
        )
    return created


def dispatcher_notify() -> None:
    """Wake the dispatchers when this transaction commits (at once outside a transaction).

    PostgreSQL: NOTIFY. Other databases (the embedded SQLite default, one machine): a
    datagram to each running dispatcher's socket in TANDEM_DISPATCH_WAKE_DIR.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])
    else:
        transaction.on_commit(local_dispatchers_wake)


def wake_dir() -> Path:
    return Path(settings.TANDEM_DISPATCH_WAKE_DIR)


def local_dispatchers_wake() -> None:
    """Send one datagram to every dispatcher listening on this machine; never raises (a
    missed wake-up costs at most the dispatcher's fallback poll)."""
    try:
        sockets = list(wake_dir().glob("*.sock"))
    except OSError:
        return
    if not sockets:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        for path in sockets:
            try:
                sender.sendto(b"1", str(path))
            except ConnectionRefusedError:
                # Left behind by a dispatcher that was killed: nobody reads it any more.
                path.unlink(missing_ok=True)
            except OSError:
                continue


def message_schedule(*, message: Message, actor: User | None) -> list[Delivery]:
    """Create the message's occurrences and one pending delivery per (occurrence, channel).

    Called inside the approval (or urgent-alert) transaction. A one-off message gets one
    occurrence at ``publish_at`` (or now); a recurring one gets its instances up to the
    horizon (the dispatcher extends it later). Urgent deliveries are due now and handed to
    the urgent queue once the transaction commits; the dispatcher remains their safety net.

    A routine time more than the grace period in the past is refused (ValidationError):
    an approval that came too late must not publish an hour-old message silently.
    """
    now = timezone.now()
    urgent = message.urgency == Urgency.URGENT
    if message.recurrence.strip():
        start = message.recurrence_start or message.publish_at or now
        times = recurrence_times(message.recurrence, start, after=now - timedelta(seconds=1), before=_horizon(now))
        if not times:
            times = recurrence_times(message.recurrence, start, after=now, before=latest_time(now), limit=1)
        if not times:
            raise ValidationError({"recurrence": [_("This recurrence has no publication time left in the future.")]})
    else:
        due_at = message.publish_at or now
        if urgent:
            due_at = min(due_at, now)
        elif due_at < now - timedelta(seconds=settings.TANDEM_MISSED_GRACE_SECONDS):
            raise ValidationError(
                {
                    "publish_at": [
                        _("The publication time %(time)s has passed: choose a new time and submit again.")
                        % {"time": _local_str(due_at)}
                    ]
                }
            )
        times = [due_at]
    ids = _deliveries_create(message, times, _routes(message), urgent)
    message.state = MessageState.SCHEDULED
    message.save(update_fields=["state", "updated_at"])
    dispatcher_notify()
    if urgent and ids:

        def urgent_hand_over() -> None:
            hooks.urgent_hand_over.call(delivery_ids=ids, urgent=True)

        transaction.on_commit(urgent_hand_over, robust=True)
    return list(Delivery.objects.filter(occurrence__message=message).order_by("due_at", "pk"))


def message_unschedule(*, message: Message, actor: User | None) -> int:
    """Cancel the message's deliveries that have not started (inside the caller's transaction).

    A queued delivery is cancelled too: the publish task re-checks the state under a lock
    before it calls the network.
    """
    return Delivery.objects.filter(occurrence__message=message, state__in=NOT_STARTED).update(
        state=DeliveryState.CANCELLED, next_attempt_at=None, lease_expires_at=None, updated_at=timezone.now()
    )


def recurrences_extend(*, now: datetime | None = None) -> int:
    """Materialise the next occurrences of every live recurring message up to the horizon.

    Idempotent (occurrences and deliveries are unique); returns how many deliveries it added.
    """
    now = now or timezone.now()
    live = [MessageState.SCHEDULED, MessageState.PUBLISHING, MessageState.PUBLISHED, MessageState.PARTIALLY_FAILED]
    added = 0
    messages = (
        Message.objects.filter(state__in=live, follows__isnull=True)
        .exclude(recurrence="")
        .only(
            "pk",
            "recurrence",
            "recurrence_start",
            "publish_at",
            "urgency",
            "audience_all",
            "state",
            "approved_audience",
        )
    )
    for message in messages:
        start = message.recurrence_start or message.publish_at
        if start is None:
            continue
        last = message.occurrences.order_by("-due_at").values_list("due_at", flat=True).first()
        try:
            times = recurrence_times(message.recurrence, start, after=max(last or now, now), before=_horizon(now))
        except ValidationError:
            logger.warning("Message %s has an invalid recurrence; not extended.", message.pk)
            continue
        if not times:
            continue
        with transaction.atomic():
            added += len(_deliveries_create(message, times, _routes(message), urgent=False))
    return added
