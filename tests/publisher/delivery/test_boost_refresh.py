"""The periodic pull of paid promotions: the dispatcher's loop queues it, a worker runs it
through the hook the workflow registered (delivery never imports the workflow)."""

import pytest
from django.test import override_settings
from django.utils.module_loading import import_string

from publisher.delivery import dispatch, enqueue, hooks, tasks
from publisher.workflow import boosts


def test_the_task_path_and_the_hook():
    assert import_string(enqueue.TASK_BOOSTS_REFRESH) is tasks.boosts_refresh
    assert hooks.boosts_refresh.call is boosts.boosts_refresh


@pytest.mark.django_db
def test_the_task_runs_the_workflows_pull(monkeypatch):
    calls = []
    monkeypatch.setattr(hooks.boosts_refresh, "_callback", lambda: calls.append(1) or 3)
    assert tasks.boosts_refresh() == 3
    assert calls == [1]


@pytest.mark.django_db
@override_settings(TANDEM_DISPATCH_POLL_SECONDS=0.05, TANDEM_BOOST_REFRESH_SECONDS=0.0)
def test_the_dispatcher_queues_the_pull_and_makes_no_network_call_itself(monkeypatch):
    queued = []
    monkeypatch.setattr(enqueue, "enqueue_boosts_refresh", lambda: queued.append(1))
    monkeypatch.setattr(hooks.boosts_refresh, "_callback", lambda: pytest.fail("the loop must not pull itself"))
    passes = []

    def should_stop():
        passes.append(1)
        return len(passes) > 2

    dispatch.run(should_stop=should_stop, log=lambda line: None)
    assert queued
