"""Sign-in lockouts (django-axes): where a request comes from, and releasing a lock early.

Failures are counted per user name and, separately, per address (AXES_LOCKOUT_PARAMETERS); either
reaching AXES_FAILURE_LIMIT within AXES_COOLOFF_TIME blocks sign-in for that name or address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from axes.models import AccessAttempt
from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone

from accounts.audit import account_audit
from accounts.models import User


def client_address(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind TANDEM_TRUSTED_PROXIES proxies the address the
    outermost of them saw (anything further left in X-Forwarded-For is the client's own claim)."""
    proxies = settings.TANDEM_TRUSTED_PROXIES
    candidate = request.META.get("REMOTE_ADDR")
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate or ""))
    except ValueError:
        return None


def _recent(attempts: QuerySet[AccessAttempt]) -> QuerySet[AccessAttempt]:
    return attempts.filter(attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME)


def _recent_failures(field: str) -> Coalesce:
    # 0, not NULL, where nothing is recent: "not locked" filters must keep those rows.
    return Coalesce(
        Subquery(
            _recent(AccessAttempt.objects.filter(**{field: OuterRef(field)}))
            .order_by()
            .values(field)
            .annotate(failures=Sum("failures_since_start"))
            .values("failures")[:1]
        ),
        0,
    )


def recent_failures_by_username() -> Coalesce:
    """Failed sign-ins counted now against the outer query's `username` (from any address)."""
    return _recent_failures("username")


def recent_failures_by_address() -> Coalesce:
    """Failed sign-ins counted now against the outer query's `ip_address` (on any user name)."""
    return _recent_failures("ip_address")


def _release(attempts: QuerySet[AccessAttempt], *, actor: User) -> int:
    released = list(attempts)
    for attempt in released:
        account_audit(
            actor=actor,
            verb="sign_in_lock.released",
            obj=attempt,
            summary={
                "username": attempt.username,
                "address": attempt.ip_address,
                "failures": attempt.failures_since_start,
            },
        )
    AccessAttempt.objects.filter(pk__in=[a.pk for a in released]).delete()
    return len(released)


@transaction.atomic
def login_lock_release(*, attempts: QuerySet[AccessAttempt], actor: User) -> int:
    """Unlock the user names and addresses of these attempts: every failure counted against either goes.

    Each removed attempt is recorded in the audit trail. Returns how many were removed.
    """
    chosen = list(attempts.values_list("username", "ip_address"))
    usernames = {u for u, _ip in chosen if u}
    addresses = {ip for _u, ip in chosen if ip}
    return _release(AccessAttempt.objects.filter(Q(username__in=usernames) | Q(ip_address__in=addresses)), actor=actor)


@transaction.atomic
def login_lock_release_users(*, users: Iterable[User], actor: User) -> int:
    """Unlock these users' names (not the addresses they were tried from, which may be anyone's)."""
    names = [u.get_username() for u in users]
    return _release(AccessAttempt.objects.filter(username__in=names), actor=actor)
