"""What Django and the third-party apps show of their own models, in the reader's language.

Django shows ``str(obj)`` and a model's verbose name in page titles, breadcrumbs, history
pages, delete summaries, filters and pickers. Some of these are English whatever the language:
a group's name is a role code ("channel_admin"), django-axes and django-otp write their names
and ``__str__`` in English without marking them for translation, Django names the tables it
creates for many-to-many fields "User-group relationship" and their rows "User_groups object
(1)", a permission's name is stored in English ("Can add message"), and the admin's yes/no
icons say "True" and "False". Each is given words read from our catalogues when it is shown
(installed once, from AccountsConfig.ready()).
"""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib.admin.templatetags import admin_list
from django.contrib.auth.models import Group, Permission
from django.db import models
from django.templatetags.static import static
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import format_lazy
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role

ROLE_LABELS = dict(Role.choices)

# django-otp's verbose names are plain English strings.
OTP_NAMES: dict[type[models.Model], tuple[Any, Any]] = {
    TOTPDevice: (_("authenticator app"), _("authenticator apps")),
    StaticDevice: (_("set of recovery codes"), _("sets of recovery codes")),
    StaticToken: (_("recovery code"), _("recovery codes")),
}

# Django builds the names of the default permissions in English and stores them.
DEFAULT_ACTIONS = {
    "add": _("Can add %(model)s"),
    "change": _("Can change %(model)s"),
    "delete": _("Can delete %(model)s"),
    "view": _("Can view %(model)s"),
}


def role_label(name: str) -> str:
    """A role group's name in words; any other group keeps the name an administrator gave it."""
    label = ROLE_LABELS.get(name)
    return str(label) if label is not None else name


def _group_str(group: Group) -> str:
    return role_label(group.name)


def _when(moment: Any) -> str:
    return date_format(localtime(moment), "SHORT_DATETIME_FORMAT") if moment else "—"


def _access_log_str(log: AccessLog) -> str:
    return gettext("Sign-in of %(user)s, %(when)s") % {"user": log.username or "—", "when": _when(log.attempt_time)}


def _access_attempt_str(attempt: AccessAttempt | AccessFailureLog) -> str:
    return gettext("Failed sign-ins of %(user)s, %(when)s") % {
        "user": attempt.username or "—",
        "when": _when(attempt.attempt_time),
    }


def permission_label(permission: Permission) -> str:
    """``app | model | action`` as Permission.__str__ says it, every part translated: the model's
    own declared permissions (Meta.permissions, marked for translation) or a default action."""
    content_type = permission.content_type
    model = content_type.model_class()
    if model is None:  # a content type left behind by an uninstalled app
        return f"{content_type} | {permission.name}"
    declared = dict(model._meta.permissions)
    if permission.codename in declared:
        name = str(declared[permission.codename])
    else:
        action, _sep, model_name = permission.codename.partition("_")
        template = DEFAULT_ACTIONS.get(action)
        if template is None or model_name != model._meta.model_name:
            return f"{content_type} | {permission.name}"
        name = str(template) % {"model": model._meta.verbose_name}
    return f"{content_type} | {name}"


def _link_str(link: models.Model) -> str:
    ends = [f for f in link._meta.fields if isinstance(f, models.ForeignKey)]
    return " – ".join(str(getattr(link, f.name)) for f in ends)


def _links_name(through: type[models.Model], template: Any) -> Any:
    ends = [f.related_model._meta.verbose_name for f in through._meta.fields if isinstance(f, models.ForeignKey)]
    # format_lazy: str() of the name, hence its translation, happens when a page shows it.
    return format_lazy("{}", _LinkName(template, ends[0], ends[1]))


class _LinkName:
    """Translated each time it is shown: "link between message and segment"."""

    def __init__(self, template: Any, first: Any, second: Any) -> None:
        self.template, self.first, self.second = template, first, second

    def __str__(self) -> str:
        return str(self.template) % {"from": self.first, "to": self.second}


def _boolean_icon(value: bool | None) -> SafeString:
    # Django's icon says "True" or "False" to a screen reader, in English.
    icon = {True: "yes", False: "no", None: "unknown"}[value]
    words = {True: _("Yes"), False: _("No"), None: _("Unknown")}[value]
    return format_html('<img src="{}" alt="{}">', static(f"admin/img/icon-{icon}.svg"), words)


def third_party_names_translate() -> None:
    admin_list._boolean_icon = _boolean_icon  # type: ignore[attr-defined]
    Group.__str__ = _group_str  # type: ignore[assignment,method-assign]
    Permission.__str__ = permission_label  # type: ignore[assignment,method-assign]
    AccessLog.__str__ = _access_log_str
    AccessAttempt.__str__ = _access_attempt_str
    AccessFailureLog.__str__ = _access_attempt_str
    for model, (singular, plural) in OTP_NAMES.items():
        model._meta.verbose_name = singular
        model._meta.verbose_name_plural = plural
    for through in apps.get_models(include_auto_created=True):
        if through._meta.auto_created:
            through._meta.verbose_name = _links_name(through, _("link between %(from)s and %(to)s"))
            through._meta.verbose_name_plural = _links_name(through, _("links between %(from)s and %(to)s"))
            through.__str__ = _link_str  # type: ignore[assignment,method-assign]
