"""Scopes: what a token (or a signed-in person) may do through the API.

A token's scopes never exceed what its user may do, and a signed-in person gets exactly the
scopes their permissions imply: both follow accounts.permissions.SCOPE_PERMISSIONS.
Approving is checked again by the service (four eyes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.text import get_text_list
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import ApiScope, ApiToken
from accounts.permissions import session_scopes, token_scopes
from publisher.errors import NotAllowed
from publisher.models import Message, Urgency

if TYPE_CHECKING:
    from rest_framework.views import APIView


def effective_scopes(request: Request) -> set[str]:
    if isinstance(request.auth, ApiToken):
        return token_scopes(request.user, list(request.auth.scopes))
    return session_scopes(request.user)


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
    granted = effective_scopes(request)
    # effective_scopes keeps approve only for a user who may approve (accounts.permissions).
    if ApiScope.APPROVE.value in granted:
        return
    if ApiScope.ALERT.value in granted and message.urgency == Urgency.URGENT:
        return
    raise NotAllowed(
        gettext_now(
            "Retracting a routine message needs the scope approve; "
            "this token may retract only urgent alerts in its own area."
        )
    )
