"""Fan-out of one urgent alert to 200 channels whose network takes 50 ms per call.

Usage (PostgreSQL + Redis, your own database and Redis db):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> REDIS_URL=redis://127.0.0.1:6379/<n> \\
        .venv/bin/python bench/fanout.py [--channels 200] [--latency 0.05]

Starts the urgent django-q2 cluster (Q_CLUSTER_NAME=urgent), the routine cluster and the
dispatcher, then approves one urgent FR/NL message through the real services: its
deliveries are handed to the urgent queue when the approval commits. Prints the time from
that commit until the last channel's post is sent (the fake adapter's call returned and
the outcome is recorded). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._support import Processes, django_setup, percentile, redis_queues_clear  # noqa: E402


def _now_into(moments: list[float]) -> None:
    moments.append(time.time())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per network call (default 0.05)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    django_setup()

    from django.db import transaction

    from accounts.services import roles_sync
    from publisher.models import Channel, Delivery, DeliveryState, Message, Urgency
    from publisher.territory.reference_data import municipalities_load
    from publisher.workflow import services
    from publisher.workflow.checklist import checklist_all_ticked
    from tests.factories import UserFactory
    from tests.fakes.dispatch_adapters import calls_in

    roles_sync()
    municipalities_load()
    author = UserFactory(username="bench-author", roles=["author"])
    approver = UserFactory(username="bench-approver", roles=["approver"])
    redis_queues_clear()
    print(f"one urgent message to {args.channels} channels, {args.latency * 1000:.0f} ms per network call")
    with tempfile.TemporaryDirectory(prefix="tandem-fanout-") as tmp:
        work = Path(tmp)
        Channel.objects.filter(kind="fake").update(enabled=False)
        channels = Channel.objects.bulk_create(
            [
                Channel(
                    name=f"fanout {i}",
                    kind="fake",
                    language="fr" if i % 2 else "nl",
                    covers_all=True,
                    config={"dir": str(work), "latency": args.latency},
                )
                for i in range(args.channels)
            ]
        )
        procs = Processes(work)
        created: list[int] = []
        try:
            procs.start("qcluster", Q_CLUSTER_NAME="urgent")
            procs.start("qcluster")
            procs.start("run_dispatcher")
            time.sleep(4)  # clusters up and idle
            for run in range(args.runs):
                message = services.message_create(
                    author=author,
                    title=f"fan-out {run}",
                    variants={"fr": services.VariantInput("Alerte"), "nl": services.VariantInput("Alarm")},
                    audience=services.Audience(municipalities=["21004"]),
                    urgency=Urgency.URGENT,
                )
                services.message_submit(message=message, actor=author)
                committed: list[float] = []
                with transaction.atomic():
                    # Registered first, so it runs first once the approval commits.
                    transaction.on_commit(partial(_now_into, committed))
                    services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
                deliveries = Delivery.objects.filter(occurrence__message=message)
                deadline = time.monotonic() + 60
                while deliveries.filter(state=DeliveryState.SENT).count() < args.channels:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)
                sent = list(deliveries.filter(state=DeliveryState.SENT).values_list("sent_at", flat=True))
                done = max(s.timestamp() for s in sent) - committed[0] if sent else float("nan")
                ids = set(deliveries.values_list("pk", flat=True))
                calls = [at - committed[0] for d, _k, at in calls_in(work) if d in ids]
                print(
                    f"run {run + 1}: {len(sent)}/{args.channels} sent; all sent {done * 1000:.0f} ms after the "
                    f"approval committed (first call +{min(calls) * 1000:.0f} ms, "
                    f"p50 call start +{percentile(calls, 50) * 1000:.0f} ms, last call start "
                    f"+{max(calls) * 1000:.0f} ms)"
                )
                created.append(message.pk)
        finally:
            procs.stop_all()
            Message.objects.filter(pk__in=created).delete()
            Channel.objects.filter(pk__in=[c.pk for c in channels]).delete()


if __name__ == "__main__":
    main()
