"""Writes on users and roles."""

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts.models import Role, User

# Explicit permissions per role: (app_label, codename).
ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    Role.AUTHOR: [
        ("publisher", "view_municipality"),
        ("publisher", "view_policezone"),
        ("publisher", "view_province"),
        ("publisher", "view_segment"),
        ("publisher", "add_segment"),
        ("publisher", "change_segment"),
        ("publisher", "view_channel"),
        ("publisher", "view_message"),
        ("publisher", "add_message"),
        ("publisher", "change_message"),
        ("publisher", "view_variant"),
        ("publisher", "add_variant"),
        ("publisher", "change_variant"),
        ("publisher", "view_attachment"),
        ("publisher", "add_attachment"),
        ("publisher", "change_attachment"),
        ("publisher", "delete_attachment"),
        ("publisher", "view_delivery"),
        ("publisher", "view_auditevent"),
        # The comms team answers the public: replies and mentions (personal data).
        ("publisher", "use_inbox"),
    ],
    Role.APPROVER: [
        ("publisher", "view_municipality"),
        ("publisher", "view_policezone"),
        ("publisher", "view_province"),
        ("publisher", "view_segment"),
        ("publisher", "view_channel"),
        ("publisher", "view_message"),
        ("publisher", "approve_message"),
        ("publisher", "view_variant"),
        ("publisher", "view_attachment"),
        ("publisher", "view_delivery"),
        ("publisher", "view_auditevent"),
        ("publisher", "use_inbox"),
    ],
    Role.CHANNEL_ADMIN: [
        ("publisher", "view_channel"),
        ("publisher", "add_channel"),
        ("publisher", "change_channel"),
        ("publisher", "view_municipality"),
        ("publisher", "view_segment"),
        ("accounts", "view_user"),
        ("publisher", "view_auditevent"),
        # Administrators keep the FR/NL templates authors start from.
        ("publisher", "view_messagetemplate"),
        ("publisher", "add_messagetemplate"),
        ("publisher", "change_messagetemplate"),
        ("publisher", "delete_messagetemplate"),
    ],
    Role.API_CLIENT: [
        ("publisher", "view_municipality"),
        ("publisher", "view_message"),
        ("publisher", "view_delivery"),
    ],
}


@transaction.atomic
def roles_sync() -> dict[str, Group]:
    """Create or update one group per role with exactly its permissions. Idempotent."""
    groups: dict[str, Group] = {}
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=str(role))
        wanted = []
        for app_label, codename in perms:
            wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)
        groups[str(role)] = group
    return groups


@transaction.atomic
def user_ensure(
    *,
    username: str,
    email: str,
    preferred_language: str,
    roles: list[str],
    password: str | None,
    is_superuser: bool = False,
    is_demo: bool = False,
) -> tuple[User, bool]:
    """Create a user if missing (never overwrites an existing one's password). Returns (user, created)."""
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "email": email,
            "preferred_language": preferred_language,
            "is_staff": True,
            "is_superuser": is_superuser,
            "is_demo": is_demo,
        },
    )
    if created:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(update_fields=["password"])
    groups = roles_sync() if roles else {}
    for role in roles:
        user.groups.add(groups[role])
    return user, created
