"""Template helpers for the workflow pages: the dashboard's queue and readable audit events."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import ApiScope, User
from publisher.models import AUDIT_VERBS, AuditEvent, Message, MessageKind, MessageState
from publisher.workflow import selectors
from publisher.workflow.checklist import checklist_items

register = template.Library()

# Every verb the services record (publisher.audit.audit_record callers), in words.
VERBS = AUDIT_VERBS
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
    "cancelled": gettext_lazy("posts stopped before going out"),
    "to_delete": gettext_lazy("posts to delete"),
    "retracted": gettext_lazy("posts deleted"),
    "failed": gettext_lazy("posts not deleted"),
    "token": gettext_lazy("API token"),
    "prefix": gettext_lazy("API token"),
    "user": gettext_lazy("user"),
    "kind": gettext_lazy("kind"),
    "scopes": gettext_lazy("scopes"),
    "municipalities": gettext_lazy("municipalities"),
    "zones": gettext_lazy("police zones"),
    "replaced": gettext_lazy("replaces the previous one"),
    "covers_all": gettext_lazy("covers all of Belgium"),
    "coverage": gettext_lazy("coverage"),
    "changed": gettext_lazy("changed"),
    "limits": gettext_lazy("limits"),
    "field": gettext_lazy("text"),
    "findings": gettext_lazy("language check"),
    "boost": gettext_lazy("promotion"),
    "budget": gettext_lazy("budget"),
    "network": gettext_lazy("network"),
    "starts_at": gettext_lazy("starts"),
    "ends_at": gettext_lazy("ends"),
    "postal_codes": gettext_lazy("postal codes"),
    "language_targeting": gettext_lazy("language targeting"),
    "postal_codes_with_language_targeting": gettext_lazy("postal codes with language targeting"),
    "ages": gettext_lazy("ages"),
    "dry_run": gettext_lazy("dry run"),
    "error": gettext_lazy("error"),
    "promotions_stopped": gettext_lazy("promotions stopped"),
    "follows": gettext_lazy("follows up on message"),
    "draft": gettext_lazy("follow-up message"),
    "post": gettext_lazy("post"),
    "source": gettext_lazy("copied from message"),
    "images": gettext_lazy("images copied"),
    "schedule_dropped": gettext_lazy("past schedule dropped"),
    "renditions": gettext_lazy("image renditions removed"),
    "kept_shared": gettext_lazy("images kept (another message uses them)"),
}
# Who acted when no user did (AuditEvent.actor_label); a user's name is shown as it is.
SYSTEM_ACTORS = {
    "dispatcher": gettext_lazy("the dispatcher"),
    "system": gettext_lazy("the system"),
    "retention": gettext_lazy("the retention clean-up"),
    "policy:urgent-alert": gettext_lazy("the urgent-alert policy"),
}
# Delivery ids in a detail are shown as deliveries, not bare numbers.
DELIVERY_LISTS = {"cancelled", "to_delete", "retracted", "failed"}


@register.simple_tag(takes_context=True)
def awaiting_my_approval(context: dict[str, Any]) -> list[Message]:
    user = context["request"].user
    if not isinstance(user, User) or not user.has_perm("publisher.approve_message"):
        return []
    return list(selectors.awaiting_approval(user=user)[:20])


@register.filter
def audit_verb(verb: str) -> str:
    return str(AUDIT_VERBS.get(verb, verb))


@register.filter
def audit_actor(label: str) -> str:
    return str(SYSTEM_ACTORS.get(label, label))


@register.filter
def stored_error(text: str) -> str:
    """An error stored by a worker (which runs in English): Tandem's own wording, kept as its
    msgid (gettext_noop), reads in the reader's language; a network's own words, which no
    catalogue holds, come back as they are."""
    return _(text) if text else text


@register.filter
def audit_object(event: AuditEvent) -> str:
    return event.object_label


def _value(value: Any, key: str = "") -> str:
    if key in DELIVERY_LISTS and isinstance(value, list):
        return ", ".join(f"#{v}" for v in value) if value else _("none")
    if key == "scopes" and isinstance(value, list):
        scopes = dict(ApiScope.choices)
        return ", ".join(str(scopes.get(v, v)) for v in value)
    if key == "source" and isinstance(value, int):
        return f"#{value}"  # the message copied, as message numbers show elsewhere
    if key == "kind" and value in MessageKind.values:
        return str(MessageKind(value).label)
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
        if key in HIDDEN_DETAILS or value in ("", None, {}) or (value == [] and key not in DELIVERY_LISTS):
            continue
        if key == "checklist" and isinstance(value, dict):
            labels = {item.key: item.label for item in checklist_items()}
            for item_key, entry in value.items():
                # The label stored is the one of the approver's language: show today's, in the reader's.
                text = "✓ " + str(labels.get(item_key) or entry.get("label", ""))
                if entry.get("applies"):
                    text += " — " + _("reference: %(reference)s") % {"reference": entry.get("reference", "")}
                lines.append((_("checklist"), text))
            continue
        lines.append((str(DETAIL_LABELS.get(key, key)), _value(value, key)))
    return lines
