"""A deliberate exception to the language guard, bound to the exact text it was given for."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LanguageConfirmation(models.Model):
    """The author's "yes, this is deliberate" (a quote, a bilingual slogan) for one text: a
    variant ("variants.nl") or an image's alt text ("attachments.12.alt_nl"). It holds only
    while the text hashes to ``text_hash``: editing the text asks again. Rows are never
    updated; the audit trail has the same facts."""

    message = models.ForeignKey("publisher.Message", on_delete=models.CASCADE, related_name="language_confirmations")
    # The field the guard keys its errors by, as in the API's problem details.
    field = models.CharField(_("field"), max_length=100)
    language = models.CharField(_("language"), max_length=2)
    text_hash = models.CharField(_("text hash"), max_length=64)
    reason = models.TextField(_("reason"))
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("confirmed by"), on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), default=timezone.now)

    class Meta:
        app_label = "publisher"
        ordering = ["message", "field", "-confirmed_at"]
        verbose_name = _("language confirmation")
        verbose_name_plural = _("language confirmations")
        constraints = [
            models.UniqueConstraint(fields=["message", "field", "text_hash"], name="language_confirmation_once")
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.field}"
