"""The dispatcher's heartbeat, which readiness reads (/readyz)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from publisher.models import DispatcherHeartbeat

# A dispatcher that has not beaten for this long is gone (its host or pid is not coming back).
DISPATCHER_HEARTBEAT_KEEP = timedelta(days=1)


def dispatcher_heartbeat_record(*, host: str, pid: int, now: datetime | None = None) -> None:
    """Record that the dispatcher (host, pid) is alive now; forget dispatchers silent for a day.

    Its own short transaction (autocommit): never part of a claim's."""
    now = now or timezone.now()
    DispatcherHeartbeat.objects.update_or_create(host=host[:255], pid=pid, defaults={"seen_at": now})
    DispatcherHeartbeat.objects.filter(seen_at__lt=now - DISPATCHER_HEARTBEAT_KEEP).delete()
