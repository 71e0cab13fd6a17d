import os
import socket
from datetime import UTC, datetime

import pytest
import time_machine

from publisher.delivery import dispatch, heartbeat, selectors
from publisher.models import DispatcherHeartbeat

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def test_the_loop_s_heartbeat_records_this_process():
    with time_machine.travel(NOW, tick=False):
        assert dispatch.heartbeat_record() is True
    row = DispatcherHeartbeat.objects.get()
    assert (row.host, row.pid, row.seen_at) == (socket.gethostname(), os.getpid(), NOW)
    assert selectors.dispatcher_heartbeat_latest() == NOW


def test_a_heartbeat_that_cannot_be_written_is_logged_and_ignored(monkeypatch, caplog):
    def fail(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(heartbeat, "dispatcher_heartbeat_record", fail)
    assert dispatch.heartbeat_record() is False
    assert "Could not record the dispatcher heartbeat." in caplog.text


def test_the_dispatcher_loop_beats_even_when_its_pass_fails(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("claim failed")

    monkeypatch.setattr(dispatch, "dispatch_once", broken)
    turns = iter([False, True])
    with time_machine.travel(NOW, tick=False):
        dispatch.run(should_stop=lambda: next(turns), sleep=lambda seconds: None)
    assert selectors.dispatcher_heartbeat_latest() == NOW
