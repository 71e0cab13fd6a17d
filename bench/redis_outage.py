"""Redis outage: an alert POSTed while Redis is down, then Redis back → alert delivered.

Starts its own throwaway redis-server on a free port (never the shared one), the service as
the Procfile does (web, routine and urgent clusters, dispatcher) on PostgreSQL, two webhook
channels (FR/NL, police zone 5339) pointing at a local receiver. Each round: kill Redis,
POST an alert (prints the status and the answer time), keep Redis down ``--down`` seconds,
start it again and print the time from "Redis answers again" to "every delivery of the
alert received". Prints figures; asserts nothing.

    .venv/bin/python bench/redis_outage.py --pg-url postgres://postgres@127.0.0.1:5432/<your db>
    .venv/bin/python bench/redis_outage.py --rounds 5 --down 3

The database named in --pg-url is dropped and created again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.alert_latency import (  # noqa: E402
    WEBHOOK_SECRET,
    ZONES,
    Receiver,
    free_port,
    prepare_postgres,
    processes_start,
    processes_stop,
    request,
    service_commands,
    service_prepare,
    wait_until_up,
)
from tests.fakes.outages import ThrowawayRedis  # noqa: E402

ZONE = "5339"


def post_alert(url: str, token: str, alert: dict[str, object]) -> tuple[int, dict[str, object]]:
    """POST and return (status, JSON body); a non-JSON answer (a 500 page) is reported as text."""
    req = urllib.request.Request(url, data=json.dumps(alert).encode(), method="POST")  # noqa: S310 - local
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 - local
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError as exc:
        return 0, {"error": str(exc)}
    try:
        return status, json.loads(raw or b"{}")
    except ValueError:
        return status, {"text": raw[:200].decode(errors="replace")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/dispatcher")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--down", type=float, default=3.0, help="Seconds Redis stays down after the POST.")
    parser.add_argument("--timeout", type=float, default=60.0, help="Seconds to wait for the deliveries.")
    parser.add_argument("--cluster-command", default="run_cluster", help="run_cluster, or qcluster for comparison.")
    args = parser.parse_args()

    redis = ThrowawayRedis()
    redis.start()
    workdir = Path(tempfile.mkdtemp(prefix="tandem-bench-outage-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "DEBUG": "1",
            "TANDEM_DEMO": "0",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": args.pg_url,
            "REDIS_URL": redis.url,
            "TANDEM_OUTBOX_DIR": str(workdir / "outbox"),
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),  # not the folder of a `make run`
            "MEDIA_ROOT": str(workdir / "media"),
            "TANDEM_SECRET_BENCH_WEBHOOK": WEBHOOK_SECRET,
        }
    )
    receiver = Receiver()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        prepare_postgres(args.pg_url)
        token = service_prepare(env)
        port = free_port()
        base = f"http://127.0.0.1:{port}/api/v1"
        log = (workdir / "service.log").open("wb")
        processes += processes_start(env, log, service_commands(port, args.cluster_command))
        wait_until_up(f"{base}/municipalities/21004/", token)
        for language in ("fr", "nl"):
            status, body = request(
                "POST",
                f"{base}/channels/",
                token,
                {
                    "name": f"Webhook {language.upper()} {ZONE}",
                    "kind": "webhook",
                    "language": language,
                    "municipalities": ZONES[ZONE],
                    "config": {"url": receiver.url},
                    "secret_ref": "TANDEM_SECRET_BENCH_WEBHOOK",
                },
            )
            if status != 201:
                raise SystemExit(f"could not create the webhook channel: {status} {body}")
        time.sleep(3)  # the clusters are up
        recoveries: list[float] = []
        for number in range(args.rounds):
            redis.kill()
            time.sleep(0.5)
            marker = f"bench-{uuid.uuid4().hex}"
            alert = {
                "audience": {"zones": [ZONE]},
                "variants": {"fr": {"text": f"Alerte {number} {marker}"}, "nl": {"text": f"Alarm {number} {marker}"}},
                "category": "Safety",
                "severity": "Minor",
                "urgency": "Immediate",
                "certainty": "Observed",
                "event": "Benchmark",
                "status": "actual",
            }
            sent = time.perf_counter()
            status, body = post_alert(f"{base}/alerts/", token, alert)
            answered = time.perf_counter() - sent
            expected = len(body.get("deliveries", [])) if status == 201 else 0
            time.sleep(args.down)
            early = len(receiver.arrivals.get(marker.encode(), []))
            redis.start()
            back = time.perf_counter()
            line = f"round {number + 1}: POST while Redis down → {status} in {answered * 1000:.0f} ms"
            if status != 201:
                print(f"{line}; body {json.dumps(body)[:200]}", flush=True)
                continue
            arrivals = receiver.wait_for(marker.encode(), expected, args.timeout)
            if arrivals is None:
                print(
                    f"{line}; {expected} deliveries NOT received within {args.timeout:.0f} s of Redis back", flush=True
                )
                continue
            recovery = max(arrivals[:expected]) - back
            recoveries.append(recovery)
            print(
                f"{line}; {early} delivered during the outage; Redis back → all {expected} delivered in "
                f"{recovery * 1000:.0f} ms",
                flush=True,
            )
        if recoveries:
            median = statistics.median(recoveries) * 1000
            worst = max(recoveries) * 1000
            print(f"Redis back → alert delivered: n={len(recoveries)} median={median:.0f} ms max={worst:.0f} ms")
    finally:
        processes_stop(processes)
        receiver.stop()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
