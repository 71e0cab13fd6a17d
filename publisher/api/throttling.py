"""One request budget per token (per user for the browsable API, per address otherwise).

The budgets live in the cache (Redis at scale). When the cache cannot be reached the
throttle lets the request through and logs it: an urgent alert must never be refused
because a counter is unavailable.
"""

from __future__ import annotations

import logging

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
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
