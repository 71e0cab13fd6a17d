"""django-q2's Redis broker, made to ride out a Redis outage.

django-q2's pusher exits when ``dequeue`` raises and its sentinel starts a new one after a
guard cycle, having slept 10 s first; the pusher of the urgent cluster was therefore away
for seconds after Redis came back. Here a failed ``dequeue`` is logged once per outage and
retried every ``RETRY_SECONDS``, so tasks flow again within that time of Redis answering.
``enqueue`` still raises: the dispatcher must know a hand-over failed (it releases the rows).
"""

from __future__ import annotations

import logging
import time

import redis
from django_q.brokers.redis_broker import Redis

logger = logging.getLogger(__name__)

RETRY_SECONDS = 0.2


class ResilientRedis(Redis):
    outage = False

    def dequeue(self) -> list[tuple[None, bytes]] | None:
        try:
            tasks = super().dequeue()
        except (redis.ConnectionError, redis.TimeoutError):
            if not self.outage:
                logger.warning("Redis unreachable; waiting for it to return.", exc_info=True)
                self.outage = True
            time.sleep(RETRY_SECONDS)
            return None
        if self.outage:
            logger.warning("Redis is back; pulling tasks again.")
            self.outage = False
        return tasks
