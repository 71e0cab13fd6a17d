"""The dispatcher: the only thing that decides *when* a delivery goes out.

Each pass claims due deliveries in batches (``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several dispatchers on several machines never claim the same row), marks
them ``queued`` with a lease, and hands their ids to django-q2 once the claim has
committed. Rows whose lease ran out (a worker died, the Redis broker lost the task) are
claimed again: nothing is lost because a process died.

Between passes the loop sleeps until the next due time, woken early when a nearer
delivery is committed (PostgreSQL ``NOTIFY``; on SQLite a datagram to the dispatcher's
local socket), with a fallback poll of a few seconds (at most 1 s on SQLite).

No failure of a pass ends the loop: it is logged and retried with a capped backoff. A
hand-over the broker refused releases its rows, which are claimed again within
``TANDEM_HAND_OVER_RETRY_SECONDS`` of the broker answering again.

Missed occurrences (the service was down): urgent ones and routine ones within the grace
period go out late with their lateness recorded; routine ones older than the grace period
are marked ``expired`` with the reason, never silently dropped and never sent in a burst.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from publisher import metrics
from publisher.channels import registry
from publisher.delivery import enqueue, heartbeat, hooks, publishing, renewal, scheduling
from publisher.models import Delivery, DeliveryAttempt, DeliveryState, Message, MessageStatus

logger = logging.getLogger(__name__)

WAITING = [DeliveryState.PENDING, DeliveryState.RETRY_WAIT]
LEASED = [DeliveryState.QUEUED, DeliveryState.SENDING]


@dataclass
class Claim:
    """What one claim handed over (ids per queue) and what it settled without sending."""

    routine: list[int] = field(default_factory=list)
    urgent: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    superseded: list[int] = field(default_factory=list)
    disabled: list[int] = field(default_factory=list)
    unconfirmed: list[int] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return len(self.routine) + len(self.urgent) + len(self.settled)

    @property
    def settled(self) -> list[int]:
        """Deliveries this claim decided without sending them."""
        return self.expired + self.superseded + self.disabled + self.unconfirmed


def queue_lease() -> timedelta:
    return timedelta(seconds=settings.TANDEM_QUEUE_LEASE_SECONDS)


def lead(*, due_together: int = 0) -> timedelta:
    """How early deliveries are handed over, so workers have rendered them by their due time.

    TANDEM_DISPATCH_LEAD_SECONDS covers a burst of TANDEM_DISPATCH_LEAD_COVERS deliveries; a
    bigger one gets TANDEM_DISPATCH_LEAD_PER_THOUSAND more per 1,000 beyond (rendering a
    national alert's 10,000 posts takes seconds of CPU), up to TANDEM_DISPATCH_LEAD_MAX_SECONDS.
    """
    base = settings.TANDEM_DISPATCH_LEAD_SECONDS
    beyond = max(0, due_together - settings.TANDEM_DISPATCH_LEAD_COVERS)
    extra = settings.TANDEM_DISPATCH_LEAD_PER_THOUSAND * beyond / 1000
    return timedelta(seconds=min(max(base, settings.TANDEM_DISPATCH_LEAD_MAX_SECONDS), base + extra))


def lead_max() -> timedelta:
    return max(lead(), timedelta(seconds=settings.TANDEM_DISPATCH_LEAD_MAX_SECONDS))


def _waiting() -> QuerySet[Delivery]:
    return Delivery.objects.filter(state__in=WAITING, channel__needs_reconnect=False)


def _due_together(start: datetime) -> int:
    """Deliveries waiting to fall due within the longest lead after ``start`` (counted up to
    the size that already gives the longest lead: the count stays cheap however big the burst)."""
    per_thousand = settings.TANDEM_DISPATCH_LEAD_PER_THOUSAND
    if per_thousand <= 0 or lead_max() <= lead():
        return 0
    beyond = (lead_max() - lead()).total_seconds() / per_thousand * 1000
    enough = settings.TANDEM_DISPATCH_LEAD_COVERS + int(beyond) + 1
    rows = _waiting().filter(next_attempt_at__lte=start + lead_max()).values("pk")[:enough]
    return Delivery.objects.filter(pk__in=rows).count()


def burst_lead(now: datetime) -> timedelta:
    """The lead for what falls due from ``now`` on."""
    return lead(due_together=_due_together(now))


def _due(now: datetime, ahead: timedelta) -> Q:
    return Q(state__in=WAITING, next_attempt_at__lte=now + ahead) | Q(state__in=LEASED, lease_expires_at__lte=now)


def _idempotent(kind: str) -> bool:
    cls = registry.adapter_classes().get(kind)
    return bool(cls and cls.supports_idempotency)


def deliveries_claim(
    *,
    now: datetime | None = None,
    limit: int | None = None,
    ids: Sequence[int] | None = None,
    ahead: timedelta | None = None,
) -> Claim:
    """Claim due deliveries in one short transaction; enqueue them once it commits.

    ``ids`` restricts the claim (the urgent hand-over after an alert's commit). ``ahead``:
    how early deliveries are taken (default: the base lead; a pass uses ``burst_lead``).
    Deliveries of channels that need reconnecting are held; those of disabled channels fail.
    """
    now = now or timezone.now()
    ahead = lead() if ahead is None else ahead
    limit = limit or settings.TANDEM_DISPATCH_BATCH
    grace = timedelta(seconds=settings.TANDEM_MISSED_GRACE_SECONDS)
    claim = Claim()
    with transaction.atomic():
        qs = Delivery.objects.filter(_due(now, ahead), channel__needs_reconnect=False)
        if ids is not None:
            qs = qs.filter(pk__in=list(ids))
        rows = list(
            qs.select_for_update(skip_locked=True, of=("self",))
            .order_by("-urgent", "next_attempt_at", "pk")
            .values_list(
                "pk",
                "state",
                "urgent",
                "due_at",
                "attempts",
                "channel_id",
                "channel__kind",
                "channel__enabled",
                "occurrence__message_id",
                "occurrence__message__status",
            )[:limit]
        )
        if not rows:
            return claim
        # After an outage a recurring message may have several occurrences due at once on
        # a channel: only the latest goes out, the others are recorded as skipped.
        latest: dict[tuple[int, int], datetime] = {}
        for _pk, state, urgent, due_at, _n, channel_id, _kind, _on, message_id, _status in rows:
            if state == DeliveryState.PENDING and not urgent:
                key = (message_id, channel_id)
                latest[key] = max(due_at, latest.get(key, due_at))
        requeue: list[int] = []
        lost: list[str] = []  # the networks of attempts whose worker vanished
        for pk, state, urgent, due_at, attempts, channel_id, kind, enabled, message_id, status in rows:
            if state in WAITING and not enabled:
                claim.disabled.append(pk)
                continue
            if state in WAITING and not urgent and due_at < now - grace:
                claim.expired.append(pk)
                continue
            if state == DeliveryState.PENDING and not urgent and due_at < latest[(message_id, channel_id)]:
                claim.superseded.append(pk)
                continue
            if state == DeliveryState.SENDING:
                # The worker vanished during the network call: the post may be online.
                exercise = status == MessageStatus.EXERCISE
                lost.append(kind)
                if not exercise and not (_idempotent(kind) and attempts < settings.TANDEM_MAX_ATTEMPTS):
                    claim.unconfirmed.append(pk)
                    continue
                requeue.append(pk)
            (claim.urgent if urgent else claim.routine).append(pk)
        lease = now + ahead + queue_lease()
        handed = claim.routine + claim.urgent
        if handed:
            Delivery.objects.filter(pk__in=handed).update(
                state=DeliveryState.QUEUED, lease_expires_at=lease, holder="", updated_at=now
            )
        if requeue or claim.unconfirmed:
            DeliveryAttempt.objects.filter(
                delivery_id__in=requeue + claim.unconfirmed, finished_at__isnull=True
            ).update(finished_at=now, outcome="lost", error=_("The worker stopped during the network call."))

            # A named function, not a partial: a robust hook that fails is logged by its name.
            def lost_count() -> None:
                metrics.attempts_lost(networks=lost)

            transaction.on_commit(lost_count, robust=True)
        if claim.settled:
            _settle(claim, now, grace)

        # A broker outage must not fail the caller (an alert's request has already committed):
        # the hand-over releases its rows for the next claim instead (see _enqueue).
        def hand_over() -> None:
            _enqueue(claim)

        transaction.on_commit(hand_over, robust=True)
    return claim


def _settle(claim: Claim, now: datetime, grace: timedelta) -> None:
    """Record missed and lost deliveries, refresh their messages, tell the people concerned."""
    affected = list(
        Delivery.objects.filter(pk__in=claim.settled).values_list("occurrence__message_id", flat=True).distinct()
    )
    list(Message.objects.select_for_update().filter(pk__in=sorted(affected)).values_list("pk", flat=True))
    minutes = int(grace.total_seconds() // 60)
    for ids, state, reason in (
        (
            claim.expired,
            DeliveryState.EXPIRED,
            _(
                "Missed: it was due more than %(minutes)s minutes ago (the service was not running). "
                "Routine posts that late are not sent."
            )
            % {"minutes": minutes},
        ),
        (
            claim.superseded,
            DeliveryState.EXPIRED,
            _(
                "Skipped: a later occurrence of this message was due on this channel at the same time "
                "(after an outage only the latest is sent)."
            ),
        ),
        (claim.disabled, DeliveryState.FAILED, _("The channel was disabled before this post was due.")),
        (
            claim.unconfirmed,
            DeliveryState.UNCONFIRMED,
            _(
                "The worker stopped during the network call and this network cannot recognise a repeat: "
                "check whether the post is online before sending it again."
            ),
        ),
    ):
        if ids:
            Delivery.objects.filter(pk__in=ids).update(
                state=state, next_attempt_at=None, lease_expires_at=None, updated_at=now, last_error=reason
            )
    for message_id in sorted(affected):
        publishing.message_state_refresh(message_id=message_id, now=now)
    settled = list(claim.settled)

    def failure_notify() -> None:
        publishing.deliveries_failure_notify(delivery_ids=settled)

    transaction.on_commit(failure_notify, robust=True)


def hand_over_retry() -> timedelta:
    return timedelta(seconds=settings.TANDEM_HAND_OVER_RETRY_SECONDS)


def _enqueue(claim: Claim) -> None:
    """Hand the claimed ids to django-q2; if the broker refuses, release them for the next claim.

    Without the release the rows would wait out their whole queue lease (a minute) after the
    broker is back; with it, the dispatcher tries again every few seconds and the first
    attempt after the broker returns hands them over.
    """
    for ids, urgent in ((claim.urgent, True), (claim.routine, False)):
        if not ids:
            continue
        try:
            enqueue.enqueue_publish(ids, urgent=urgent)
        except Exception as exc:  # noqa: BLE001 - whatever the broker raised, the rows come back
            # No traceback: during an outage this repeats every TANDEM_HAND_OVER_RETRY_SECONDS.
            logger.error(
                "Hand-over of %d deliveries to the broker failed (%s: %s); retrying in %.1f s.",
                len(ids),
                type(exc).__name__,
                exc,
                settings.TANDEM_HAND_OVER_RETRY_SECONDS,
            )
            _hand_over_failed(ids)


def _hand_over_failed(delivery_ids: Sequence[int]) -> None:
    """Shorten the lease of rows whose task never reached the broker: the dispatcher claims
    them again in TANDEM_HAND_OVER_RETRY_SECONDS instead of after the whole queue lease."""
    now = timezone.now()
    try:
        Delivery.objects.filter(pk__in=list(delivery_ids), state=DeliveryState.QUEUED).update(
            lease_expires_at=now + hand_over_retry(), updated_at=now
        )
        scheduling.dispatcher_notify()
    except Exception:  # noqa: BLE001 - then the queue lease brings them back
        logger.exception("Could not release deliveries after a failed hand-over.")


def deliveries_release(*, delivery_ids: Sequence[int]) -> int:
    """Give queued deliveries back to the dispatcher, due again now: their task will not run
    them (a stopping cluster drops it). The task finds them no longer queued and does nothing."""
    now = timezone.now()
    rows = Delivery.objects.filter(pk__in=list(delivery_ids), state=DeliveryState.QUEUED)
    with transaction.atomic():
        released = rows.filter(attempts=0).update(
            state=DeliveryState.PENDING, lease_expires_at=None, holder="", updated_at=now
        )
        released += rows.update(state=DeliveryState.RETRY_WAIT, lease_expires_at=None, holder="", updated_at=now)
    if released:
        scheduling.dispatcher_notify()
    return released


def deliveries_hand_over(*, delivery_ids: Sequence[int], urgent: bool = True) -> Claim:
    """Claim these deliveries now if due (an urgent alert right after its commit)."""
    try:
        return deliveries_claim(ids=delivery_ids)
    except Exception:
        # The dispatcher is the safety net: the rows are still pending and due.
        logger.exception("Urgent hand-over failed; the dispatcher will pick the deliveries up.")
        return Claim()


def dispatch_once(*, now: datetime | None = None) -> int:
    """Claim everything due now, batch after batch; returns how many deliveries were handled."""
    total = 0
    ahead = burst_lead(now or timezone.now())
    while True:
        claim = deliveries_claim(now=now, ahead=ahead)
        total += claim.handled
        if claim.handled < settings.TANDEM_DISPATCH_BATCH:
            return total


def next_due_at() -> datetime | None:
    """When the next claim should run: a delivery's due time less the lead for what falls due
    with it, or a lease's end."""
    found = _waiting().aggregate(at=Min("next_attempt_at"))["at"]
    lease = Delivery.objects.filter(state__in=LEASED).aggregate(at=Min("lease_expires_at"))["at"]
    candidates = [t for t in (found - burst_lead(found) if found else None, lease) if t is not None]
    return min(candidates) if candidates else None


class _Waker:
    """Sleeps until a deadline or a wake-up: NOTIFY on PostgreSQL, a datagram on a local
    socket elsewhere (see ``scheduling.dispatcher_notify``)."""

    def __init__(self) -> None:
        self.conn: Any = None
        self.sock: socket.socket | None = None
        self.sock_path: Path | None = None

    def _listen(self) -> None:
        import psycopg

        s = connection.settings_dict
        self.conn = psycopg.connect(
            dbname=s["NAME"],
            user=s.get("USER") or None,
            password=s.get("PASSWORD") or None,
            host=s.get("HOST") or None,
            port=s.get("PORT") or None,
            autocommit=True,
        )
        self.conn.execute(f"LISTEN {scheduling.NOTIFY_CHANNEL}")

    def _bind(self) -> None:
        folder = scheduling.wake_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{os.getpid()}.sock"
        path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.setblocking(False)
        self.sock, self.sock_path = sock, path

    def wait(self, seconds: float) -> bool:
        """True if woken by a notification."""
        if seconds <= 0:
            return False
        if connection.vendor != "postgresql":
            return self._wait_local(seconds)
        try:
            if self.conn is None:
                self._listen()
            woken = False
            for _notify in self.conn.notifies(timeout=seconds, stop_after=1):
                woken = True
            return woken
        except Exception:  # noqa: BLE001 - a lost listener only costs precision until the next poll
            logger.warning("LISTEN connection lost; reconnecting.", exc_info=True)
            self.close()
            time.sleep(min(seconds, 1.0))
            return False

    def _wait_local(self, seconds: float) -> bool:
        try:
            if self.sock is None:
                self._bind()
            assert self.sock is not None
            readable, _w, _x = select.select([self.sock], [], [], seconds)
            if not readable:
                return False
            while True:  # several commits may have woken us: one pass serves them all
                try:
                    self.sock.recv(64)
                except BlockingIOError:
                    return True
        except OSError:
            logger.warning("Wake-up socket unavailable; polling.", exc_info=True)
            self.close()
            time.sleep(seconds)
            return False

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001, S110 - closing a dead connection
                pass
            self.conn = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.sock_path is not None:
            self.sock_path.unlink(missing_ok=True)
            self.sock_path = None


def poll_seconds() -> float:
    if connection.vendor == "postgresql":
        return float(settings.TANDEM_DISPATCH_POLL_SECONDS)
    return min(1.0, float(settings.TANDEM_DISPATCH_POLL_SECONDS))


# Unapproved messages past their time are expired at this pace: it only needs to beat a
# human noticing, not the second.
EXPIRE_EVERY_SECONDS = 15.0


# After a failed pass the loop waits this long, doubling up to the cap, back to the start
# after a pass that succeeds: a broker or database outage is retried without a storm.
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 10.0

# Readiness wants a heartbeat younger than TANDEM_READY_DISPATCHER_SECONDS (30 by default):
# one write every few seconds is plenty and costs nothing next to the claims.
HEARTBEAT_EVERY_SECONDS = 5.0
# The longest the idle loop goes without looking whether it was asked to stop.
STOP_CHECK_SECONDS = 0.5


def credentials_refresh_hand_over(*, now: datetime | None = None) -> list[int]:
    """Hand the credentials expiring within the margin to a worker (delivery.renewal): the
    refresh calls a network, which the dispatcher's loop never does itself."""
    channel_ids = renewal.credentials_due(now=now)
    if channel_ids:
        enqueue.enqueue_refresh(channel_ids)
    return channel_ids


def heartbeat_record() -> bool:
    """Tell readiness this dispatcher is alive. A failure is logged and otherwise ignored: a
    dispatcher that cannot write its heartbeat must still dispatch. True if it was written."""
    try:
        heartbeat.dispatcher_heartbeat_record(host=socket.gethostname(), pid=os.getpid())
    except Exception:  # noqa: BLE001 - the database may be away; the pass will say so itself
        logger.warning("Could not record the dispatcher heartbeat.", exc_info=True)
        _connection_reset()
        return False
    return True


def run(
    *,
    should_stop: Callable[[], bool],
    log: Callable[[str], None] = logger.info,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """The dispatcher loop (``manage.py run_dispatcher``). No exception of a pass ends it:
    it is logged, the loop backs off and tries again, so nobody has to restart it."""
    waker = _Waker()
    last_extend = 0.0
    last_expire = 0.0
    last_boosts = time.monotonic()
    last_refresh = 0.0
    last_heartbeat = -HEARTBEAT_EVERY_SECONDS
    backoff = BACKOFF_FIRST_SECONDS
    try:
        while not should_stop():
            if time.monotonic() - last_heartbeat >= HEARTBEAT_EVERY_SECONDS and heartbeat_record():
                last_heartbeat = time.monotonic()
            try:
                began = time.perf_counter()
                handled = dispatch_once()
                if handled:
                    log(f"dispatched {handled} in {(time.perf_counter() - began) * 1000:.0f} ms")
                if time.monotonic() - last_extend > settings.TANDEM_RECURRENCE_EXTEND_SECONDS:
                    last_extend = time.monotonic()
                    scheduling.recurrences_extend()
                if time.monotonic() - last_expire > EXPIRE_EVERY_SECONDS:
                    last_expire = time.monotonic()
                    hooks.unapproved_expire.call(now=timezone.now())
                if time.monotonic() - last_boosts > settings.TANDEM_BOOST_REFRESH_SECONDS:
                    last_boosts = time.monotonic()
                    # Network calls to Meta: a worker's job, never the dispatcher's.
                    enqueue.enqueue_boosts_refresh()
                if time.monotonic() - last_refresh > settings.TANDEM_CREDENTIAL_REFRESH_EVERY_SECONDS:
                    last_refresh = time.monotonic()
                    credentials_refresh_hand_over()
                upcoming = next_due_at()
            except Exception:
                logger.exception("Dispatcher pass failed; retrying in %.1f s.", backoff)
                _connection_reset()
                sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
                continue
            backoff = BACKOFF_FIRST_SECONDS
            timeout = poll_seconds()
            if upcoming is not None:
                timeout = min(timeout, (upcoming - timezone.now()).total_seconds())
            # In short slices: a stop request (SIGTERM) ends the loop within one, well before
            # a supervisor's kill (honcho: 5 s), however long the wait for the next due row.
            deadline = time.monotonic() + timeout
            while not waker.wait(min(deadline - time.monotonic(), STOP_CHECK_SECONDS)):
                if time.monotonic() >= deadline or should_stop():
                    break
    finally:
        waker.close()


def _connection_reset() -> None:
    """Drop the database connection after a failed pass: it may be broken. (Never inside an
    atomic block: only a test wraps the loop in one, and closing would end the test's.)"""
    if connection.in_atomic_block:
        return
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - the next pass opens a new one
        logger.warning("Closing the database connection failed.", exc_info=True)
