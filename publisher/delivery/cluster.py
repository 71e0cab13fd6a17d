"""A django-q2 cluster that survives kill -9 of an idle worker.

An idle worker waits in ``multiprocessing.Queue.get()``, which holds the task queue's read
lock while it blocks. Killed there, the worker dies holding the lock: its replacement and
its siblings wait on that lock forever, the pusher fills the queue and stops, and the
cluster takes no task again (django-q2 never touches its queues on a worker's death: "we
risk destabilizing the queues", ``Sentinel.reincarnate``). The dispatcher re-claims what
that cluster swallowed, but a host whose clusters are all stuck publishes nothing.

So once a worker of a cluster has died, its sentinel watches the queue: when tasks wait
and nobody has been able to take the read lock for ``STUCK_SECONDS`` (a live reader holding
it receives a waiting task within milliseconds), the lock belongs to the dead worker and
the sentinel releases it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django_q.cluster import Sentinel

logger = logging.getLogger(__name__)

STUCK_SECONDS = 2.0
PROBE_SECONDS = 0.25

_reincarnate = Sentinel.reincarnate


def _watch(task_queue: Any, stop: threading.Event) -> None:
    lock = task_queue._rlock  # noqa: SLF001 - the lock a dead reader leaves taken
    stuck_since: float | None = None
    while not stop.wait(PROBE_SECONDS):
        try:
            waiting = task_queue.qsize() > 0
        except NotImplementedError:  # macOS: no sem_getvalue
            return
        if not waiting:
            stuck_since = None
            continue
        if lock.acquire(timeout=PROBE_SECONDS):
            lock.release()
            stuck_since = None
            continue
        stuck_since = stuck_since or time.monotonic()
        if time.monotonic() - stuck_since >= STUCK_SECONDS:
            logger.critical("A killed worker left the task queue locked; releasing it.")
            try:
                lock.release()
            except ValueError:  # released meanwhile
                pass
            stuck_since = None


def _reincarnate_and_watch(self: Sentinel, process: Any) -> None:
    _reincarnate(self, process)
    if getattr(self, "_tandem_watch", None) is None:
        self._tandem_watch = threading.Thread(
            target=_watch, args=(self.task_queue, self.stop_event), name="tandem-queue-watch", daemon=True
        )
        self._tandem_watch.start()


def sentinel_repair_install() -> None:
    """Make every django-q2 sentinel of this process watch for a queue left locked."""
    Sentinel.reincarnate = _reincarnate_and_watch
