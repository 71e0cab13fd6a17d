"""Lateness of N deliveries due in the same second: Tandem's dispatcher vs django-q2's Schedule.

Usage (PostgreSQL + Redis, your own database and Redis db):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> REDIS_URL=redis://127.0.0.1:6379/<n> \\
        .venv/bin/python bench/lateness.py [-n 1000] [--workers 2] [--skip-django-q]

Part 1 starts one ``run_dispatcher`` and one ``qcluster`` with two workers, creates N
deliveries (one per fake channel) due at the same instant, and measures lateness as the
in-process fake adapter's call time minus the due time. Part 2 schedules the same N calls
with django-q2's own ``Schedule`` (one ONCE schedule each, same due instant) on a cluster
with its scheduler on, and measures the call time minus the due time the same way.
django-q2's scheduler runs in the cluster's guard loop about every 30 s, first about 30 s
after the cluster starts, so its figure depends on that phase (0 to ~30 s; here the cluster
starts ``--lead`` seconds before the due time).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._support import Processes, django_setup, percentile, redis_queues_clear, summary  # noqa: E402

LOG_ENV = "TANDEM_BENCH_CALL_LOG"


def record_call(index: int, due_epoch: float) -> None:
    """The django-q2 Schedule's task: note when it ran (same clock as the fake adapter)."""
    at = time.time()
    fd = os.open(os.environ[LOG_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{index} {due_epoch:.6f} {at:.6f}\n".encode())
    finally:
        os.close(fd)


def wait_for(predicate, timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def tandem_run(n: int, workers: int, lead: float, work: Path) -> list[float]:
    from django.utils import timezone

    from accounts.models import User
    from publisher.models import Channel, Delivery, DeliveryState, Message, MessageState, Occurrence, Variant
    from tests.fakes.dispatch_adapters import calls_in

    author, _ = User.objects.get_or_create(username="bench-author")
    folder = work / "tandem"
    folder.mkdir()
    due_at = timezone.now() + timedelta(seconds=lead)
    message = Message.objects.create(title="bench", author=author, state=MessageState.SCHEDULED, publish_at=due_at)
    Variant.objects.create(message=message, language="fr", text="Bonjour")
    occurrence = Occurrence.objects.create(message=message, due_at=due_at)
    channels = Channel.objects.bulk_create(
        [
            Channel(name=f"bench {i}", kind="fake", language="fr", covers_all=True, config={"dir": str(folder)})
            for i in range(n)
        ]
    )
    Delivery.objects.bulk_create(
        [
            Delivery(occurrence=occurrence, channel=c, language="fr", due_at=due_at, next_attempt_at=due_at)
            for c in channels
        ]
    )
    procs = Processes(work)
    try:
        procs.start("run_dispatcher")
        procs.start("qcluster", TANDEM_WORKERS=str(workers))
        done = wait_for(
            lambda: Delivery.objects.filter(occurrence=occurrence, state=DeliveryState.SENT).count() == n,
            timeout=lead + 120,
        )
    finally:
        procs.stop_all()
    states = Counter(Delivery.objects.filter(occurrence=occurrence).values_list("state", flat=True))
    calls = calls_in(folder)
    due = due_at.timestamp()
    lateness = [(at - due) * 1000 for _id, _key, at in calls]
    if not done:
        print(f"  Tandem: not all sent within the time limit: {states}")
    duplicates = len(calls) - len({d for d, _k, _a in calls})
    first, last = min(at for *_x, at in calls), max(at for *_x, at in calls)
    print(summary("Tandem dispatcher", lateness))
    print(
        f"{'':<28} throughput {n / max(last - due, 1e-6):,.0f} deliveries/s from the due time "
        f"({n / max(last - first, 1e-6):,.0f}/s first to last call); duplicates: {duplicates}"
    )
    Delivery.objects.filter(occurrence=occurrence).delete()
    message.delete()
    Channel.objects.filter(pk__in=[c.pk for c in channels]).delete()
    return lateness


def django_q_run(n: int, workers: int, lead: float, work: Path) -> list[float]:
    from django.utils import timezone
    from django_q.models import Schedule

    log = work / "django-q.log"
    os.environ[LOG_ENV] = str(log)
    due_at = timezone.now() + timedelta(seconds=lead)
    due = due_at.timestamp()
    Schedule.objects.filter(name__startswith="bench-").delete()
    Schedule.objects.bulk_create(
        [
            Schedule(
                name=f"bench-{i}",
                func="bench.lateness.record_call",
                args=f"({i}, {due!r})",
                schedule_type=Schedule.ONCE,
                repeats=-1,
                next_run=due_at,
            )
            for i in range(n)
        ]
    )
    procs = Processes(work)
    try:
        # The scheduler runs in the cluster's guard loop, ~30 s apart, first ~30 s after start.
        procs.start("qcluster", TANDEM_WORKERS=str(workers), PYTHONPATH=str(Path(__file__).parent.parent))
        wait_for(lambda: log.exists() and len(log.read_text().splitlines()) >= n, timeout=lead + 150, every=0.5)
    finally:
        procs.stop_all()
    rows = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    lateness = [(float(at) - float(due_epoch)) * 1000 for _i, due_epoch, at in rows]
    Schedule.objects.filter(name__startswith="bench-").delete()
    print(summary("django-q2 Schedule", lateness))
    if len(rows) < n:
        print(f"{'':<28} only {len(rows)} of {n} ran within the time limit")
    return lateness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1000, help="deliveries due in the same second (default 1000)")
    parser.add_argument("--workers", type=int, default=2, help="django-q2 workers (default 2)")
    parser.add_argument("--lead", type=float, default=8.0, help="seconds between set-up and the due time")
    parser.add_argument("--keep", metavar="DIR", help="keep the process logs and call logs in DIR")
    parser.add_argument("--skip-django-q", action="store_true", help="only measure Tandem")
    args = parser.parse_args()
    django_setup()
    redis_queues_clear()
    print(f"{args.n} deliveries due at the same instant, {args.workers} workers, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        tandem = tandem_run(args.n, args.workers, args.lead, work)
        if args.skip_django_q:
            return
        redis_queues_clear()
        django_q = django_q_run(args.n, args.workers, args.lead, work)
    if tandem and django_q:
        print(
            f"ratio django-q2 / Tandem: p50 {percentile(django_q, 50) / max(percentile(tandem, 50), 1e-3):.0f}x, "
            f"p99 {percentile(django_q, 99) / max(percentile(tandem, 99), 1e-3):.0f}x"
        )


if __name__ == "__main__":
    main()
