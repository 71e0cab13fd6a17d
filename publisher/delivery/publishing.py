"""The publish service: moves deliveries through their states around the network call.

A delivery's life: ``pending`` → (dispatcher) ``queued`` → (this module) ``sending`` →
``sent`` | ``retry_wait`` | ``unconfirmed`` | ``failed``. The state is checked and moved
in one short transaction before the call, the adapter is called outside any transaction,
and the outcome is written in another short transaction, fenced by the attempt number so
that a stale worker can never overwrite what a newer attempt decided. Running a task twice
is harmless: only ``queued`` rows are taken, under a row lock.

Our code decides retries (django-q2 runs each task once): transient errors back off
exponentially with jitter and honour Retry-After; permanent errors fail with the network's
wording; an authentication error holds the channel until it is reconnected; a timeout
after sending becomes ``unconfirmed`` unless the network honours our idempotency key.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Count, F, Field, Model, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Role, User
from publisher import metrics
from publisher.audit import audit_record
from publisher.channels import registry
from publisher.channels.base import (
    AuthError,
    ChannelAdapter,
    ChannelError,
    Gone,
    PermanentError,
    Post,
    TransientError,
    UnknownOutcome,
)
from publisher.channels.services import channel_disable
from publisher.delivery import hooks, posts, scheduling
from publisher.errors import InvalidTransition
from publisher.mail import mail_send
from publisher.media.images import renditions_remove
from publisher.models import (
    Attachment,
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Message,
    MessageState,
    MessageStatus,
)

logger = logging.getLogger(__name__)

IN_FLIGHT = [DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.RETRY_WAIT]
NOT_DELIVERED = [DeliveryState.FAILED, DeliveryState.UNCONFIRMED, DeliveryState.EXPIRED]
# Message states derived from deliveries; the others (cancelled, retracted, drafts) are decisions.
DERIVED_STATES = {
    MessageState.SCHEDULED,
    MessageState.PUBLISHING,
    MessageState.PUBLISHED,
    MessageState.PARTIALLY_FAILED,
    MessageState.FAILED,
}
EXERCISE_REMOTE_ID = "exercise"
RECORD_WINDOW_SECONDS = 0.025
POOL_THREAD_PREFIX = "tandem-publish"


def idempotency_key(delivery_id: int) -> str:
    """The key a network may use to recognise a repeated request for the same delivery."""
    return f"tandem-delivery-{delivery_id}"


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before the next try: exponential with jitter, never sooner than Retry-After."""
    base = float(settings.TANDEM_RETRY_BASE_SECONDS)
    ceiling = float(settings.TANDEM_RETRY_MAX_SECONDS)
    delay = min(ceiling, base * (2 ** max(0, attempt - 1)))
    # "Equal jitter": half fixed, half random, so retries of a burst spread out.
    delay = delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not cryptography
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return delay


def send_lease() -> timedelta:
    return timedelta(seconds=settings.TANDEM_SEND_LEASE_SECONDS)


# --- the publish task ------------------------------------------------------------------


@dataclass
class _Call:
    delivery: Delivery
    attempt_id: int = 0
    attempt_no: int = 0
    adapter: ChannelAdapter | None = None
    post: Post | None = None
    outcome: str = ""  # sent | exercise | transient | permanent | auth | unknown
    error: str = ""
    http_status: int | None = None
    retry_after: float | None = None
    remote_id: str = ""
    remote_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    network: str = ""  # calls to one network share a concurrency bound (_Sender)
    # A correction changing the original post in place: the same text again is harmless,
    # so an unknown outcome is retried like a network that honours our idempotency key.
    editing: bool = False


def _deliveries_start(delivery_ids: Sequence[int], now: datetime) -> dict[int, tuple[int, int]]:
    """Move queued deliveries to ``sending`` and open an attempt row for each.

    Returns {delivery id: (attempt id, attempt number)} for the rows this worker took.
    """
    with transaction.atomic():
        # Wait for locks rather than skip them: a dispatcher's claim may briefly hold a row
        # it re-checked and did not take (PostgreSQL keeps that lock until its commit). A
        # duplicate task waits here, then sees the row is no longer queued. Id order: no deadlock.
        rows = list(
            Delivery.objects.select_for_update(of=("self",))
            .filter(pk__in=list(delivery_ids), state=DeliveryState.QUEUED)
            .order_by("pk")
            .values_list("pk", "attempts", "occurrence__message_id")
        )
        if not rows:
            return {}
        taken = [pk for pk, _n, _m in rows]
        Delivery.objects.filter(pk__in=taken).update(
            state=DeliveryState.SENDING,
            attempts=F("attempts") + 1,
            lease_expires_at=now + send_lease(),
            updated_at=now,
        )
        attempts = DeliveryAttempt.objects.bulk_create(
            [DeliveryAttempt(delivery_id=pk, started_at=now, outcome="sending") for pk in taken]
        )
        Message.objects.filter(pk__in={m for _p, _n, m in rows}, state=MessageState.SCHEDULED).update(
            state=MessageState.PUBLISHING, updated_at=now
        )
    by_delivery = {a.delivery_id: a.pk for a in attempts}
    return {pk: (by_delivery[pk], n + 1) for pk, n, _m in rows}


def _call_adapter(call: _Call) -> _Call:
    """Runs in a pool thread: the network call, classified. Touches no database."""
    assert call.adapter is not None  # noqa: S101
    assert call.post is not None  # noqa: S101
    call.started_at = timezone.now()
    try:
        if call.editing:
            assert call.post.reply_to is not None  # noqa: S101 - _calls_prepare only edits a sent post
            receipt = call.adapter.edit(call.post.reply_to, call.post, idempotency_key(call.delivery.pk))
        else:
            receipt = call.adapter.publish(call.post, idempotency_key(call.delivery.pk))
    except UnknownOutcome as exc:
        call.outcome, call.error, call.http_status = "unknown", exc.message, exc.status
    except AuthError as exc:
        call.outcome, call.error, call.http_status = "auth", exc.message, exc.status
    except Gone as exc:
        call.outcome, call.error, call.http_status = "gone", exc.message, exc.status
    except PermanentError as exc:
        call.outcome, call.error, call.http_status = "permanent", exc.message, exc.status
    except TransientError as exc:
        call.outcome, call.error, call.http_status = "transient", exc.message, exc.status
        call.retry_after = exc.retry_after
    except ChannelError as exc:
        call.outcome, call.error, call.http_status = "unknown", exc.message, exc.status
    except Exception as exc:  # noqa: BLE001 - an adapter bug may strike after the request left
        logger.exception("Adapter %s crashed on delivery %s", call.adapter.kind, call.delivery.pk)
        call.outcome, call.error = "unknown", f"{type(exc).__name__}: {exc}"
    else:
        call.outcome = "sent"
        call.remote_id, call.remote_url, call.extra = receipt.remote_id, receipt.url, dict(receipt.extra)
        if call.editing:
            # This delivery's receipt names the original's post: retracting the correction
            # alone must not delete it (deliveries_retract reads this).
            call.extra["edited_in_place"] = True
    finally:
        call.finished_at = timezone.now()
        # Adapters should not touch the database, but if one did in a pool thread, do not
        # leak that thread's connection.
        if threading.current_thread().name.startswith(POOL_THREAD_PREFIX):
            connections.close_all()
    return call


def _calls_prepare(delivery_ids: Sequence[int]) -> dict[int, _Call]:
    """Render the posts of the queued deliveries among these ids (reads only)."""
    calls: dict[int, _Call] = {}
    adapters: dict[int, ChannelAdapter] = {}
    for delivery in posts.deliveries_for_render(delivery_ids, state=DeliveryState.QUEUED):
        call = _Call(delivery=delivery)
        calls[delivery.pk] = call
        try:
            call.post = posts.post_build(delivery)
            if delivery.channel_id not in adapters:
                adapters[delivery.channel_id] = registry.get_adapter(delivery.channel)
            call.adapter = adapters[delivery.channel_id]
            call.network = call.adapter.network()
            call.editing = call.post.correction and call.post.reply_to is not None and call.adapter.supports_edit
        except Exception as exc:  # noqa: BLE001 - nothing was sent: a rendering failure is final
            logger.exception("Cannot render delivery %s", delivery.pk)
            call.outcome, call.error = "permanent", _("Could not prepare the post: %(error)s") % {"error": exc}
        else:
            if call.post.exercise:
                call.outcome, call.remote_id = "exercise", EXERCISE_REMOTE_ID
                call.extra = {
                    "rendered": posts.post_as_dict(call.post),
                    "problems": [{"code": p.code, "message": p.message} for p in call.adapter.check(call.post)],
                }
    return calls


def _due_of(call: _Call) -> datetime:
    return call.delivery.next_attempt_at or call.delivery.due_at


def _sleep_until(moment: datetime) -> None:
    """Never call a network early: the dispatcher hands a burst over ahead of its due time."""
    delay = (moment - timezone.now()).total_seconds()
    if delay > 0:
        time.sleep(min(delay, max(settings.TANDEM_DISPATCH_LEAD_SECONDS, settings.TANDEM_DISPATCH_LEAD_MAX_SECONDS)))


# Moving rows to ``sending`` costs about this much per row: a big batch starts that much
# before its due time (at most START_AHEAD_MAX_SECONDS), so its first call is not late by the
# time it took to open the attempts of the last. Calls themselves still wait for their due.
START_SECONDS_PER_ROW = 0.0001
START_AHEAD_MAX_SECONDS = 1.0


def _start_at(calls: Iterable[_Call]) -> datetime:
    calls = list(calls)
    ahead = min(START_AHEAD_MAX_SECONDS, START_SECONDS_PER_ROW * len(calls))
    return min(_due_of(c) for c in calls) - timedelta(seconds=ahead)


def deliveries_publish(
    *, delivery_ids: Sequence[int], steal: bool = False, may_steal: Callable[[], bool] = lambda: True
) -> dict[str, int]:
    """Publish a batch of queued deliveries; network calls run concurrently (bounded).

    Renders first (the dispatcher hands bursts over up to TANDEM_DISPATCH_LEAD_SECONDS
    early so this is done by the due time), then moves the rows to ``sending``, then hands
    each network call to this process's sender at its due time and records each outcome
    as its call ends. Safe to run twice and concurrently with itself. Returns a count per
    outcome.

    With ``steal`` (the django-q2 task), while the calls run and this process has idle
    threads, the task also takes queued deliveries of its urgency that still wait for a
    worker, while ``may_steal()`` holds (a stopping cluster takes no more); the tasks that
    carried them find them taken and end at once. So a slow network holds a few threads, not
    the posts queued behind the task. (The worker stays in its task meanwhile: a django-q2
    worker killed while idle can hold its cluster's queue lock, and that cluster would take no
    task again.)
    """
    clock = time.perf_counter()
    sender = _sender()
    sink: queue.SimpleQueue[_Call] = queue.SimpleQueue()
    calls: list[_Call] = []
    held: set[int] = set()
    urgent: bool | None = None
    steal_until = time.monotonic() + STEAL_SECONDS
    batch = list(delivery_ids)
    left = 0
    try:
        while True:
            if batch:
                absorb = steal and not calls and may_steal()
                started, to_send = _batch_start(batch, sender, held, absorb=absorb)
                calls += started
                if urgent is None and started:
                    urgent = started[0].delivery.urgent
                for call in to_send:
                    _sleep_until(_due_of(call))
                    sender.submit(call, sink)
                left += len(to_send)
            if not left:
                break
            stealing = steal and urgent is not None and time.monotonic() < steal_until and may_steal()
            # Record whatever finished together, in one transaction: fast batches stay
            # cheap and a slow network call does not hold back the others' outcomes.
            done = _gather(sink, timeout=STEAL_POLL_SECONDS if stealing else None, limit=left)
            if done:
                _outcomes_record(done)
                sender.release(c.delivery.pk for c in done)
                held.difference_update(c.delivery.pk for c in done)
                left -= len(done)
            batch = []
            if stealing and left and (room := sender.room()) > 0:
                batch = _deliveries_waiting(urgent=bool(urgent), limit=min(room, settings.TANDEM_TASK_BATCH))
    finally:
        sender.release(held)
    counts: dict[str, int] = {}
    for call in calls:
        counts[call.outcome] = counts.get(call.outcome, 0) + 1
    if calls:
        own = set(delivery_ids)
        logger.info(
            "Published %s deliveries %s (%s of other tasks) in %.0f ms",
            len(calls),
            counts,
            sum(1 for c in calls if c.delivery.pk not in own),
            (time.perf_counter() - clock) * 1000,
        )
    return counts


# A stealing task stops taking more after this long, so it ends well within the django-q2
# timeout (Q_CLUSTER["timeout"]); it looks for waiting deliveries at this pace meanwhile.
STEAL_SECONDS = 60.0
STEAL_POLL_SECONDS = 0.2


def _take_and_prepare(delivery_ids: Sequence[int], sender: _Sender, held: set[int]) -> dict[int, _Call]:
    """Take the rows no other worker holds and render them."""
    # Short leases renewed by this process's heartbeat from the moment it holds the rows:
    # if it dies now, the dispatcher takes them back within seconds.
    sender.hold(dict.fromkeys(delivery_ids, 0))
    held.update(delivery_ids)
    taken = set(_deliveries_take(delivery_ids, timezone.now()))
    others = [pk for pk in delivery_ids if pk not in taken]
    sender.release(others)
    held.difference_update(others)
    prepared = _calls_prepare(sorted(taken)) if taken else {}
    gone = [pk for pk in taken if pk not in prepared]  # no longer queued (cancelled meanwhile)
    sender.release(gone)
    held.difference_update(gone)
    return prepared


def _burst_absorb(prepared: dict[int, _Call], sender: _Sender, held: set[int]) -> None:
    """While the burst these calls belong to is still ahead, take and render its deliveries
    that no worker holds yet (in ``prepared``).

    A burst is handed over in many tasks, but a worker waiting for the due time holds its
    task: without this, the tasks queued behind would be rendered only after the due time.
    Each free worker takes what it can render in time instead, and the tasks that carried
    those rows find them taken and end at once.
    """
    first = min(_due_of(c) for c in prepared.values())
    urgent = next(iter(prepared.values())).delivery.urgent
    due_by = first + timedelta(seconds=settings.TANDEM_DISPATCH_LEAD_SECONDS)
    while len(prepared) < settings.TANDEM_TASK_ABSORB_MAX:
        room = settings.TANDEM_TASK_ABSORB_MAX - len(prepared)
        # Stop in time to open the attempts of what is held before the due time.
        if timezone.now() >= _start_at(prepared.values()) - timedelta(seconds=START_AHEAD_MAX_SECONDS):
            return
        ids = _deliveries_waiting(urgent=urgent, limit=min(room, settings.TANDEM_TASK_BATCH), due_by=due_by)
        if ids:
            prepared.update(_take_and_prepare(ids, sender, held))
        elif _burst_pending(urgent=urgent, due_by=due_by):
            time.sleep(ABSORB_POLL_SECONDS)  # the dispatcher is still handing the burst over
        else:
            return


ABSORB_POLL_SECONDS = 0.02


def _burst_pending(*, urgent: bool, due_by: datetime) -> bool:
    """Deliveries of the burst the dispatcher has not handed over yet (it claims a big burst
    a thousand at a time)."""
    return Delivery.objects.filter(
        state__in=[DeliveryState.PENDING, DeliveryState.RETRY_WAIT], urgent=urgent, next_attempt_at__lte=due_by
    ).exists()


def _batch_start(
    delivery_ids: list[int], sender: _Sender, held: set[int], *, absorb: bool = False
) -> tuple[list[_Call], list[_Call]]:
    """Take, render and start these deliveries; record those decided without a call.
    With ``absorb``, first take the rest of their burst while it is ahead (_burst_absorb).
    Returns (the calls started, those to send)."""
    prepared = _take_and_prepare(delivery_ids, sender, held)
    if absorb and prepared:
        _burst_absorb(prepared, sender, held)
    started: dict[int, tuple[int, int]] = {}
    if prepared:
        _sleep_until(_start_at(prepared.values()))
        started = _deliveries_start(list(prepared), timezone.now())
        sender.hold({pk: attempt_no for pk, (_attempt_id, attempt_no) in started.items()})
    idle = [pk for pk in prepared if pk not in started]
    sender.release(idle)
    held.difference_update(idle)
    calls: list[_Call] = []
    for pk, (attempt_id, attempt_no) in started.items():
        call = prepared[pk]
        call.attempt_id, call.attempt_no = attempt_id, attempt_no
        calls.append(call)
    ready = [c for c in calls if c.outcome]
    for call in ready:
        call.started_at = call.finished_at = timezone.now()
    if ready:
        _outcomes_record(ready)
        sender.release(c.delivery.pk for c in ready)
        held.difference_update(c.delivery.pk for c in ready)
    return calls, sorted((c for c in calls if not c.outcome), key=_due_of)


def _leases_set(rows: Q, until: datetime) -> int:
    """Set the lease of these rows, skipping rows locked by another transaction (theirs for
    now): overlapping sets updated by several workers never deadlock."""
    with transaction.atomic():
        pks = list(Delivery.objects.select_for_update(skip_locked=True, of=("self",)).filter(rows).values_list("pk"))
        return Delivery.objects.filter(pk__in=[pk for (pk,) in pks]).update(lease_expires_at=until)


def _untaken() -> Q:
    """Queued rows no worker holds (a worker's hold is renewed by its heartbeat; when the
    worker dies, the dispatcher takes the row back at the end of the lease and hands it over
    again, unheld)."""
    return Q(state=DeliveryState.QUEUED, holder="")


def holder_name() -> str:
    """This worker process, as it marks the rows it holds."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def _deliveries_take(delivery_ids: Sequence[int], now: datetime) -> list[int]:
    """Take the queued rows among these that no other worker holds: mark them as this
    worker's and shorten their queue lease to a send lease, renewed by the heartbeat while
    this process holds them. Returns the ids taken. (PostgreSQL re-checks the condition on a
    row another worker has just taken and committed, so two workers never take the same row.)"""
    with transaction.atomic():
        pks = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(_untaken(), pk__in=list(delivery_ids))
            .values_list("pk", flat=True)
        )
        if pks:
            Delivery.objects.filter(pk__in=pks).update(lease_expires_at=now + send_lease(), holder=holder_name())
    return pks


def _deliveries_waiting(*, urgent: bool, limit: int, due_by: datetime | None = None) -> list[int]:
    """Queued deliveries of this urgency, due now (or by ``due_by``), that no worker holds."""
    now = timezone.now()
    due_by = due_by or now + timedelta(seconds=settings.TANDEM_DISPATCH_LEAD_SECONDS)
    return list(
        Delivery.objects.filter(_untaken(), urgent=urgent, next_attempt_at__lte=due_by)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def _gather(sink: queue.SimpleQueue[_Call], *, timeout: float | None, limit: int) -> list[_Call]:
    """The calls that finished together: wait up to ``timeout`` for one, then gather those
    ending within RECORD_WINDOW_SECONDS (up to ``limit``), so a fast network costs a few
    transactions per batch rather than one per post."""
    try:
        calls = [sink.get(timeout=timeout)]
    except queue.Empty:
        return []
    deadline = time.monotonic() + RECORD_WINDOW_SECONDS
    while len(calls) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            calls.append(sink.get(timeout=left))
        except queue.Empty:
            break
    return calls


def _leases_renew(leases: dict[int, int], now: datetime) -> int:
    """Push back the leases of the deliveries this process holds; fenced by state and
    attempt number, so a row the dispatcher took back is never renewed."""
    by_attempt: dict[int, list[int]] = {}
    for pk, attempt_no in leases.items():
        by_attempt.setdefault(attempt_no, []).append(pk)
    mine = Q()
    for attempt_no, pks in by_attempt.items():
        if attempt_no:
            mine |= Q(pk__in=pks, state=DeliveryState.SENDING, attempts=attempt_no)
        else:
            mine |= Q(pk__in=pks, state=DeliveryState.QUEUED)
    # A row locked right now (its outcome being recorded, the dispatcher looking at it) is
    # renewed at the next beat.
    return _leases_set(mine, now + send_lease())


class _Sender:
    """The network calls of one worker process and the leases that cover them.

    Calls run on one bounded pool (TANDEM_PUBLISH_CONCURRENCY threads), at most
    TANDEM_PUBLISH_NETWORK_CONCURRENCY at once per network: the thread that ends a call
    takes its network's next one, so a slow or dead network fills a few threads and the
    others' posts go past it. A heartbeat thread renews the lease of every delivery this
    process holds, in one UPDATE every TANDEM_LEASE_HEARTBEAT_SECONDS, and stops when it
    holds none. Leases are short: when the process dies, the dispatcher takes its
    deliveries back within seconds; and renewed: a long call is never taken for a dead one.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.size = max(1, int(settings.TANDEM_PUBLISH_CONCURRENCY))
        self.per_network = max(1, int(settings.TANDEM_PUBLISH_NETWORK_CONCURRENCY))
        self.pool = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix=POOL_THREAD_PREFIX)
        self.lock = threading.Lock()
        self.running: dict[str, int] = {}
        self.waiting: dict[str, deque[tuple[_Call, queue.SimpleQueue[_Call]]]] = {}
        self.busy = 0  # calls handed over and not finished
        self.leases: dict[int, int] = {}  # delivery id → attempt number (0: taken, not started)
        self.wake = threading.Event()
        self.heartbeat: threading.Thread | None = None

    def room(self) -> int:
        with self.lock:
            return self.size - self.busy

    def hold(self, leases: dict[int, int]) -> None:
        if not leases:
            return
        with self.lock:
            self.leases.update(leases)
            if self.heartbeat is None:
                self.heartbeat = threading.Thread(target=self._beat, name="tandem-heartbeat", daemon=True)
                self.heartbeat.start()

    def release(self, delivery_ids: Iterable[int]) -> None:
        with self.lock:
            for pk in delivery_ids:
                self.leases.pop(pk, None)
            idle = not self.leases
        if idle:
            self.wake.set()

    def submit(self, call: _Call, sink: queue.SimpleQueue[_Call]) -> None:
        with self.lock:
            self.busy += 1
            if self.running.get(call.network, 0) >= self.per_network:
                self.waiting.setdefault(call.network, deque()).append((call, sink))
                return
            self.running[call.network] = self.running.get(call.network, 0) + 1
        self.pool.submit(self._run, call, sink)

    def _run(self, call: _Call, sink: queue.SimpleQueue[_Call]) -> None:
        current: tuple[_Call, queue.SimpleQueue[_Call]] | None = (call, sink)
        while current is not None:
            call, sink = current
            try:
                _call_adapter(call)
            finally:
                with self.lock:
                    self.busy -= 1
                    backlog = self.waiting.get(call.network)
                    if backlog:
                        current = backlog.popleft()
                    else:
                        self.running[call.network] -= 1
                        current = None
                sink.put(call)

    def _beat(self) -> None:
        try:
            while True:
                self.wake.wait(float(settings.TANDEM_LEASE_HEARTBEAT_SECONDS))
                self.wake.clear()
                with self.lock:
                    if not self.leases:
                        self.heartbeat = None
                        return
                    leases = dict(self.leases)
                try:
                    _leases_renew(leases, timezone.now())
                except DatabaseError:
                    # The lease may run out and the dispatcher take the rows back: the
                    # outcome is then fenced off and the rules for a lost attempt apply.
                    logger.warning("Could not renew %s leases.", len(leases), exc_info=True)
                    connection.close()
        finally:
            connections.close_all()


_senders: dict[int, _Sender] = {}
_senders_lock = threading.Lock()


def _sender() -> _Sender:
    """This process's sender (a forked worker gets its own)."""
    with _senders_lock:
        sender = _senders.get(os.getpid())
        if sender is None:
            _senders.clear()
            sender = _senders[os.getpid()] = _Sender()
        return sender


DELIVERY_OUTCOME_FIELDS = [
    "state",
    "updated_at",
    "lease_expires_at",
    "next_attempt_at",
    "remote_id",
    "remote_url",
    "receipt",
    "sent_at",
    "last_error",
    "lateness_ms",
]


def _rows_set(model: type[Model], objs: Sequence[Model], fields: Sequence[str]) -> None:
    """UPDATE each row's fields with one prepared statement run for every row.

    QuerySet.bulk_update builds a CASE expression per field per row; for a batch of fifty
    outcomes that cost more CPU than the fifty network calls. Values go through each
    field's own ``get_db_prep_save``, so JSON and datetimes are adapted as the ORM would.
    """
    if not objs:
        return
    meta = model._meta
    columns: list[Field[Any, Any]] = [meta.get_field(name) for name in fields]  # type: ignore[misc]
    quote = connection.ops.quote_name
    assert meta.pk is not None  # noqa: S101
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608 - identifiers from model metadata
        quote(meta.db_table),
        ", ".join(f"{quote(str(c.column))} = %s" for c in columns),
        quote(str(meta.pk.column)),
    )
    params = [[c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns] + [obj.pk] for obj in objs]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _outcomes_record(calls: Iterable[_Call]) -> None:
    """Write the outcomes of finished calls, fenced by attempt number, in one transaction.

    A constant number of statements per batch (bulk updates), so recording a batch of
    fifty costs about what recording one does.
    """
    calls = list(calls)
    now = timezone.now()
    failed_notices: list[int] = []
    reconnect_channels: dict[int, str] = {}
    gone_channels: dict[int, str] = {}
    with transaction.atomic():
        message_ids = sorted({c.delivery.occurrence.message_id for c in calls})
        # Lock the messages (in id order: no deadlock) so the derived state is computed
        # from a consistent view when two workers finish deliveries of one message together.
        list(Message.objects.select_for_update().filter(pk__in=message_ids).values_list("pk", flat=True))
        current = {
            pk: (state, attempts)
            for pk, state, attempts in Delivery.objects.select_for_update(of=("self",))
            .filter(pk__in=[c.delivery.pk for c in calls])
            .order_by("pk")
            .values_list("pk", "state", "attempts")
        }
        deliveries: list[Delivery] = []
        attempts: list[DeliveryAttempt] = []
        for call in calls:
            delivery = call.delivery
            fenced = current.get(delivery.pk) == (DeliveryState.SENDING, call.attempt_no)
            duration = None
            if call.started_at and call.finished_at:
                duration = int((call.finished_at - call.started_at).total_seconds() * 1000)
            attempts.append(
                DeliveryAttempt(
                    pk=call.attempt_id,
                    delivery_id=delivery.pk,
                    finished_at=call.finished_at or now,
                    outcome=call.outcome if fenced else f"{call.outcome}-stale",
                    http_status=call.http_status,
                    error=call.error[:5000],
                    duration_ms=duration,
                )
            )
            if not fenced:
                logger.warning(
                    "Delivery %s changed during attempt %s; outcome kept in the log only.",
                    delivery.pk,
                    call.attempt_no,
                )
                continue
            state, fields = _decide(call, now)
            delivery.state = state
            delivery.updated_at = now
            for name, value in fields.items():
                setattr(delivery, name, value)
            deliveries.append(delivery)
            if state in (DeliveryState.FAILED, DeliveryState.UNCONFIRMED):
                failed_notices.append(delivery.pk)
            if call.outcome == "auth":
                reconnect_channels[delivery.channel_id] = call.error[:2000]
            if call.outcome == "gone":
                gone_channels[delivery.channel_id] = call.error[:2000]
            if call.editing and call.outcome == "sent" and state == DeliveryState.SENT:
                audit_record(
                    actor=None,
                    actor_label="dispatcher",
                    verb="delivery.edited",
                    obj=delivery,
                    summary={"channel": delivery.channel.name, "language": delivery.language, "post": call.remote_id},
                )
        _rows_set(Delivery, deliveries, DELIVERY_OUTCOME_FIELDS)
        _rows_set(DeliveryAttempt, attempts, ["finished_at", "outcome", "http_status", "error", "duration_ms"])
        for channel_id, reason in reconnect_channels.items():
            channel_reconnect_needed(channel_id=channel_id, reason=reason, now=now)
        for channel_id, reason in gone_channels.items():
            # The endpoint said it is gone for good (410): stop routing to it.
            channel_disable(channel=Channel(pk=channel_id), reason=reason)
        for message_id in message_ids:
            message_state_refresh(message_id=message_id)
        if any(d.state == DeliveryState.RETRY_WAIT for d in deliveries):
            # The dispatcher may be asleep past this retry's time: wake it on commit.
            scheduling.dispatcher_notify()
        if failed_notices:
            transaction.on_commit(_failure_notify_hook(failed_notices))
    metrics.deliveries_recorded(calls, recorded=deliveries)


def _decide(call: _Call, now: datetime) -> tuple[str, dict[str, Any]]:
    """The delivery's next state and fields for this call's outcome."""
    delivery = call.delivery
    cleared: dict[str, Any] = {"lease_expires_at": None}
    max_attempts = settings.TANDEM_MAX_ATTEMPTS
    if call.outcome in ("sent", "exercise"):
        moment = call.started_at or now
        return DeliveryState.SENT, {
            **cleared,
            "next_attempt_at": None,
            "remote_id": call.remote_id[:500],
            "remote_url": call.remote_url[:1000],
            "receipt": call.extra,
            "sent_at": call.finished_at or now,
            "last_error": "",
            "lateness_ms": int((moment - delivery.due_at).total_seconds() * 1000),
        }
    error = call.error or call.outcome
    if call.outcome == "transient" and call.attempt_no < max_attempts:
        delay = retry_delay(call.attempt_no, call.retry_after)
        return DeliveryState.RETRY_WAIT, {
            **cleared,
            "next_attempt_at": now + timedelta(seconds=delay),
            "last_error": error,
        }
    if call.outcome == "auth":
        # Held until the channel is reconnected: the dispatcher skips channels that need it.
        return DeliveryState.RETRY_WAIT, {**cleared, "next_attempt_at": now, "last_error": error}
    if call.outcome == "unknown":
        adapter = call.adapter
        repeatable = call.editing or (adapter is not None and adapter.supports_idempotency)
        if repeatable and call.attempt_no < max_attempts:
            return DeliveryState.RETRY_WAIT, {
                **cleared,
                "next_attempt_at": now + timedelta(seconds=retry_delay(call.attempt_no)),
                "last_error": error,
            }
        return DeliveryState.UNCONFIRMED, {**cleared, "next_attempt_at": None, "last_error": error}
    if call.outcome == "transient":
        error = _("Gave up after %(attempts)s attempts: %(error)s") % {"attempts": call.attempt_no, "error": error}
    return DeliveryState.FAILED, {**cleared, "next_attempt_at": None, "last_error": error}


# --- message state ------------------------------------------------------------------------


def message_state_refresh(*, message_id: int, now: datetime | None = None) -> str:
    """Derive the message's state from its deliveries (call inside a transaction).

    ``publishing`` while any delivery is due and unfinished; then ``published`` when all
    went out, ``partially_failed`` (naming the channels) or ``failed``. Decisions such as
    cancelled or retracted are never overwritten.
    """
    now = now or timezone.now()
    message = Message.objects.only("pk", "state", "state_reason", "state_reason_coded").get(pk=message_id)
    if message.state not in DERIVED_STATES:
        return message.state
    deliveries = Delivery.objects.filter(occurrence__message_id=message_id).exclude(state=DeliveryState.CANCELLED)
    counts = dict(deliveries.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    in_flight = sum(counts.get(s, 0) for s in IN_FLIGHT)
    due_pending = deliveries.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now).exists()
    future = counts.get(DeliveryState.PENDING, 0) > 0
    sent = counts.get(DeliveryState.SENT, 0) + counts.get(DeliveryState.RETRACTED, 0)
    missing = sum(counts.get(s, 0) for s in NOT_DELIVERED)
    reason: dict[str, Any] | None = None
    state: str
    if in_flight or due_pending:
        state = MessageState.PUBLISHING
    elif missing:
        # A recurring message with occurrences still to come has not failed as a whole.
        state = MessageState.PARTIALLY_FAILED if sent or future else MessageState.FAILED
        failed = deliveries.filter(state__in=NOT_DELIVERED).select_related("channel").order_by("channel__name", "pk")
        reason = {
            "code": "not_delivered",
            "channels": [
                {"channel": d.channel.name, "state": d.state, "error": d.last_error[:200]} for d in failed[:20]
            ],
        }
    elif future:
        state = MessageState.SCHEDULED
    elif sent:
        state = MessageState.PUBLISHED
    else:
        state = message.state
    # Text in state_reason here is an old row's reason, written before reasons were coded: it goes.
    if state != message.state or reason != message.state_reason_coded or message.state_reason:
        Message.objects.filter(pk=message_id).update(
            state=state, state_reason="", state_reason_coded=reason, updated_at=now
        )
    if state == MessageState.PUBLISHED and message.state != MessageState.PUBLISHED:
        # Failures have their own mail (deliveries_failure_notify); this one says all went out.
        hooks.message_published.call(message_id=message_id)
    return state


# --- notifications ------------------------------------------------------------------------


def _mail(users: Iterable[User], subject_body: Callable[[], tuple[str, str]]) -> None:
    """Send each user a mail in their preferred language; subject_body() builds (subject, body)."""
    seen: set[str] = set()
    for user in users:
        if not user or not user.email or user.email in seen:
            continue
        seen.add(user.email)
        with translation.override(getattr(user, "preferred_language", None) or settings.LANGUAGE_CODE):
            subject, body = subject_body()
        try:
            mail_send(subject=subject, body=body, to=[user.email])
        except Exception:  # noqa: BLE001 - a mail outage must not undo a recorded outcome
            logger.exception("Could not mail %s", user.email)


def _failure_notify_hook(delivery_ids: Sequence[int]) -> Callable[[], None]:
    """A named on-commit hook (Django's robust handler logs the hook's __qualname__)."""
    ids = list(delivery_ids)

    def failure_notify() -> None:
        deliveries_failure_notify(delivery_ids=ids)

    return failure_notify


def _reconnect_notify_hook(channel_id: int) -> Callable[[], None]:
    def reconnect_notify() -> None:
        channel_reconnect_notify(channel_id=channel_id)

    return reconnect_notify


def deliveries_failure_notify(*, delivery_ids: Sequence[int]) -> None:
    """Tell each message's author and approver which deliveries failed or are unconfirmed,
    with the channel and the network's reason: one mail per message, not one per post."""
    deliveries = list(
        Delivery.objects.filter(pk__in=list(delivery_ids))
        .select_related("channel", "occurrence__message__author", "occurrence__message__approved_by")
        .order_by("occurrence__message_id", "channel__name", "pk")
    )
    by_message: dict[int, list[Delivery]] = {}
    for delivery in deliveries:
        by_message.setdefault(delivery.occurrence.message_id, []).append(delivery)
    for group in by_message.values():
        message = group[0].occurrence.message
        link = f"{settings.TANDEM_PUBLIC_URL.rstrip('/')}/admin/publisher/message/{message.pk}/change/"
        _mail([message.author, message.approved_by], partial(_failure_mail, message, group, link))  # type: ignore[list-item]


def _failure_mail(message: Message, group: list[Delivery], link: str) -> tuple[str, str]:
    """(subject, body) in the active language."""
    if len(group) > 1:
        lines = "\n".join(
            f"- {d.channel.name} ({d.language.upper()}, {d.get_state_display()}): {d.last_error}" for d in group
        )
        params = {"title": message.title, "count": len(group), "lines": lines, "link": link}
        subject = _("Tandem: “%(title)s” was not published on %(count)s channels") % params
        body = (
            _(
                "These posts of “%(title)s” did not go out or were not confirmed by the network:\n\n%(lines)s\n\n"
                "Check the account of an unconfirmed post before publishing it again.\n\n%(link)s\n"
            )
            % params
        )
        return subject, body
    delivery = group[0]
    params = {
        "title": message.title,
        "channel": delivery.channel.name,
        "language": delivery.language.upper(),
        "reason": delivery.last_error,
        "link": link,
    }
    if delivery.state == DeliveryState.UNCONFIRMED:
        subject = _("Tandem: “%(title)s” may not have been published on %(channel)s") % params
        body = (
            _(
                "The network did not confirm the %(language)s post of “%(title)s” on %(channel)s.\n"
                "It may or may not be online: check the account before publishing it again.\n\n"
                "Reason: %(reason)s\n\n%(link)s\n"
            )
            % params
        )
    else:
        subject = _("Tandem: “%(title)s” was not published on %(channel)s") % params
        body = (
            _(
                "The %(language)s post of “%(title)s” could not be published on %(channel)s.\n\n"
                "Reason: %(reason)s\n\n%(link)s\n"
            )
            % params
        )
    return subject, body


def channel_admins() -> list[User]:
    return list(
        User.objects.filter(Q(groups__name=Role.CHANNEL_ADMIN) | Q(is_superuser=True), is_active=True).distinct()
    )


def channel_reconnect_notify(*, channel_id: int) -> None:
    """Tell the channel administrators that a channel's credentials stopped working."""
    channel = Channel.objects.get(pk=channel_id)
    link = f"{settings.TANDEM_PUBLIC_URL.rstrip('/')}/admin/publisher/channel/{channel.pk}/change/"

    def build() -> tuple[str, str]:
        params = {"channel": channel.name, "reason": channel.needs_reconnect_reason, "link": link}
        return (
            _("Tandem: channel %(channel)s needs reconnecting") % params,
            _(
                "The network refused the credentials of %(channel)s. Its posts are held until "
                "the channel is reconnected.\n\nReason: %(reason)s\n\n%(link)s\n"
            )
            % params,
        )

    _mail(channel_admins(), build)


# --- operator actions ------------------------------------------------------------------------


def delivery_retry(*, delivery: Delivery, actor: User) -> Delivery:
    """Send a failed, unconfirmed or expired delivery again (an operator's decision)."""
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.state not in NOT_DELIVERED:
            raise InvalidTransition(
                _("Only a failed, unconfirmed or expired delivery can be sent again (this one is “%(state)s”).")
                % {"state": delivery.get_state_display()}
            )
        now = timezone.now()
        previous = delivery.state
        delivery.state = DeliveryState.PENDING
        delivery.next_attempt_at = now
        delivery.save(update_fields=["state", "next_attempt_at", "updated_at"])
        Message.objects.filter(
            pk=delivery.occurrence.message_id,
            state__in=[MessageState.FAILED, MessageState.PARTIALLY_FAILED, MessageState.PUBLISHED],
        ).update(state=MessageState.PUBLISHING, updated_at=now)
        audit_record(actor=actor, verb="delivery.retried", obj=delivery, summary={"from": previous})
        scheduling.dispatcher_notify()
    return delivery


def channel_reconnect_needed(*, channel_id: int, reason: str, now: datetime | None = None, notify: bool = True) -> bool:
    """Hold a channel's deliveries until a person reconnects it (the dispatcher skips it) and
    tell the channel administrators after the commit, with the network's reason (`notify`
    off when a person disconnected it on purpose). True if the flag was raised now (an
    already flagged channel keeps its first reason and time)."""
    now = now or timezone.now()
    with transaction.atomic():
        flagged = Channel.objects.filter(pk=channel_id, needs_reconnect=False).update(
            needs_reconnect=True, needs_reconnect_reason=reason[:2000], needs_reconnect_since=now, updated_at=now
        )
        if flagged and notify:
            transaction.on_commit(_reconnect_notify_hook(channel_id))
    return bool(flagged)


def channel_reconnected(*, channel: Channel, actor: User | None) -> Channel:
    """Clear the reconnect flag: the dispatcher resumes the channel's held deliveries."""
    with transaction.atomic():
        Channel.objects.filter(pk=channel.pk).update(
            needs_reconnect=False, needs_reconnect_reason="", needs_reconnect_since=None, updated_at=timezone.now()
        )
        channel.refresh_from_db()
        audit_record(actor=actor, verb="channel.reconnected", obj=channel)
        scheduling.dispatcher_notify()
    return channel


def deliveries_retract(*, delivery_ids: Sequence[int]) -> dict[str, list[int]]:
    """Ask each adapter to delete a sent post; record success or the network's refusal."""
    result: dict[str, list[int]] = {"retracted": [], "failed": []}
    for delivery in Delivery.objects.filter(pk__in=list(delivery_ids), state=DeliveryState.SENT).select_related(
        "channel", "channel__credential", "occurrence__message"
    ):
        error = ""
        if (delivery.receipt or {}).get("edited_in_place"):
            # The post is the corrected original's: deleting it is retracting that message.
            error = _("This correction changed the original post in place: retract the original message to delete it.")
        elif delivery.remote_id != EXERCISE_REMOTE_ID and delivery.occurrence.message.status != MessageStatus.EXERCISE:
            try:
                registry.get_adapter(delivery.channel).retract(posts.receipt_of(delivery))
            except ChannelError as exc:
                error = exc.message
            except Exception as exc:  # noqa: BLE001 - record it; the other channels still go
                logger.exception("Retract of delivery %s crashed", delivery.pk)
                error = f"{type(exc).__name__}: {exc}"
        with transaction.atomic():
            if error:
                receipt = {**(delivery.receipt or {}), "retract_error": error}
                Delivery.objects.filter(pk=delivery.pk).update(
                    receipt=receipt,
                    last_error=_("Could not delete the post: %(error)s") % {"error": error},
                    updated_at=timezone.now(),
                )
                result["failed"].append(delivery.pk)
            else:
                Delivery.objects.filter(pk=delivery.pk, state=DeliveryState.SENT).update(
                    state=DeliveryState.RETRACTED, updated_at=timezone.now()
                )
                result["retracted"].append(delivery.pk)
    if result["failed"]:
        delivery = Delivery.objects.select_related("occurrence__message").get(pk=result["failed"][0])
        audit_record(
            actor=None,
            actor_label="dispatcher",
            verb="message.retract_incomplete",
            obj=delivery.occurrence.message,
            summary=result,
        )
    message_ids = Message.objects.filter(
        occurrences__deliveries__pk__in=list(delivery_ids), state=MessageState.RETRACTED
    ).values_list("pk", flat=True)
    for message_id in sorted(set(message_ids)):
        retracted_files_remove(message_id=message_id)
    return result


def retracted_files_remove(*, message_id: int) -> list[str]:
    """Once the networks were asked to delete a retracted message's posts: our public copies of
    its images go too (the renditions networks fetch and the outbox copies, which the outbox
    adapter removes with each post). An image another message still uses keeps its renditions;
    the stored originals stay with the message as its record. Returns the files removed."""
    message = Message.objects.get(pk=message_id)
    if message.state != MessageState.RETRACTED:
        return []
    shas = set(Attachment.objects.filter(message_id=message_id).values_list("sha256", flat=True))
    shared = set(
        Attachment.objects.filter(sha256__in=shas)
        .exclude(message_id=message_id)
        .exclude(message__state=MessageState.RETRACTED)
        .values_list("sha256", flat=True)
    )
    removed = renditions_remove(shas - shared)
    if removed:
        audit_record(
            actor=None,
            actor_label="dispatcher",
            verb="message.files_removed",
            obj=message,
            summary={"renditions": len(removed), "kept_shared": len(shared)},
        )
    return removed
