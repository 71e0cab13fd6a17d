"""The production start (scripts/serve, what `make serve` runs): its refusals, and the real
thing on PostgreSQL + Redis with DEBUG off: gunicorn, WhiteNoise, both clusters and the
dispatcher, on a fresh database, signed in through, publishing an alert, stopped by SIGTERM.

`make serve` runs scripts/serve from .venv-prod (runtime requirements only); these tests run it
with the test environment's interpreter, which has the same packages and more."""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection
from django_otp.oath import totp

from tests.api.conftest import alert_body
from tests.fakes.webhook import FakeWebhookReceiver
from tests.scripts.serve_support import ROOT, Browser, base_env, free_port, kill, manage, start, stop, wait_until

SERVE = ROOT / "scripts" / "serve"
STRONG_KEY = secrets.token_urlsafe(64)
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "tandem.example.be",
    "TANDEM_PUBLIC_URL": "https://tandem.example.be",
    "TANDEM_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


def serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(SERVE)], cwd=ROOT, env=base_env(**env), capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("change", "line"),
    [
        ({"DEBUG": "1"}, "Cannot start: DEBUG is on"),
        ({"DEBUG": "true"}, "Cannot start: DEBUG is on"),
        ({"SECRET_KEY": ""}, "Cannot start: SECRET_KEY is not set"),
        ({"ALLOWED_HOSTS": " , "}, "Cannot start: ALLOWED_HOSTS is not set"),
        ({"TANDEM_PUBLIC_URL": ""}, "Cannot start: TANDEM_PUBLIC_URL is not set"),
        ({"TANDEM_ENCRYPTION_KEYS": " "}, "Cannot start: TANDEM_ENCRYPTION_KEYS is not set"),
        ({"WEB_CONCURRENCY": "0"}, "Cannot start: WEB_CONCURRENCY must be a whole number"),
        ({"SECRET_KEY": "django-insecure-" + "k" * 60}, "Cannot start: SECRET_KEY is too weak"),
        ({"TANDEM_CHANNEL_ALLOWED_NETWORKS": "10.0.0.0/33"}, "Cannot start: TANDEM_CHANNEL_ALLOWED_NETWORKS"),
    ],
)
def test_an_unsafe_environment_is_refused_in_one_line_before_anything_starts(change, line, tmp_path):
    result = serve({**PRODUCTION, "STATIC_ROOT": str(tmp_path / "static"), **change})
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(line)
    assert not (tmp_path / "static").exists(), "it prepared something before refusing"


def test_every_reason_is_given_at_once():
    result = serve(
        {"DEBUG": "1", "SECRET_KEY": "", "ALLOWED_HOSTS": "", "TANDEM_PUBLIC_URL": "", "TANDEM_ENCRYPTION_KEYS": ""}
    )
    assert result.returncode == 2
    assert [line.split(":")[1].split()[0] for line in result.stderr.splitlines()] == [
        "DEBUG",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "TANDEM_PUBLIC_URL",
        "TANDEM_ENCRYPTION_KEYS",
    ]


def test_a_taken_port_is_one_line_naming_make_serve(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = serve({**PRODUCTION, "PORT": str(port), "STATIC_ROOT": str(tmp_path / "static")})
    assert result.returncode == 1
    assert result.stdout.strip() == (
        f"Cannot listen on 127.0.0.1:{port} (Address already in use): stop what runs there "
        f"or pick another port, e.g. make serve PORT={port + 1}"
    )
    assert not (tmp_path / "static").exists()


def test_make_serve_installs_the_runtime_requirements_only_in_its_own_environment():
    plan = subprocess.run(
        ["make", "-n", "-B", "serve", "PORT=8123"],  # noqa: S607 - make from PATH, as a developer runs it
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert "-m venv .venv-prod" in plan
    assert ".venv-prod/bin/pip install --quiet --disable-pip-version-check -r requirements.txt" in plan
    assert "requirements-dev" not in plan
    assert 'HOST="127.0.0.1" PORT="8123" exec .venv-prod/bin/python scripts/serve' in plan
    runtime = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^gunicorn==", runtime, re.M)
    assert re.search(r"^whitenoise==", runtime, re.M)


# --- The real thing -------------------------------------------------------------------------

SEED = """
import json
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice
from accounts.models import User
from accounts.tokens import api_token_create
from publisher.models import Channel

staff = User.objects.create_user("duty-officer", password=PASSWORD, is_staff=True)
staff.groups.set(Group.objects.filter(name__in=["author", "approver"]))
device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
caller = User.objects.create_user("dispatch-centre", password=None)
caller.groups.set(Group.objects.filter(name="api_client"))
_token, plaintext = api_token_create(user=caller, name="dispatch", scopes=["alert", "read"])
for language in ("fr", "nl"):
    Channel.objects.create(
        name=f"Webhook {language}", kind="webhook", language=language, covers_all=True,
        config={"url": URL}, secret_ref="TANDEM_SECRET_WEBHOOK_TEST",
    )
print(json.dumps({"token": plaintext, "totp_key": device.key}))
"""


@dataclass
class Production:
    proc: subprocess.Popen[bytes]
    browser: Browser
    receiver: FakeWebhookReceiver
    token: str
    totp_key: str
    password: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _postgres_and_redis() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("The production start is tested on PostgreSQL.")
    if not settings.REDIS_URL:
        pytest.skip("The production start is tested with the Redis broker (REDIS_URL).")


@contextlib.contextmanager
def _fresh_database() -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server, as a URL; dropped afterwards."""
    import psycopg

    db = connection.settings_dict
    name = f"tandem_serve_{secrets.token_hex(4)}"
    user = quote(db.get("USER") or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    server = f"{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    admin = f"postgresql://{server}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{server}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def production(tmp_path: Path) -> Iterator[Production]:
    """scripts/serve with DEBUG off on a free port and a fresh database, ready, with a staff
    user enrolled in TOTP, an API token and FR/NL webhook channels to a local receiver."""
    _postgres_and_redis()
    import redis

    broker = redis.Redis.from_url(settings.REDIS_URL)
    for key in broker.scan_iter("django_q:*"):
        broker.delete(key)
    receiver = FakeWebhookReceiver()
    receiver.start()
    port = free_port()
    with _fresh_database() as database_url:
        env = base_env(**PRODUCTION)
        env.update(
            ALLOWED_HOSTS="127.0.0.1",
            TANDEM_PUBLIC_URL=f"http://127.0.0.1:{port}",
            HOST="127.0.0.1",
            PORT=str(port),
            WEB_CONCURRENCY="2",
            DATABASE_URL=database_url,
            REDIS_URL=settings.REDIS_URL,
            STATIC_ROOT=str(tmp_path / "static"),
            MEDIA_ROOT=str(tmp_path / "media"),
            TANDEM_OUTBOX_DIR=str(tmp_path / "outbox"),
            TANDEM_DISPATCH_WAKE_DIR=str(tmp_path / "wake"),
            TANDEM_WORKERS="1",
            TANDEM_URGENT_WORKERS="1",
            # The receiver is a plain-http service on loopback: allowed by name, as an
            # internal receiver would be.
            TANDEM_CHANNEL_ALLOWED_NETWORKS="127.0.0.0/8",
            TANDEM_CHANNEL_HTTP_ALLOWED="1",
            TANDEM_SECRET_WEBHOOK_TEST=receiver.secret,
        )
        log = tmp_path / "serve.log"
        proc = start([sys.executable, str(SERVE)], env=env, log=log)
        browser = Browser(f"http://127.0.0.1:{port}")
        try:

            def ready() -> bool:
                assert proc.poll() is None, log.read_text(errors="replace")
                try:
                    return browser.get("/readyz").status_code == 200
                except Exception:  # noqa: BLE001 - not listening yet
                    return False

            # A fresh database: every migration runs first.
            began = time.monotonic()
            assert wait_until(ready, timeout=120, every=0.5), log.read_text(errors="replace")
            print(f"make serve: ready {time.monotonic() - began:.1f} s after start on an empty database")  # noqa: T201
            password = secrets.token_urlsafe(16)
            seeded = manage("shell", "-c", f"PASSWORD = {password!r}\nURL = {receiver.endpoint!r}\n{SEED}", env=env)
            assert seeded.returncode == 0, seeded.stderr
            found = json.loads(seeded.stdout.strip().splitlines()[-1])
            yield Production(proc, browser, receiver, found["token"], found["totp_key"], password, log)
        finally:
            browser.close()
            if proc.poll() is None:
                kill(proc)
            receiver.stop()


def _sign_in_and_load_the_stylesheet(app: Production) -> None:
    browser = app.browser
    signed = browser.post_form("/admin/login/?next=/admin/", {"username": "duty-officer", "password": app.password})
    assert signed.status_code == 302, signed.text[:500]
    # Production requires a second factor: the password alone reaches only its step.
    held = browser.get("/admin/")
    assert held.status_code == 302
    assert held.headers["location"].startswith("/admin/second-factor/verify/")
    code = f"{totp(bytes.fromhex(app.totp_key)):06d}"
    verified = browser.post_form("/admin/second-factor/verify/", {"code": code})
    assert verified.status_code == 302, verified.text[:500]
    index = browser.get("/admin/")
    assert index.status_code == 200
    assert "duty-officer" in index.text
    # collectstatic's hashed name, served by WhiteNoise from the web process itself.
    found = re.search(r'href="(/static/publisher/tandem\.([0-9a-f]{12})\.css)"', index.text)
    assert found, "the page does not reference the hashed stylesheet"
    css = browser.get(found.group(1))
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "immutable" in css.headers.get("cache-control", "")
    assert css.text == (ROOT / "publisher" / "static" / "publisher" / "tandem.css").read_text()
    # The admin's own stylesheet too.
    admin_css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', index.text)
    assert admin_css
    assert browser.get(admin_css.group(1)).status_code == 200


def _publish_an_alert(app: Production) -> int:
    response = app.browser.request(
        "POST", "/api/v1/alerts/", json=alert_body(), headers={"Authorization": f"Bearer {app.token}"}
    )
    assert response.status_code == 201, response.text
    alert = response.json()
    assert alert["approved_by_policy"] is True
    assert len(alert["deliveries"]) == 2

    def delivered() -> bool:
        return len(app.receiver.events) == 2

    assert wait_until(delivered, timeout=30), app.output()[-4000:]
    assert not app.receiver.rejected
    assert {event["data"]["language"] for event in app.receiver.events.values()} == {"fr", "nl"}

    def recorded_sent() -> bool:
        got = app.browser.get(f"/api/v1/alerts/{alert['id']}/", headers={"Authorization": f"Bearer {app.token}"})
        return got.status_code == 200 and {d["state"] for d in got.json()["deliveries"]} == {"sent"}

    assert wait_until(recorded_sent, timeout=15)
    return alert["id"]


def _stop_within_ten_seconds(app: Production) -> float:
    took, left = stop(app.proc, within=10)
    assert not left, f"still running {took:.1f} s after SIGTERM: {sorted(left)}\n{app.output()[-3000:]}"
    assert took < 10
    output = app.output()
    for name in ("web", "worker", "urgent", "dispatcher"):
        assert re.search(rf"{name}\.1 stopped \(rc=", output), f"{name} did not report its stop"
    assert "sending SIGKILL" not in output, "honcho had to kill something"
    return took


@pytest.mark.postgres
@pytest.mark.redis
def test_production_start_serves_signs_in_publishes_an_alert_and_stops_on_sigterm(tmp_path):
    with production(tmp_path) as app:
        health = app.browser.get("/healthz")
        assert health.json() == {"status": "ok"}
        ready = app.browser.get("/readyz").json()
        assert ready["checks"] == {"database": "ok", "migrations": "ok", "broker": "ok", "dispatcher": "ok"}
        # DEBUG is off for real: an unknown page is the plain 404, not Django's debug page.
        missing = app.browser.get("/no-such-page/")
        assert missing.status_code == 404
        assert "Django tried these URL patterns" not in missing.text
        _sign_in_and_load_the_stylesheet(app)
        _publish_an_alert(app)
        took = _stop_within_ten_seconds(app)
        print(f"make serve: everything stopped {took:.1f} s after SIGTERM")  # noqa: T201 - the figure


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    found = []
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if match:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1) or ""))
            found.append((labels, float(match.group(2))))
    return found


@pytest.mark.postgres
@pytest.mark.redis
def test_production_metrics_count_the_alert_deliveries_and_their_lateness(tmp_path):
    with production(tmp_path) as app:
        _publish_an_alert(app)
        metrics = app.browser.get("/metrics", headers={"Authorization": f"Bearer {app.token}"})
        assert metrics.status_code == 200, metrics.text[:500]
        sent = sum(
            value
            for labels, value in _samples(metrics.text, "tandem_deliveries_total")
            if labels.get("state") == "sent"
        )
        assert sent >= 2, metrics.text
        observed = sum(value for _labels, value in _samples(metrics.text, "tandem_delivery_lateness_seconds_count"))
        assert observed >= 1, metrics.text
        _stop_within_ten_seconds(app)
