"""Clean stopping for django-q2 clusters (``manage.py run_cluster``).

django-q2's ``qcluster`` forks a sentinel, which forks the workers, the pusher and the
monitor. Left alone, killing the sentinel (or the parent) leaves the workers running and
publishing unsupervised, and a supervisor's SIGTERM to the process group kills the
sentinel and the workers mid-call (their SIGTERM is the default action). Here:

- every process forked under ``run_cluster`` asks the kernel for SIGKILL when its parent
  dies (``PR_SET_PDEATHSIG``), so no process outlives the one that supervises it;
- the sentinel gets its own process group, so a SIGTERM to ``run_cluster``'s group reaches
  only ``run_cluster``, which stops the cluster in order: the pusher stops taking tasks,
  tasks already taken but not started release their deliveries (the dispatcher claims them
  again at once, for another cluster) instead of running, calls in progress finish;
- whatever is still running after ``TANDEM_CLUSTER_STOP_SECONDS`` is killed; its deliveries
  are recovered through their lease like after any crash.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
from multiprocessing.synchronize import Event
from typing import Any

from publisher.delivery import dispatch
from publisher.delivery.enqueue import TASK_PUBLISH

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
PUBLISH_TASK = TASK_PUBLISH
# The same task queued before publisher/ became packages (publisher/tasks.py still runs it).
PUBLISH_TASK_BEFORE_PACKAGES = "publisher.tasks.deliveries_publish"

_supervisor_pid = 0
_parent_pid = 0
# Set by run_cluster when it stops; inherited by every process it forks.
_stopping: Event | None = None


def _remember_parent() -> None:
    global _parent_pid
    _parent_pid = os.getpid()


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        logger.error("PR_SET_PDEATHSIG failed (errno %s): this process may outlive its parent.", ctypes.get_errno())
    if os.getppid() != _parent_pid:
        # The parent died between fork and prctl: nobody would ever stop this process.
        os._exit(1)
    if _parent_pid == _supervisor_pid:
        # The sentinel: its own group, so a signal to the supervisor's group stays there.
        os.setpgid(0, 0)


def supervise_forks(stopping: Event) -> None:
    """Call once in the supervising process, before it forks the cluster."""
    global _supervisor_pid, _stopping
    _supervisor_pid = os.getpid()
    _stopping = stopping
    os.register_at_fork(before=_remember_parent, after_in_child=_die_with_parent)


def cluster_stopping() -> bool:
    """True in a process of a cluster that run_cluster is stopping."""
    return _stopping is not None and _stopping.is_set()


def release_unstarted_publish(sender: Any, func: Any, task: dict[str, Any], **kwargs: Any) -> None:
    """django-q2 ``pre_execute`` receiver (in the worker): while the cluster stops, a publish
    task not started yet gives its deliveries back instead of sending them."""
    if not cluster_stopping() or task.get("func") not in (PUBLISH_TASK, PUBLISH_TASK_BEFORE_PACKAGES):
        return
    ids = list(task.get("args", [[]])[0])
    try:
        released = dispatch.deliveries_release(delivery_ids=ids)
    except Exception:  # noqa: BLE001 - then the task runs normally
        logger.exception("Could not release %d deliveries of a stopping cluster.", len(ids))
        return
    logger.info("Stopping: released %d of %d deliveries for another cluster.", released, len(ids))
