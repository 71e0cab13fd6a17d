"""Template helpers for the workflow pages: the dashboard's queue and readable audit events."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from publisher.models import AuditEvent, Message, MessageState
from publisher.views import queries

register = template.Library()

# Every verb the services record (publisher.services.audit_record callers), in words.
VERBS = {
    "message.created": gettext_lazy("drafted"),
    "message.edited": gettext_lazy("edited"),
    "message.submitted": gettext_lazy("submitted for approval"),
    "message.approved": gettext_lazy("approved"),
    "message.approved_by_policy": gettext_lazy("approved by the urgent-alert policy"),
    "message.rejected": gettext_lazy("rejected"),
    "message.cancelled": gettext_lazy("cancelled"),
    "message.expired": gettext_lazy("approval expired"),
    "message.retracted": gettext_lazy("retracted"),
    "message.retract_incomplete": gettext_lazy("retraction incomplete"),
    "message.audience_changed": gettext_lazy("audience changed by a segment"),
    "attachment.added": gettext_lazy("image added"),
    "attachment.alt_changed": gettext_lazy("alt text changed"),
    "attachment.removed": gettext_lazy("image removed"),
    "delivery.retried": gettext_lazy("delivery retried"),
    "channel.created": gettext_lazy("channel created"),
    "channel.updated": gettext_lazy("channel changed"),
    "channel.disabled": gettext_lazy("channel disabled"),
    "channel.reconnected": gettext_lazy("channel reconnected"),
    "channel.limits_refreshed": gettext_lazy("channel limits read from the server"),
    "segment.created": gettext_lazy("segment created"),
    "segment.updated": gettext_lazy("segment changed"),
    "api_token.created": gettext_lazy("API token created"),
    "api_token.revoked": gettext_lazy("API token revoked"),
    "second_factor.enrolled": gettext_lazy("second factor set up"),
    "second_factor.recovery_codes_regenerated": gettext_lazy("new recovery codes created"),
    "second_factor.removed": gettext_lazy("second factor removed"),
    "second_factor.reset": gettext_lazy("second factor reset by an administrator"),
    "sign_in_lock.released": gettext_lazy("sign-in unlocked"),
    "calendar_link.created": gettext_lazy("calendar link created"),
    "calendar_link.revoked": gettext_lazy("calendar link revoked"),
    "message.language_confirmed": gettext_lazy("language exception confirmed"),
}
# Technical details kept in the audit row for operators, not shown on the message page.
HIDDEN_DETAILS = {"content_hash", "sha256", "width", "height", "format", "attachment", "warnings", "text_hash", "codes"}

DETAIL_LABELS = {
    "title": gettext_lazy("title"),
    "comment": gettext_lazy("comment"),
    "reason": gettext_lazy("reason"),
    "content_changed": gettext_lazy("content changed"),
    "returned_to_draft_from": gettext_lazy("returned to draft from"),
    "from": gettext_lazy("previous state"),
    "first_occurrence": gettext_lazy("first publication"),
    "remote_url": gettext_lazy("remote post"),
    "channel": gettext_lazy("channel"),
    "language": gettext_lazy("language"),
    "changed_by": gettext_lazy("changed since the last approval by"),
    "segment": gettext_lazy("segment"),
    "added": gettext_lazy("municipalities added"),
    "removed": gettext_lazy("municipalities removed"),
    "audience": gettext_lazy("municipalities in the approved audience"),
    "field": gettext_lazy("text"),
    "findings": gettext_lazy("language check"),
}


@register.simple_tag(takes_context=True)
def awaiting_my_approval(context: dict[str, Any]) -> list[Message]:
    user = context["request"].user
    if not isinstance(user, User) or not user.has_perm("publisher.approve_message"):
        return []
    return list(queries.awaiting_approval(user=user)[:20])


@register.filter
def audit_verb(verb: str) -> str:
    return str(VERBS.get(verb, verb))


def _value(value: Any) -> str:
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if value in MessageState.values:
        return str(MessageState(value).label)
    return str(value)


@register.filter
def audit_details(event: AuditEvent) -> list[tuple[str, str]]:
    """Readable lines: the checklist ticks and consent reference, comments, reasons."""
    lines: list[tuple[str, str]] = []
    for key, value in (event.summary or {}).items():
        if key in HIDDEN_DETAILS or value in ("", None, {}, []):
            continue
        if key == "checklist" and isinstance(value, dict):
            for entry in value.values():
                text = "✓ " + str(entry.get("label", ""))
                if entry.get("applies"):
                    text += " — " + _("reference: %(reference)s") % {"reference": entry.get("reference", "")}
                lines.append((_("checklist"), text))
            continue
        lines.append((str(DETAIL_LABELS.get(key, key)), _value(value)))
    return lines
