"""The one mapping from a user's Django permissions to what they may read and do through the
API (scopes) and the calendar feed.

A person signed in to the browsable API gets exactly the scopes their permissions imply; a
token gets the scopes written on it, less those its user's permissions do not back. Reading
messages needs what the admin's message list needs (Django's view or change permission).
"""

from __future__ import annotations

from typing import Any

from accounts.models import ApiScope

# Django's admin shows the message list to holders of either permission.
MESSAGE_READ_PERMISSIONS = ("publisher.view_message", "publisher.change_message")

# Scope -> permissions of which one is enough. An empty tuple: no model permission backs the
# scope; `alert` is granted by an administrator on a token, and to superusers in a session.
SCOPE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    ApiScope.READ.value: MESSAGE_READ_PERMISSIONS,
    ApiScope.COMPOSE.value: ("publisher.add_message",),
    ApiScope.APPROVE.value: ("publisher.approve_message",),
    ApiScope.ADMIN.value: ("publisher.change_channel",),
    ApiScope.ALERT.value: (),
}


def _active(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def user_may_read_messages(user: Any) -> bool:
    return _active(user) and any(user.has_perm(p) for p in MESSAGE_READ_PERMISSIONS)


def session_scopes(user: Any) -> set[str]:
    """The scopes a signed-in person's permissions imply."""
    if not _active(user):
        return set()
    scopes = {scope for scope, perms in SCOPE_PERMISSIONS.items() if perms and any(user.has_perm(p) for p in perms)}
    if user.is_superuser:
        scopes.add(ApiScope.ALERT.value)
    return scopes


def token_scopes(user: Any, scopes: list[str]) -> set[str]:
    """A token's scopes that its user's permissions back: a token never does more than its user."""
    if not _active(user):
        return set()
    return {
        scope
        for scope in scopes
        if scope in SCOPE_PERMISSIONS
        and (not SCOPE_PERMISSIONS[scope] or any(user.has_perm(p) for p in SCOPE_PERMISSIONS[scope]))
    }
