"""One request budget per token (per user for the browsable API, per address otherwise), and
a budget of failed token attempts per address.

The budgets live in the cache (Redis at scale). When the cache cannot be reached the
throttles let the request through and log it: an urgent alert must never be refused
because a counter is unavailable.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from accounts.models import ApiToken

logger = logging.getLogger(__name__)


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - any cache failure (connection, timeout, protocol) fails open
            logger.warning("Request budget unavailable (cache unreachable); request allowed.", exc_info=True)
            return True

    def get_rate(self) -> str:
        return str(getattr(settings, "TANDEM_API_RATE", "1200/minute"))

    def get_cache_key(self, request: Request, view: APIView) -> str:
        if isinstance(request.auth, ApiToken):
            # The prefix, not the row id: ids restart with a new database, a shared cache does not.
            ident = f"token:{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"addr:{self.get_ident(request)}"
        return f"tandem-api-throttle:{ident}"


def _parse_rate(rate: str) -> tuple[int, int]:
    """DRF's rate syntax ("30/minute") as (count, seconds)."""
    count, _sep, period = rate.partition("/")
    return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[:1]]


def token_failure_record(request: Request) -> float | None:
    """Count one failed bearer token from the request's address; the seconds to wait once the
    address is over its budget (TANDEM_API_TOKEN_FAILURE_RATE), else None.

    Only failures are counted, after the token was looked up: a valid token costs no cache
    call and is never refused because its address is shared with a misconfigured client. A
    fixed window per address: one atomic increment, and Retry-After is the window's end.
    An unreachable cache lets the request through to its 401 (logged), never a 500.
    """
    limit, period = _parse_rate(str(settings.TANDEM_API_TOKEN_FAILURE_RATE))
    now = time.time()
    window = int(now // period)
    key = f"tandem-api-token-failures:{BaseThrottle().get_ident(request)}:{window}"
    try:
        cache.add(key, 0, timeout=period + 1)
        count = cache.incr(key)
    except Exception:  # noqa: BLE001 - a cache outage must not turn a 401 into a 500
        logger.warning("Failed API token attempts are not counted: the cache did not answer", exc_info=True)
        return None
    if count > limit:
        return (window + 1) * period - now
    return None
