"""Liveness (/healthz) and readiness (/readyz) for load balancers, orchestrators and operators.

Liveness answers from the process alone (no database, no authentication). Readiness checks the
database, the migrations, the broker and the dispatcher's heartbeat; channels left waiting for
reconnection are warnings, not failures. Everyone gets the verdict and its status code; which
check failed, the heartbeat's age and the warnings go only to a valid API token (any scope) or
a client in TANDEM_READY_ALLOWED_NETWORKS. Messages are fixed words: an exception's text may
carry a host name or a URL with a password, so it is logged, never shown.
"""

from __future__ import annotations

import ipaddress
import logging
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts.login_locks import client_address
from accounts.tokens import api_token_authenticate
from publisher.delivery import selectors

logger = logging.getLogger(__name__)

OK = "ok"
# How long the broker may take to answer a ping before readiness calls it unreachable.
BROKER_TIMEOUT_SECONDS = 1.0

# Once every migration is applied it stays so for this process's life (a newer migration
# needs new code, hence a restart): the plan, which loads every migration file, is built
# only until then.
_migrations_applied = False


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        logger.warning("Readiness: the database is unreachable.", exc_info=True)
        return "unreachable"
    return OK


def _migrations() -> str:
    global _migrations_applied  # noqa: PLW0603 - a per-process memo, see above
    if _migrations_applied:
        return OK
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception:  # noqa: BLE001
        logger.warning("Readiness: could not read the migration state.", exc_info=True)
        return "unknown"
    if plan:
        return "unapplied migrations"
    _migrations_applied = True
    return OK


def _broker(database: str) -> str:
    if not settings.REDIS_URL:
        # django-q2's ORM broker is the database.
        return database
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=BROKER_TIMEOUT_SECONDS, socket_timeout=BROKER_TIMEOUT_SECONDS
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception:  # noqa: BLE001
        logger.warning("Readiness: the Redis broker is unreachable.", exc_info=True)
        return "unreachable"
    return OK


def _dispatcher(now: Any) -> tuple[str, float | None]:
    try:
        seen_at = selectors.dispatcher_heartbeat_latest()
    except Exception:  # noqa: BLE001
        logger.warning("Readiness: could not read the dispatcher heartbeat.", exc_info=True)
        return "unknown", None
    if seen_at is None:
        return "no heartbeat", None
    age = max(0.0, (now - seen_at).total_seconds())
    if age > settings.TANDEM_READY_DISPATCHER_SECONDS:
        return "heartbeat stale", round(age, 1)
    return OK, round(age, 1)


def _warnings(now: Any) -> list[dict[str, Any]]:
    since = now - timedelta(hours=settings.TANDEM_READY_RECONNECT_HOURS)
    try:
        channels = selectors.channels_reconnect_overdue(since=since)
    except Exception:  # noqa: BLE001 - a warning that cannot be computed is no failure
        logger.warning("Readiness: could not list channels waiting for reconnection.", exc_info=True)
        return []
    return [
        {
            "check": "channel_needs_reconnect",
            "channel": channel.pk,
            "name": channel.name,
            "kind": channel.kind,
            "since": (channel.needs_reconnect_since or channel.updated_at).isoformat(),
        }
        for channel in channels
    ]


def details_allowed(request: HttpRequest) -> bool:
    """A valid API token (any scope) or a client in TANDEM_READY_ALLOWED_NETWORKS: readiness
    details and /metrics (publisher/metrics_view.py) are shown to them only."""
    address = client_address(request)
    if address is not None:
        ip = ipaddress.ip_address(address)
        for network in settings.TANDEM_READY_ALLOWED_NETWORKS:
            if ip in ipaddress.ip_network(network.strip(), strict=False):
                return True
    header = request.headers.get("Authorization", "").split()
    if len(header) != 2 or header[0].lower() != "bearer":
        return False
    try:
        return api_token_authenticate(header[1]) is not None
    except Exception:  # noqa: BLE001 - no database, no details
        logger.warning("Readiness: could not check the API token.", exc_info=True)
        return False


@require_safe
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    now = timezone.now()
    database = _database()
    dispatcher, age = _dispatcher(now) if database == OK else ("unknown", None)
    checks = {
        "database": database,
        "migrations": _migrations() if database == OK else "unknown",
        "broker": _broker(database),
        "dispatcher": dispatcher,
    }
    ready = all(value == OK for value in checks.values())
    status = 200 if ready else 503
    body: dict[str, Any] = {"status": "ready" if ready else "not_ready"}
    if details_allowed(request):
        body["checks"] = checks
        body["dispatcher_heartbeat_age_seconds"] = age
        body["warnings"] = _warnings(now) if database == OK else []
    return JsonResponse(body, status=status)
