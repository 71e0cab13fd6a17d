"""Scopes: what a token (or a signed-in person) may do through the API.

A token's scopes never exceed what its user may do: `compose` needs a user who may add
messages, `admin` one who may change channels, and approving is checked again by the
service (four eyes). `alert` is granted by an administrator on the token itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.text import get_text_list
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import ApiScope, ApiToken
from publisher.errors import NotAllowed
from publisher.models import Message, Urgency

if TYPE_CHECKING:
    from rest_framework.views import APIView

# Model permissions a user must hold for a token's scope to count.
USER_PERMISSION = {
    ApiScope.COMPOSE: "publisher.add_message",
    ApiScope.ADMIN: "publisher.change_channel",
}


def effective_scopes(request: Request) -> set[str]:
    user: Any = request.user
    if not user or not user.is_authenticated or not user.is_active:
        return set()
    if isinstance(request.auth, ApiToken):
        scopes = set(request.auth.scopes)
    else:
        # A person in the browsable API: scopes follow their roles; alerts are for machines and superusers.
        scopes = {ApiScope.READ.value, ApiScope.COMPOSE.value, ApiScope.ADMIN.value, ApiScope.APPROVE.value}
        if not user.has_perm("publisher.approve_message"):
            scopes.discard(ApiScope.APPROVE.value)
        if user.is_superuser:
            scopes.add(ApiScope.ALERT.value)
    return {s for s in scopes if s not in USER_PERMISSION or user.has_perm(USER_PERMISSION[ApiScope(s)])}


class HasScope(BasePermission):
    """The view's `required_scopes[action]` lists the scopes of which one is enough."""

    message: Any = _("This token does not have the scope this action needs.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        required: dict[str, tuple[str, ...]] = getattr(view, "required_scopes", {})
        action_map = getattr(view, "action_map", None)
        method = (request.method or "").lower()
        if action_map is not None and method not in action_map:
            # Let the view answer 405 for a method this route does not have.
            return True
        action = getattr(view, "action", None) or method
        needed = required.get(action) or required.get("*")
        if needed is None:
            # A view that forgot to declare its scopes is closed, not open.
            return False
        granted = effective_scopes(request)
        if not granted & set(needed):
            self.message = _("This action needs the scope %(scopes)s.") % {
                "scopes": get_text_list(list(needed), _("or"))
            }
            return False
        return True


def check_retract(request: Request, message: Message) -> None:
    """Retracting withdraws an approved message everywhere, so it needs the approval's authority:
    the approve scope (held by an approver) for any message in the caller's area; the alert
    scope alone only for urgent alerts, which that scope publishes by policy. The area (the
    token's municipalities or zones) is checked by the view before this."""
    user: Any = request.user
    granted = effective_scopes(request)
    if ApiScope.APPROVE.value in granted and user.has_perm("publisher.approve_message"):
        return
    if ApiScope.ALERT.value in granted and message.urgency == Urgency.URGENT:
        return
    raise NotAllowed(
        gettext_now(
            "Retracting a routine message needs the scope approve; "
            "this token may retract only urgent alerts in its own area."
        )
    )
