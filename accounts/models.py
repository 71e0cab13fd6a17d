import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Language(models.TextChoices):
    """Interface languages (English is the source language)."""

    EN = "en", _("English")
    FR = "fr", _("French")
    NL = "nl", _("Dutch")


def new_calendar_token() -> str:
    return secrets.token_urlsafe(24)


class User(AbstractUser):
    preferred_language = models.CharField(
        _("preferred language"), max_length=2, choices=Language.choices, default=Language.FR
    )
    # Secret part of the personal iCalendar feed URL; rotating it revokes old subscriptions.
    calendar_token = models.CharField(
        _("calendar token"), max_length=64, unique=True, default=new_calendar_token, editable=False
    )

    # Demo accounts have well-known passwords: accounts.backends refuses them outside demo mode.
    is_demo = models.BooleanField(_("demo account"), default=False, editable=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")


class Role(models.TextChoices):
    """Roles are groups with explicit permissions (see accounts.services.roles_sync)."""

    AUTHOR = "author", _("Author")
    APPROVER = "approver", _("Approver")
    CHANNEL_ADMIN = "channel_admin", _("Channel administrator")
    API_CLIENT = "api_client", _("API client")
