"""Logs: one JSON object per line with LOG_FORMAT=json, one line per delivery settled, and a
refused request (4xx) in one line without a traceback (config/logs.py, config/settings.py)."""

import json
import logging
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import TestCase, override_settings

from config.logs import ClientErrorsBrief, JsonFormatter
from publisher.delivery import dispatch, publishing
from tests.fakes.dispatch_adapters import ADAPTERS, FakeAdapter
from tests.publisher.dispatch_support import due_deliveries

NOW = datetime(2027, 5, 3, 7, 0, tzinfo=UTC)
DELIVERY_KEYS = {"delivery_id", "message_id", "channel", "network", "outcome", "duration_ms"}


@pytest.mark.django_db
def test_a_settled_delivery_is_one_json_line_with_its_ids_network_outcome_and_duration(author, caplog):
    FakeAdapter.reset()
    ids = due_deliveries(author=author, count=1, due_at=NOW - timedelta(milliseconds=300))
    caplog.set_level(logging.INFO, logger="publisher.deliveries")
    with override_settings(TANDEM_CHANNEL_ADAPTERS=ADAPTERS), time_machine.travel(NOW, tick=False):
        dispatch.deliveries_claim(ids=ids)
        with TestCase.captureOnCommitCallbacks(execute=True):
            publishing.deliveries_publish(delivery_ids=ids)
    (record,) = [r for r in caplog.records if r.name == "publisher.deliveries"]
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert DELIVERY_KEYS <= set(entry)
    delivery = publishing.Delivery.objects.select_related("occurrence").get(pk=ids[0])
    assert entry["delivery_id"] == delivery.pk
    assert entry["message_id"] == delivery.occurrence.message_id
    assert entry["channel"] == delivery.channel_id
    assert entry["network"] == "fake"
    assert entry["outcome"] == "sent"
    assert entry["state"] == "sent"
    assert entry["duration_ms"] == 0
    assert entry["lateness_ms"] == 300
    assert entry["level"] == "INFO"
    assert entry["logger"] == "publisher.deliveries"
    assert entry["message"].startswith(f"Delivery {delivery.pk} of message")


def test_json_lines_carry_the_traceback_of_an_error_inside_the_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed here"
    assert "ValueError: boom" in entry["exception"]


def test_a_server_error_keeps_its_traceback():
    try:
        raise RuntimeError("bug")
    except RuntimeError:
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal", (), sys.exc_info())
    record.status_code = 500
    assert ClientErrorsBrief().filter(record)
    assert record.exc_info is not None


# --- the configured logging, in a process of its own -----------------------------------------

CHILD = textwrap.dedent(
    """
    import logging
    import sys
    from datetime import UTC, datetime
    from types import SimpleNamespace

    import django

    django.setup()
    from django.core.exceptions import PermissionDenied
    from django.core.handlers.exception import convert_exception_to_response
    from django.test import Client, RequestFactory

    from publisher import metrics
    from publisher.models import Channel, Delivery, Message, Occurrence


    def mark(text):
        sys.stderr.flush()
        print(f"=== {text}", file=sys.stderr, flush=True)


    def refuse(request):
        raise PermissionDenied


    mark("403 permission denied")  # what the admin raises for a user without the permission
    convert_exception_to_response(refuse)(RequestFactory().get("/admin/publisher/channel/"))
    mark("400 bad host")
    Client().get("/healthz", HTTP_HOST="evil.example")
    mark("403 metrics")
    Client().get("/metrics", REMOTE_ADDR="203.0.113.5", HTTP_HOST="127.0.0.1")
    mark("delivery")
    now = datetime.now(UTC)
    message = Message(pk=9, created_at=now)
    delivery = Delivery(
        pk=90, channel=Channel(pk=7, kind="webhook"), occurrence=Occurrence(pk=8, message=message),
        state="sent", lateness_ms=12, sent_at=now,
    )
    call = SimpleNamespace(delivery=delivery, outcome="sent", http_status=200, started_at=now, finished_at=now)
    metrics.deliveries_recorded([call], recorded=[delivery])
    mark("end")
    """
)


def _run_child(**env):
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DEBUG": "1", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    sections: dict[str, list[str]] = {}
    current = None
    for line in child.stderr.splitlines():
        if line.startswith("=== "):
            current = sections.setdefault(line[4:], [])
        elif current is not None:
            current.append(line)
    return child.stderr, sections


@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_a_refused_request_is_one_line_without_a_traceback(log_format):
    # In debug Django's own console handler used to print each of these a second time, and
    # PermissionDenied and a bad Host header came with their traceback each time.
    stderr, sections = _run_child(LOG_FORMAT=log_format)
    assert "Traceback" not in stderr
    for name, text in [
        ("403 permission denied", "Forbidden (Permission denied): /admin/publisher/channel/"),
        ("400 bad host", "Invalid HTTP_HOST header: 'evil.example'"),
        ("403 metrics", "Forbidden: /metrics"),
    ]:
        (line,) = sections[name]
        assert text in line
        if log_format == "json":
            assert json.loads(line)["status_code"] == int(name[:3])


def test_with_log_format_json_every_line_is_json_and_the_delivery_line_has_its_fields():
    _stderr, sections = _run_child(LOG_FORMAT="json")
    entries = [json.loads(line) for lines in sections.values() for line in lines]
    (delivery,) = [e for e in entries if e["logger"] == "publisher.deliveries"]
    assert DELIVERY_KEYS <= set(delivery)
    assert (delivery["delivery_id"], delivery["message_id"], delivery["channel"]) == (90, 9, 7)
    assert (delivery["network"], delivery["outcome"], delivery["http_status"]) == ("webhook", "sent", 200)


def test_the_plain_format_is_the_default_and_an_unknown_format_stops_start_up():
    _stderr, sections = _run_child()
    (line,) = sections["delivery"]
    assert " INFO publisher.deliveries Delivery 90 of message 9 on channel 7 (webhook): sent, sent" in line
    failed = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "LOG_FORMAT": "xml"},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode != 0
    assert "LOG_FORMAT must be 'plain' or 'json'" in failed.stderr
