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
    # sha256 of the secret part of the personal iCalendar feed URL (accounts.tokens); the secret
    # itself is shown once. Empty: no feed. A new link replaces it, so the old one stops working.
    calendar_token_hash = models.CharField(
        _("calendar link hash"), max_length=64, unique=True, null=True, blank=True, editable=False
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


class ApiScope(models.TextChoices):
    READ = "read", _("Read")
    COMPOSE = "compose", _("Compose")
    APPROVE = "approve", _("Approve")
    ALERT = "alert", _("Urgent alert")
    ADMIN = "admin", _("Administration")


class ApiToken(models.Model):
    """A bearer token for the REST API. Only a short prefix is kept in clear; the secret is hashed."""

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    # The first characters of the token, to recognise it in lists and logs; not a secret.
    prefix = models.CharField(_("prefix"), max_length=12, unique=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, editable=False)
    # A list of ApiScope values.
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    municipalities = models.ManyToManyField(
        "publisher.Municipality",
        verbose_name=_("limited to municipalities"),
        blank=True,
        related_name="+",
        help_text=_("Leave both limits empty for a token that may target all of Belgium."),
    )
    zones = models.ManyToManyField(
        "publisher.PoliceZone", verbose_name=_("limited to police zones"), blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an Idempotency-Key, replayed on retries."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    # sha256 of method, path and body: the same key with another request is a conflict.
    fingerprint = models.CharField(max_length=64)
    # Null while the first request is still running.
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="idempotency_once_per_token_key")]

    def __str__(self) -> str:
        return f"{self.token_id}:{self.key}"
