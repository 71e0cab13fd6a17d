"""Shared plumbing for the dispatch benchmarks: Django set-up on PostgreSQL + Redis,
subprocesses (dispatcher, django-q2 clusters) and percentiles. Prints, never asserts."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = "fake=tests.fakes.dispatch_adapters.FakeAdapter,fake-nokey=tests.fakes.dispatch_adapters.FakeNoKeyAdapter"


def django_setup() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: the benchmark measures the production setup.")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["TANDEM_CHANNEL_ADAPTERS"] = ADAPTERS
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # The benchmark's processes count into a folder of their own, not into the one of a
        # `make run` going on beside it; removed at the end.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tandem-bench-metrics-")
        atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def redis_queues_clear() -> None:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("django_q:*"):
        client.delete(key)


class Processes:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{len(self.running)}-{args[0]}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.running:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 15
        for proc in self.running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.running.clear()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(label: str, lateness_ms: list[float]) -> str:
    if not lateness_ms:
        return f"{label:<28} no calls recorded"
    figures = "  ".join(
        f"{name}={value:7.1f} ms"
        for name, value in (
            ("min", min(lateness_ms)),
            ("p50", percentile(lateness_ms, 50)),
            ("p95", percentile(lateness_ms, 95)),
            ("p99", percentile(lateness_ms, 99)),
            ("max", max(lateness_ms)),
        )
    )
    return f"{label:<28} n={len(lateness_ms):>5}  {figures}"
