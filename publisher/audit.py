"""The audit trail: who did what to which object. Every layer records into it, so it sits
at the bottom next to the models (accounts reaches it through `audit_recorder_register`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Model

from accounts.models import User
from publisher.models import AuditEvent


def audit_record(
    *, actor: User | None, verb: str, obj: Model, summary: Mapping[str, Any] | None = None, actor_label: str = ""
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor,
        actor_label=actor_label or (actor.get_username() if actor else ""),
        verb=verb,
        object_type=obj._meta.model_name or "",
        object_id=str(obj.pk),
        summary=dict(summary or {}),
    )
