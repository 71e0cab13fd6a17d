"""Audit events about accounts, written to the trail that a higher layer owns.

The audit trail (AuditEvent) lives in publisher, which sits above accounts; accounts must not
import it. publisher registers its recorder when the app registry is ready, and accounts
records through it. Without a recorder an account change is refused rather than left unaudited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

from accounts.models import User


class AuditRecorder(Protocol):
    def __call__(
        self, *, actor: User | None, verb: str, obj: Model, summary: Mapping[str, Any] | None = None
    ) -> object: ...


_recorders: list[AuditRecorder] = []


def audit_recorder_register(recorder: AuditRecorder) -> None:
    """Called once by the app that owns the trail (publisher's AppConfig.ready)."""
    if recorder not in _recorders:
        _recorders.append(recorder)


def account_audit(*, actor: User | None, verb: str, obj: Model, summary: Mapping[str, Any] | None = None) -> None:
    if not _recorders:
        raise ImproperlyConfigured("No audit trail is registered: account changes cannot be recorded.")
    for recorder in _recorders:
        recorder(actor=actor, verb=verb, obj=obj, summary=summary)
