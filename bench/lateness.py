"""Lateness of deliveries due together: Tandem's dispatcher vs django-q2's Schedule.

Usage (PostgreSQL + Redis, your own database and Redis db):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> REDIS_URL=redis://127.0.0.1:6379/<n> \\
        .venv/bin/python bench/lateness.py [-n 1000,10000] [--spread 0] [--workers 2] [--skip-django-q]

For each size in ``-n`` it starts one ``run_dispatcher`` and one ``qcluster`` with two
workers, creates N deliveries (1,000 fake channels at most, one message per 1,000) due at
the same instant (or spread evenly over ``--spread`` seconds), and measures lateness as the
in-process fake adapter's call time minus the due time; it prints a table of p50 / p99 /
throughput per size, the time from the first due time to the last call, duplicates, and the
peak resident memory of the dispatcher and of the largest worker process (sampled every
0.2 s), with their memory when the first call went out and at the end (flat means the
same). ``-n 100000 --spread 60`` is issue 16's "100,000 due within one minute".
Then, for the 1,000 case only, it schedules the same calls with django-q2's own
``Schedule`` (one ONCE schedule each, same due instant) on a cluster with its scheduler on,
and measures the call time minus the due time the same way. django-q2's scheduler runs in
the cluster's guard loop about every 30 s, first about 30 s after the cluster starts, so its
figure depends on that phase (0 to ~30 s; here the cluster starts ``--lead`` seconds before
the due time, ``--django-q-lead``). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
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


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def group_pids(pgid: int) -> list[int]:
    """The processes of a process group (a started command and its forks)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


class MemoryWatch:
    """Samples the resident memory of the dispatcher and of each cluster process."""

    def __init__(self, dispatcher: int, cluster: int) -> None:
        self.dispatcher, self.cluster = dispatcher, cluster
        self.peak = {"dispatcher": 0, "worker": 0}
        self.at_first_call: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def sample(self) -> dict[str, int]:
        workers = [rss_kib(pid) for pid in group_pids(self.cluster)]
        return {"dispatcher": rss_kib(self.dispatcher), "worker": max(workers, default=0)}

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            now = self.sample()
            for role, kib in now.items():
                self.peak[role] = max(self.peak[role], kib)
            self.last = now

    def first_call(self) -> None:
        if not self.at_first_call:
            self.at_first_call = self.sample()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def tandem_run(n: int, workers: int, lead: float, spread: float, work: Path) -> dict[str, object]:
    from django.db.models import F
    from django.utils import timezone

    from accounts.models import User
    from publisher.models import Channel, Delivery, DeliveryState, Message, MessageState, Occurrence, Variant
    from tests.fakes.dispatch_adapters import calls_in

    author, _ = User.objects.get_or_create(username="bench-author")
    folder = work / f"tandem-{n}"
    folder.mkdir()
    # Rows are made due a day ahead, then moved to ``lead`` seconds from when they are all
    # written: creating 100,000 takes a while.
    first_due = timezone.now() + timedelta(days=1)
    per_message = min(n, 1000)
    messages = max(1, n // per_message)
    channels = Channel.objects.bulk_create(
        [
            Channel(name=f"bench {i}", kind="fake", language="fr", covers_all=True, config={"dir": str(folder)})
            for i in range(per_message)
        ]
    )
    due_of: dict[int, float] = {}
    made: list[Message] = []
    for k in range(messages):
        due_at = first_due + timedelta(seconds=spread * k / messages)
        message = Message.objects.create(
            title=f"bench {k}", author=author, state=MessageState.SCHEDULED, publish_at=due_at
        )
        made.append(message)
        Variant.objects.create(message=message, language="fr", text="Bonjour")
        occurrence = Occurrence.objects.create(message=message, due_at=due_at)
        rows = Delivery.objects.bulk_create(
            [
                Delivery(occurrence=occurrence, channel=c, language="fr", due_at=due_at, next_attempt_at=due_at)
                for c in channels
            ],
            batch_size=1000,
        )
        due_of.update((d.pk, due_at.timestamp()) for d in rows)
    total = len(due_of)
    shift = first_due - (timezone.now() + timedelta(seconds=lead))
    first_due -= shift
    Delivery.objects.filter(occurrence__message__in=made).update(
        due_at=F("due_at") - shift, next_attempt_at=F("next_attempt_at") - shift
    )
    Occurrence.objects.filter(message__in=made).update(due_at=F("due_at") - shift)
    Message.objects.filter(pk__in=[m.pk for m in made]).update(publish_at=F("publish_at") - shift)
    due_of = {pk: at - shift.total_seconds() for pk, at in due_of.items()}
    sent = Delivery.objects.filter(occurrence__message__in=made, state=DeliveryState.SENT)
    procs = Processes(work)
    try:
        dispatcher = procs.start("run_dispatcher")
        cluster = procs.start("qcluster", TANDEM_WORKERS=str(workers))
        memory = MemoryWatch(dispatcher.pid, cluster.pid)
        wait_for(lambda: (folder / "calls.log").exists(), timeout=lead + 60, every=0.05)
        memory.first_call()
        done = wait_for(lambda: sent.count() == total, timeout=lead + spread + 180, every=0.5)
    finally:
        memory.close()
        procs.stop_all()
    states = Counter(Delivery.objects.filter(occurrence__message__in=made).values_list("state", flat=True))
    calls = calls_in(folder)
    lateness = [(at - due_of[d]) * 1000 for d, _key, at in calls]
    if not done:
        print(f"  Tandem: not all sent within the time limit: {dict(states)}")
    last = max((at for *_x, at in calls), default=first_due.timestamp())
    result = {
        "n": total,
        "spread": spread,
        "lateness": lateness,
        "drain": last - first_due.timestamp(),
        "throughput": total / max(last - first_due.timestamp() - spread, 1e-3) if not spread else None,
        "duplicates": len(calls) - len({d for d, _k, _a in calls}),
        "unsent": total - states.get(DeliveryState.SENT, 0),
        "memory": memory,
    }
    Delivery.objects.filter(occurrence__message__in=made).delete()
    Message.objects.filter(pk__in=[m.pk for m in made]).delete()
    Channel.objects.filter(pk__in=[c.pk for c in channels]).delete()
    return result


def report(results: list[dict[str, object]]) -> None:
    print()
    print(
        f"{'deliveries':>10} {'due':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'per s':>8} {'drain s':>8} "
        f"{'dup':>4} {'unsent':>6}  peak RSS MiB (at first call → end)"
    )
    for r in results:
        lateness = r["lateness"]
        memory = r["memory"]
        due = "together" if not r["spread"] else f"over {r['spread']:g} s"
        per_second = f"{r['throughput']:8,.0f}" if r["throughput"] else f"{'—':>8}"
        rss = ", ".join(
            f"{role} {memory.peak[role] / 1024:.0f} ({memory.at_first_call.get(role, 0) / 1024:.0f} → "
            f"{memory.last.get(role, 0) / 1024:.0f})"
            for role in ("dispatcher", "worker")
        )
        print(
            f"{r['n']:>10,} {due:>10} {percentile(lateness, 50):8.0f} {percentile(lateness, 99):8.0f} "
            f"{max(lateness, default=float('nan')):8.0f} {per_second} {r['drain']:8.1f} {r['duplicates']:>4} "
            f"{r['unsent']:>6}  {rss}"
        )


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
    parser.add_argument("-n", default="1000", help="deliveries due together, comma-separated sizes (default 1000)")
    parser.add_argument("--spread", type=float, default=0.0, help="seconds over which they fall due (default 0)")
    parser.add_argument("--workers", type=int, default=2, help="django-q2 workers (default 2)")
    parser.add_argument("--lead", type=float, default=15.0, help="seconds between set-up and the first due time")
    parser.add_argument(
        "--django-q-lead", type=float, default=8.0, help="the same for django-q2's Schedule (its 30 s phase)"
    )
    parser.add_argument("--keep", metavar="DIR", help="keep the process logs and call logs in DIR")
    parser.add_argument("--skip-django-q", action="store_true", help="only measure Tandem")
    args = parser.parse_args()
    sizes = [int(size) for size in args.n.split(",") if size.strip()]
    django_setup()
    print(
        f"{', '.join(f'{n:,}' for n in sizes)} deliveries, "
        f"{'due together' if not args.spread else f'due over {args.spread:g} s'}, "
        f"{args.workers} workers, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            redis_queues_clear()
            results.append(tandem_run(n, args.workers, args.lead, args.spread, work))
            print(summary(f"Tandem dispatcher, {n:,}", results[-1]["lateness"]), flush=True)
        report(results)
        thousand = next((r for r in results if r["n"] == 1000 and not r["spread"]), None)
        if args.skip_django_q or thousand is None:
            return
        redis_queues_clear()
        django_q = django_q_run(1000, args.workers, args.django_q_lead, work)
    tandem = thousand["lateness"]
    if tandem and django_q:
        print(
            f"ratio django-q2 / Tandem (1,000 due together): "
            f"p50 {percentile(django_q, 50) / max(percentile(tandem, 50), 1e-3):.0f}x, "
            f"p99 {percentile(django_q, 99) / max(percentile(tandem, 99), 1e-3):.0f}x"
        )


if __name__ == "__main__":
    main()
