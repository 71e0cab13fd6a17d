"""Faults: slow networks and killed workers, through the real processes (PostgreSQL + Redis).

Two runs on the same service (one dispatcher, two routine django-q2 clusters started like
the Procfile's ``worker``), each with 1,000 webhook deliveries over 20 channels (50 messages
× 20 channels). By default every delivery falls due in the same second (``--spread 0``, a
burst: the scenario of issue 10 point 4, where the drain time measures the service and not
the schedule); with ``--spread 10`` the due times are spread over 10 s, like a busy morning,
and the drain from the first due cannot be shorter than the spread plus one slow call.
Every printed figure says which it was. In any shape a held post settles no sooner than the
timeout plus one retry delay (``--timeout`` + ``--retry-base``/2 at least): that is the
floor of the slow run's drain.

1. **slow**: the local receiver holds 30 % of the posts past the channels' timeout (the
   post is received, the answer comes too late: an unknown outcome, resent with the same
   ``webhook-id``);
2. **kills**: the same, plus 50 ``kill -9`` of django-q2 worker processes during the run.

``--slow-by channel`` makes a share of the channels slow instead of a share of the posts: six
of twenty "networks" hold their first post past the timeout, the fourteen others never do.
Whether one slow network holds the others is then read off "the deliveries never held": when
they all settle, and their settled − due p50/p99. Compare with ``--slow-share 0`` (no fault):
the difference is the delay the slow networks add to the healthy ones.

For each run it prints the drain time (first delivery due → every delivery settled, and
last due → settled), the peak of queued deliveries, duplicates at the receiver (same
``webhook-id`` again, which a receiver drops; or the same delivery under another id, which
it cannot), lost deliveries (marked sent but never received, or never settled) and the
final states. Prints figures; asserts nothing. Every wait is bounded (``--bound``).

    createdb -h 127.0.0.1 -U postgres workers_bench   # once; the run empties it first
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/workers_bench REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/faults.py [--spread 0] [--deliveries 1000] [--kills 50] [--runs slow,kills]

To compare with an older build, run this same file (and ``bench/_support.py``) from a
worktree of that build: it starts ``qcluster`` where ``run_cluster`` does not exist yet.

The receiver listens on 127.0.0.1 only, one free port per channel (one "network" per
channel, as twenty receivers would be).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._support import ROOT, Processes, django_setup, redis_queues_clear  # noqa: E402

WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - a throwaway bench secret
SECRET_REF = "TANDEM_SECRET_BENCH_FAULTS"  # noqa: S105 - the variable name, not a secret


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return  # a killed worker's connection reset mid-request: expected here


class Receiver:
    """Webhook endpoints on free ports of 127.0.0.1; holds the first request of a share of
    the webhook-ids (chosen by a hash, so both code versions see the same faults)."""

    def __init__(self, endpoints: int, slow_share: float, hold: float, slow_by: str = "post") -> None:
        self.lock = threading.Lock()
        self.arrivals: list[tuple[str, int, float]] = []  # (webhook-id, delivery id, at)
        self.seen: set[str] = set()
        self.slow_share = slow_share
        self.hold = hold
        self.held = 0
        self.held_deliveries: set[int] = set()
        # "post": a share of all posts is slow, wherever it goes; "channel": a share of the
        # endpoints (networks) is slow for every first post, the others never are.
        self.slow_by = slow_by
        self.slow_ports: set[int] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                webhook_id = self.headers.get("webhook-id", "")
                try:
                    delivery_id = int(json.loads(body)["data"]["delivery_id"])
                except (ValueError, KeyError, TypeError):
                    delivery_id = 0
                with receiver.lock:
                    first = webhook_id not in receiver.seen
                    receiver.seen.add(webhook_id)
                    receiver.arrivals.append((webhook_id, delivery_id, time.time()))
                    slow = first and receiver.is_slow(webhook_id, self.server.server_address[1])
                    if slow:
                        receiver.held += 1
                        receiver.held_deliveries.add(delivery_id)
                if slow:
                    time.sleep(receiver.hold)  # received, answered too late
                try:
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the client gave up

            def log_message(self, *args: object) -> None:
                return

        self.servers = []
        for _ in range(endpoints):
            server = _Server(("127.0.0.1", 0), Handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)
        slow_endpoints = round(endpoints * slow_share)
        self.slow_ports = {int(server.server_address[1]) for server in self.servers[:slow_endpoints]}

    def is_slow(self, webhook_id: str, port: int) -> bool:
        if self.slow_by == "channel":
            return port in self.slow_ports
        digest = hashlib.sha256(webhook_id.encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < self.slow_share

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.servers[index].server_address[1]}/hook"

    def reset(self) -> None:
        with self.lock:
            self.arrivals.clear()
            self.seen.clear()
            self.held = 0
            self.held_deliveries.clear()

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()


def worker_pids() -> list[int]:
    """Pids of the django-q2 worker processes, as the clusters report them (Redis stats)."""
    from django_q.brokers import get_broker
    from django_q.status import Stat

    pids: list[int] = []
    for stat in Stat.get_all(broker=get_broker()):
        pids.extend(int(p) for p in (stat.workers or []))
    return pids


def deliveries_create(*, author, channels, count: int, first_due, spread: float, tag: str) -> list[int]:
    from publisher.models import Delivery, Message, MessageState, Occurrence, Variant

    per_message = len(channels)
    messages = max(1, count // per_message)
    ids: list[int] = []
    for k in range(messages):
        due_at = first_due + timedelta(seconds=spread * k / messages)
        message = Message.objects.create(
            title=f"{tag} {k}", author=author, state=MessageState.SCHEDULED, publish_at=due_at
        )
        Variant.objects.create(message=message, language="fr", text=f"Faults {tag} {k}")
        occurrence = Occurrence.objects.create(message=message, due_at=due_at)
        created = Delivery.objects.bulk_create(
            [
                Delivery(occurrence=occurrence, channel=c, language="fr", due_at=due_at, next_attempt_at=due_at)
                for c in channels
            ]
        )
        ids.extend(d.pk for d in created)
    return ids


def run_once(args, label: str, receiver: Receiver, author, channels, kills: int) -> dict[str, object]:
    from django.db import connection
    from django.utils import timezone

    from publisher.models import Delivery, DeliveryState

    final = [DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.UNCONFIRMED, DeliveryState.EXPIRED]
    receiver.reset()
    first_due = timezone.now() + timedelta(seconds=3)
    ids = deliveries_create(
        author=author, channels=channels, count=args.deliveries, first_due=first_due, spread=args.spread, tag=label
    )
    last_due = first_due + timedelta(
        seconds=args.spread * (len(ids) // len(channels) - 1) / (len(ids) // len(channels))
    )
    connection.close()
    rows = Delivery.objects.filter(pk__in=ids)
    rng = random.Random(7)  # noqa: S311 - which worker to kill, not cryptography
    killed = 0
    next_kill = first_due.timestamp()
    kill_every = max(0.05, args.kill_window / max(1, kills))
    peak_queued = 0
    settled_at = None
    deadline = time.time() + args.bound
    print(f"[{label}] {len(ids)} deliveries, {due_shape(args.spread)} from {first_due:%H:%M:%S}", flush=True)
    while time.time() < deadline:
        now = time.time()
        if killed < kills and now >= next_kill:
            next_kill = now + kill_every
            pids = worker_pids()
            if pids:
                pid = rng.choice(pids)
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
        counts = Counter(rows.values_list("state", flat=True))
        peak_queued = max(peak_queued, counts.get(DeliveryState.QUEUED, 0) + counts.get(DeliveryState.SENDING, 0))
        if sum(counts.get(s, 0) for s in final) == len(ids) and killed >= kills:
            settled_at = max(t.timestamp() for t in rows.values_list("updated_at", flat=True) if t is not None)
            break
        time.sleep(0.1)
    states = Counter(rows.values_list("state", flat=True))
    time.sleep(0.5)  # answers still on the wire reach the receiver
    with receiver.lock:
        arrivals = list(receiver.arrivals)
        held = receiver.held
        held_deliveries = set(receiver.held_deliveries)
    # "The others": deliveries whose post was never held. One slow network must not hold them.
    others = [
        (updated.timestamp() - due.timestamp(), updated.timestamp())
        for pk, due, updated in rows.filter(state__in=final).values_list("pk", "due_at", "updated_at")
        if pk not in held_deliveries and updated is not None
    ]
    others_lateness = sorted(late for late, _at in others)
    by_id = Counter(w for w, _d, _t in arrivals)
    ids_of_delivery: dict[int, set[str]] = {}
    for webhook_id, delivery_id, _t in arrivals:
        ids_of_delivery.setdefault(delivery_id, set()).add(webhook_id)
    sent_ids = set(rows.filter(state=DeliveryState.SENT).values_list("pk", flat=True))
    received = {d for d in ids_of_delivery if d}
    return {
        "label": label,
        "shape": due_shape(args.spread),
        "deliveries": len(ids),
        "drain": (settled_at - first_due.timestamp()) if settled_at else None,
        "after_last_due": (settled_at - last_due.timestamp()) if settled_at else None,
        "others": len(others),
        "others_drain": (max(at for _l, at in others) - first_due.timestamp()) if others else None,
        "others_p50": others_lateness[len(others_lateness) // 2] if others else None,
        "others_p99": others_lateness[min(len(others_lateness) - 1, int(len(others_lateness) * 0.99))]
        if others
        else None,
        "peak": peak_queued,
        "held": held,
        "kills": killed,
        "requests": len(arrivals),
        "dup_same_id": sum(n - 1 for n in by_id.values()),
        "dup_other_id": sum(1 for s in ids_of_delivery.values() if len(s) > 1),
        "lost": len(sent_ids - received) + (len(ids) - sum(states.get(s, 0) for s in final)),
        "states": dict(states),
    }


def service_settings() -> str:
    """The settings that shape the drain, as this build has them (an older build may lack some)."""
    from django.conf import settings

    names = ["TANDEM_TASK_FANOUT", "TANDEM_PUBLISH_NETWORK_CONCURRENCY", "TANDEM_SEND_LEASE_SECONDS"]
    workers = settings.Q_CLUSTER.get("workers")
    return f"workers per cluster {workers}, " + ", ".join(f"{name}={getattr(settings, name, 'n/a')}" for name in names)


def due_shape(spread: float) -> str:
    return "burst (all due in the same second)" if spread <= 0 else f"due times spread over {spread:g} s"


def report(result: dict[str, object], bound: float) -> None:
    drain = result["drain"]
    print(f"\n== {result['label']}, {result['shape']} ==")
    if drain is None:
        print(f"  NOT drained within {bound:.0f} s")
    else:
        n = int(result["deliveries"])  # type: ignore[call-overload]
        print(
            f"  drain: {drain:.1f} s from the first due ({n / drain:.0f} deliveries/s), "  # type: ignore[operator]
            f"{result['after_last_due']:.1f} s after the last due"
        )
    if result["others_drain"] is not None:
        print(
            f"  the {result['others']} deliveries never held: all settled {result['others_drain']:.1f} s from the "
            f"first due; settled − due p50 {result['others_p50']:.2f} s, p99 {result['others_p99']:.2f} s"
        )
    print(f"  peak queued+sending: {result['peak']}")
    print(f"  kill -9 of workers: {result['kills']}; posts held past the timeout: {result['held']}")
    print(
        f"  receiver: {result['requests']} requests; duplicates with the same webhook-id: {result['dup_same_id']}; "
        f"deliveries received under another id: {result['dup_other_id']}; lost: {result['lost']}"
    )
    print(f"  final states: {result['states']}")


def prepare_postgres(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base.replace("postgres://", "postgresql://", 1) + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _exit(*_args: object) -> None:
    sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument(
        "--spread", type=float, default=0.0, help="seconds over which the deliveries fall due (0: a burst)"
    )
    parser.add_argument("--slow-share", type=float, default=0.3, help="share of posts answered past the timeout")
    parser.add_argument(
        "--slow-by",
        choices=["post", "channel"],
        default="post",
        help="post: a share of all posts is slow; channel: a share of the channels (networks) is slow",
    )
    parser.add_argument("--hold", type=float, default=6.0, help="seconds the receiver holds a slow post")
    parser.add_argument("--timeout", type=float, default=3.0, help="the channels' read timeout")
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--kill-window", type=float, default=15.0, help="seconds over which the kills are spread")
    parser.add_argument("--retry-base", default="1", help="TANDEM_RETRY_BASE_SECONDS of the service")
    parser.add_argument("--runs", default="slow,kills")
    parser.add_argument("--bound", type=float, default=300.0, help="give up a run after this many seconds")
    args = parser.parse_args()
    args.deliveries = max(args.channels, min(args.deliveries, 5000))
    signal.signal(signal.SIGTERM, _exit)  # stop the service's processes on the way out
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        prepare_postgres(url)
    os.environ[SECRET_REF] = WEBHOOK_SECRET
    os.environ["TANDEM_RETRY_BASE_SECONDS"] = args.retry_base
    os.environ.setdefault("TANDEM_DEMO", "0")
    django_setup()

    from accounts.models import User
    from publisher.models import Channel

    redis_queues_clear()
    author, _ = User.objects.get_or_create(username="bench-faults")
    receiver = Receiver(args.channels, args.slow_share, args.hold, args.slow_by)
    channels = Channel.objects.bulk_create(
        [
            Channel(
                name=f"faults {i}",
                kind="webhook",
                language="fr",
                covers_all=True,
                secret_ref=SECRET_REF,
                config={"url": receiver.url(i), "timeout": args.timeout, "connect_timeout": args.timeout},
            )
            for i in range(args.channels)
        ]
    )
    print(
        f"{args.deliveries} deliveries over {args.channels} webhook channels, {args.slow_share:.0%} of "
        f"{'channels (every first post)' if args.slow_by == 'channel' else 'posts'} held "
        f"{args.hold:.0f} s (timeout {args.timeout:.0f} s), retry base {args.retry_base} s, "
        f"{due_shape(args.spread)}; 1 dispatcher + 2 routine clusters; {service_settings()}",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="tandem-faults-") as tmp:
        procs = Processes(Path(tmp))
        try:
            procs.start("run_dispatcher")
            # Like the Procfile: run_cluster where the build has it, qcluster before.
            cluster = "run_cluster" if (ROOT / "publisher/management/commands/run_cluster.py").exists() else "qcluster"
            procs.start(cluster)
            procs.start(cluster)
            time.sleep(5)  # clusters up and idle
            for run in [r.strip() for r in args.runs.split(",") if r.strip()]:
                kills = args.kills if run == "kills" else 0
                results.append(run_once(args, run, receiver, author, channels, kills))
        finally:
            procs.stop_all()
            receiver.stop()
    for result in results:
        report(result, args.bound)


if __name__ == "__main__":
    main()
