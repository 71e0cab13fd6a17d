"""Punctuality on the embedded default (SQLite + ORM broker, as ``make run``): N routine FR
messages for Nivelles, approved through the services, all due in the same second; lateness
is the arrival at a local webhook receiver minus the due time. Three runs, each at another
phase of the second, print p50/p95/p99.

    .venv/bin/python bench/punctuality.py [--messages 25] [--runs 3]

Starts the processes of the Procfile except the web server (the approvals are made here,
through the same services the API calls): the routine and urgent clusters (run_cluster)
and the dispatcher, on a fresh SQLite database in a temporary folder.
Target: p99 ≤ 250 ms in every run. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.alert_latency import WEBHOOK_SECRET, Receiver, percentile, processes_start, processes_stop  # noqa: E402

NIVELLES = "25072"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=25)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ahead", type=float, default=2.0, help="Seconds between the last approval and the due time.")
    parser.add_argument("--keep", action="store_true", help="Keep the work folder (database, service log).")
    parser.add_argument("--cluster-command", default="run_cluster", help="run_cluster, or qcluster for comparison.")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tandem-punctuality-"))
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        {
            "DEBUG": "1",
            "TANDEM_DEMO": "0",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
            "TANDEM_OUTBOX_DIR": str(work / "outbox"),
            "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),  # not the folder of a `make run`
            "MEDIA_ROOT": str(work / "media"),
            "TANDEM_DISPATCH_WAKE_DIR": str(work / "wake"),
            "TANDEM_SECRET_BENCH_WEBHOOK": WEBHOOK_SECRET,
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.services import roles_sync
    from publisher.models import Channel, DeliveryAttempt, Municipality
    from publisher.territory.reference_data import municipalities_load
    from publisher.workflow import services
    from publisher.workflow.checklist import checklist_all_ticked
    from tests.factories import UserFactory

    call_command("migrate", verbosity=0)
    municipalities_load()
    roles_sync()
    author = UserFactory(username="author", roles=["author"])
    approver = UserFactory(username="approver", roles=["approver"])
    receiver = Receiver()
    channel = Channel.objects.create(
        name="Webhook FR Nivelles",
        kind="webhook",
        language="fr",
        config={"url": receiver.url},
        secret_ref="TANDEM_SECRET_BENCH_WEBHOOK",
    )
    channel.municipalities.set(Municipality.objects.filter(nis_code=NIVELLES))

    log = (work / "service.log").open("wb")
    processes = processes_start(
        dict(os.environ),
        log,
        [
            ([args.cluster_command], {}),
            ([args.cluster_command], {"Q_CLUSTER_NAME": "urgent"}),
            (["run_dispatcher"], {}),
        ],
    )
    results: list[list[float]] = []
    try:
        time.sleep(5)  # the processes start
        for run in range(args.runs):
            # Another phase of the second (and of every poll) in each run.
            time.sleep(random.random())  # noqa: S311 - not cryptographic
            markers = [f"bench-{uuid.uuid4().hex}" for _ in range(args.messages)]
            approvals_take = 0.3 * args.messages  # a generous estimate on a busy 2-core machine
            due_epoch = math.ceil(time.time() + approvals_take + args.ahead)
            due_at = datetime.fromtimestamp(due_epoch, tz=UTC)
            message_ids = []
            for number, marker in enumerate(markers):
                message = services.message_create(
                    author=author,
                    title=f"Punctuality {run}.{number}",
                    variants={"fr": services.VariantInput(f"Message {number} {marker}")},
                    audience=services.Audience(municipalities=[NIVELLES]),
                    schedule=services.Schedule(publish_at=due_at),
                )
                services.message_submit(message=message, actor=author)
                services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
                message_ids.append(message.pk)
            approved_ahead = due_epoch - time.time()
            offset = time.time() - time.perf_counter()
            lateness = []
            for marker in markers:
                arrivals = receiver.wait_for(marker.encode(), 1, timeout=max(5.0, due_epoch - time.time() + 10))
                if arrivals:
                    lateness.append((arrivals[0] + offset - due_epoch) * 1000)
            results.append(lateness)
            # When the worker took the rows (dispatch and hand-over), apart from the calls themselves.
            taken = [
                (started - due_at).total_seconds() * 1000
                for started in DeliveryAttempt.objects.filter(
                    delivery__occurrence__message_id__in=message_ids
                ).values_list("started_at", flat=True)
            ]
            if not lateness:
                print(f"run {run + 1}: nothing arrived; see the service log (--keep)", flush=True)
                continue
            print(
                f"run {run + 1}: {len(lateness)}/{args.messages} arrived, last approval {approved_ahead:.2f} s "
                f"before the due time; lateness p50={percentile(lateness, 50):.0f} ms "
                f"p95={percentile(lateness, 95):.0f} ms p99={percentile(lateness, 99):.0f} ms "
                f"max={max(lateness):.0f} ms; rows taken by the worker at due +{max(taken, default=0):.0f} ms at most",
                flush=True,
            )
    finally:
        processes_stop(processes)
        receiver.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    worst = max((percentile(r, 99) for r in results if r), default=float("nan"))
    complete = all(len(r) == args.messages for r in results)
    verdict = "met" if complete and worst <= 250 else "NOT met"
    print(f"worst p99 over {len(results)} runs: {worst:.0f} ms; target p99 ≤ 250 ms in every run: {verdict}")


if __name__ == "__main__":
    main()
