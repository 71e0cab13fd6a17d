"""What the metrics cost: recording one settled delivery (counters, histograms, its log line)
in a worker, and a /metrics scrape summing the files of many processes.

    .venv/bin/python bench/metrics_cost.py [--deliveries 20000] [--processes 8,64,256]

No database: the deliveries are unsaved model instances, as the publish path hands them over
after loading them. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = ("webhook", "mastodon", "bluesky", "telegram", "facebook", "x", "outbox", "email")


def calls(count: int) -> list[SimpleNamespace]:
    from publisher.models import Channel, Delivery, Message, Occurrence

    now = datetime.now(UTC)
    made = []
    for i in range(count):
        message = Message(pk=i, approved_by_policy=i % 2 == 0, created_at=now - timedelta(seconds=2))
        delivery = Delivery(
            pk=i,
            channel=Channel(pk=i % 40, kind=NETWORKS[i % len(NETWORKS)]),
            occurrence=Occurrence(pk=i, message=message),
            state="sent",
            urgent=i % 3 == 0,
            lateness_ms=i % 5000,
            sent_at=now,
        )
        call = SimpleNamespace(delivery=delivery, outcome="sent", http_status=200, started_at=now, finished_at=now)
        made.append(call)
    return made


def record(count: int) -> None:
    from publisher import metrics

    batch = calls(count)
    metrics.deliveries_recorded(batch, recorded=[c.delivery for c in batch])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=20000)
    parser.add_argument("--processes", default="8,64,256")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="tandem-bench-metrics-")
    os.environ.update({"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings", "PROMETHEUS_MULTIPROC_DIR": folder})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from prometheus_client import CollectorRegistry, generate_latest

    from publisher import metrics

    try:
        batch = calls(args.deliveries)
        delivery_log = logging.getLogger("publisher.deliveries")
        levels = (("log line not written (LOG_LEVEL=WARNING)", logging.WARNING), ("with its log line", logging.INFO))
        for label, level in levels:
            delivery_log.setLevel(level)
            root = logging.getLogger()
            handlers, root.handlers = root.handlers, [logging.StreamHandler(io.StringIO())]
            began = time.perf_counter()
            metrics.deliveries_recorded(batch, recorded=[c.delivery for c in batch])
            elapsed = time.perf_counter() - began
            root.handlers = handlers
            print(f"record one sent delivery, {label}: {elapsed / len(batch) * 1e6:.1f} µs ({len(batch)} deliveries)")
        delivery_log.setLevel(logging.WARNING)  # the processes below only fill files
        done = 1
        context = multiprocessing.get_context("fork")
        for wanted in sorted(int(n) for n in args.processes.split(",")):
            while done < wanted:
                child = context.Process(target=record, args=(200,))
                child.start()
                child.join()
                done += 1
            files = len(list(Path(folder).glob("*.db")))
            rounds = 20
            began = time.perf_counter()
            for _ in range(rounds):
                registry = CollectorRegistry(auto_describe=False)
                metrics.collectors_register(registry)
                body = generate_latest(registry)
            elapsed = (time.perf_counter() - began) / rounds
            print(
                f"scrape of the event-time series, {wanted} processes ({files} files): "
                f"{elapsed * 1000:.1f} ms, {len(body) // 1024} KiB"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
