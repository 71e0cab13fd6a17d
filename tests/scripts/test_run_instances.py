"""Two instances of the development service (`make run`: honcho running the Procfile) on one
machine, on two ports, each with its own var folder as two checkouts have: both serve, each
dispatcher beats on its own database, and both stop on SIGTERM leaving nothing behind.

The database is migrated once and copied, instead of running `make setup` twice."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from django.db import connection

from tests.scripts.serve_support import ROOT, Browser, base_env, free_port, manage, start, stop, wait_until

BIN = Path(ROOT / ".venv" / "bin")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    if connection.vendor != "sqlite":
        pytest.skip("Runs in the SQLite run: make run's embedded default.")
    db = tmp_path_factory.mktemp("template") / "tandem.sqlite3"
    done = manage("migrate", "--noinput", "-v", "0", env=base_env(DEBUG="1", DATABASE_URL=f"sqlite:///{db}"))
    assert done.returncode == 0, done.stderr
    return db


def _instance_env(var: Path, port: int) -> dict[str, str]:
    """What `make run PORT=…` sets, with the var paths a second checkout would have."""
    env = base_env(
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="config.settings",
        TANDEM_WEB_BIND=f"127.0.0.1:{port}",
        TANDEM_PUBLIC_URL=f"http://127.0.0.1:{port}",
        PATH=f"{BIN}:{base_env().get('PATH', '')}",
        DATABASE_URL=f"sqlite:///{var / 'tandem.sqlite3'}",
        TANDEM_OUTBOX_DIR=str(var / "outbox"),
        TANDEM_DISPATCH_WAKE_DIR=str(var / "dispatch-wake"),
        MEDIA_ROOT=str(var / "media"),
        STATIC_ROOT=str(var / "static"),
        TANDEM_WORKERS="1",
        TANDEM_URGENT_WORKERS="1",
    )
    env.pop("REDIS_URL", None)  # the embedded default: django-q2's ORM broker
    return env


def test_two_instances_of_make_run_on_two_ports_both_serve(migrated, tmp_path):
    instances: list[tuple[subprocess.Popen[bytes], Browser, Path, Path]] = []
    try:
        for name in ("first", "second"):
            var = tmp_path / name / "var"
            var.mkdir(parents=True)
            shutil.copy(migrated, var / "tandem.sqlite3")
            port = free_port()
            log = tmp_path / f"{name}.log"
            proc = start([str(BIN / "honcho"), "-f", "Procfile", "start"], env=_instance_env(var, port), log=log)
            instances.append((proc, Browser(f"http://127.0.0.1:{port}"), var, log))

        for proc, browser, _var, log in instances:

            def ready(proc=proc, browser=browser, log=log) -> bool:
                assert proc.poll() is None, log.read_text(errors="replace")
                try:
                    return browser.get("/readyz").status_code == 200
                except Exception:  # noqa: BLE001 - not listening yet
                    return False

            assert wait_until(ready, timeout=45, every=0.3), log.read_text(errors="replace")

        for _proc, browser, var, log in instances:
            page = browser.get("/admin/login/")
            assert page.status_code == 200
            assert 'name="username"' in page.text
            # Static files in debug: unhashed names, straight from the apps.
            css = browser.get("/static/publisher/tandem.css")
            assert css.status_code == 200
            assert css.headers["content-type"].startswith("text/css")
            checks = browser.get("/readyz").json()["checks"]
            # The copied database had no heartbeat: this instance's own dispatcher wrote it.
            assert checks["dispatcher"] == "ok"
            assert list((var / "dispatch-wake").iterdir()), "the dispatcher listens in its own folder"
            output = log.read_text(errors="replace")
            assert output.count("Cluster running") == 2  # routine and urgent
            assert "Error" not in output, output
        for proc, _browser, _var, _log in instances:
            took, left = stop(proc, within=10)
            assert not left, f"still running {took:.1f} s after SIGTERM: {sorted(left)}"
    finally:
        for proc, browser, _var, _log in instances:
            browser.close()
            if proc.poll() is None:
                stop(proc, within=10)
