"""Tandem's domain. Models hold state and constraints; decisions live in services.py."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LanguageRegion(models.TextChoices):
    NL = "nl", _("Dutch language area (Flanders)")
    FR = "fr", _("French language area (Wallonia)")
    BILINGUAL = "bilingual", _("Bilingual Brussels-Capital")
    DE = "de", _("German language area")


class Region(models.TextChoices):
    FLANDERS = "flanders", _("Flanders")
    WALLONIA = "wallonia", _("Wallonia")
    BRUSSELS = "brussels", _("Brussels-Capital")


class Language(models.TextChoices):
    """Languages of message variants and channels."""

    FR = "fr", _("French")
    NL = "nl", _("Dutch")
    DE = "de", _("German")


class Province(models.Model):
    nis_code = models.CharField(_("NIS code"), max_length=5, primary_key=True)
    name_fr = models.CharField(_("name (French)"), max_length=100)
    name_nl = models.CharField(_("name (Dutch)"), max_length=100)

    class Meta:
        ordering = ["nis_code"]
        verbose_name = _("province")
        verbose_name_plural = _("provinces")

    def __str__(self) -> str:
        return f"{self.name_fr} / {self.name_nl}"


class PoliceZone(models.Model):
    code = models.CharField(_("zone code"), max_length=4, primary_key=True)
    label = models.CharField(_("label"), max_length=200)

    class Meta:
        ordering = ["code"]
        verbose_name = _("police zone")
        verbose_name_plural = _("police zones")

    def __str__(self) -> str:
        return f"{self.code} {self.label}"


class Municipality(models.Model):
    nis_code = models.CharField(_("NIS code"), max_length=5, primary_key=True)
    name_fr = models.CharField(_("name (French)"), max_length=100)
    name_nl = models.CharField(_("name (Dutch)"), max_length=100)
    name_de = models.CharField(_("name (German)"), max_length=100, blank=True)
    language_region = models.CharField(_("language region"), max_length=9, choices=LanguageRegion.choices)
    facilities = models.CharField(
        _("facilities"),
        max_length=2,
        choices=Language.choices,
        blank=True,
        help_text=_("The minority language owed by law (language facilities), if any."),
    )
    province = models.ForeignKey(
        Province, verbose_name=_("province"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    region = models.CharField(_("region"), max_length=8, choices=Region.choices)
    arrondissement_nis = models.CharField(_("arrondissement"), max_length=5)
    # Space-separated 4-digit codes, padded with spaces so " 1050 " matches a whole code.
    postal_codes = models.CharField(_("postal codes"), max_length=200)
    police_zone = models.ForeignKey(
        PoliceZone,
        verbose_name=_("police zone"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="municipalities",
    )
    # Names, NIS and postal codes, lower-cased, without accents or apostrophes (see search.normalize).
    search_text = models.TextField(editable=False, default="")

    class Meta:
        ordering = ["nis_code"]
        verbose_name = _("municipality")
        verbose_name_plural = _("municipalities")

    def __str__(self) -> str:
        if self.name_fr == self.name_nl:
            return self.name_fr
        return f"{self.name_fr} / {self.name_nl}"

    @property
    def postal_code_list(self) -> list[str]:
        return self.postal_codes.split()


class Segment(models.Model):
    """A saved, named audience."""

    name_fr = models.CharField(_("name (French)"), max_length=200)
    name_nl = models.CharField(_("name (Dutch)"), max_length=200)
    municipalities = models.ManyToManyField(Municipality, verbose_name=_("municipalities"), related_name="segments")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name_fr"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self) -> str:
        return f"{self.name_fr} / {self.name_nl}"


class Channel(models.Model):
    """One account on one network, in one language, covering a set of municipalities."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=40, help_text=_("The adapter that publishes to this network."))
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    covers_all = models.BooleanField(_("covers all of Belgium"), default=False)
    municipalities = models.ManyToManyField(
        Municipality, verbose_name=_("coverage"), blank=True, related_name="channels"
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    config = models.JSONField(_("configuration"), default=dict, blank=True, help_text=_("Non-secret settings."))
    # Name of the secret (an environment variable or an entry in the secret store); the
    # secret itself is never stored in this row.
    secret_ref = models.CharField(_("secret reference"), max_length=200, blank=True)
    needs_reconnect = models.BooleanField(_("needs reconnection"), default=False)
    needs_reconnect_reason = models.TextField(_("reconnection reason"), blank=True)
    # When the flag was raised (None while it is down): readiness warns from this, not from
    # updated_at, which any edit moves.
    needs_reconnect_since = models.DateTimeField(_("needs reconnection since"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["language", "name"]
        verbose_name = _("channel")
        verbose_name_plural = _("channels")

    def __str__(self) -> str:
        return f"{self.get_language_display()} — {self.name}"


class MessageState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    SCHEDULED = "scheduled", _("Scheduled")
    PUBLISHING = "publishing", _("Publishing")
    PUBLISHED = "published", _("Published")
    PARTIALLY_FAILED = "partially_failed", _("Partially failed")
    FAILED = "failed", _("Failed")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")
    RETRACTED = "retracted", _("Retracted")
    EXPIRED = "expired", _("Approval expired")


class Urgency(models.TextChoices):
    ROUTINE = "routine", _("Routine")
    IMPORTANT = "important", _("Important")
    URGENT = "urgent", _("Urgent")


class MessageStatus(models.TextChoices):
    ACTUAL = "actual", _("Actual")
    EXERCISE = "exercise", _("Exercise")


class MessageKind(models.TextChoices):
    """CAP msgType: an original post, or a follow-up replying on the same threads."""

    ALERT = "Alert", _("Original")
    UPDATE = "Update", _("Update")
    CANCEL = "Cancel", _("All clear")


# The reasons the system gives for a message's state (Message.state_reason_coded).
STATE_REASONS = {
    "not_delivered": _("Not delivered on: %(channels)s."),
    "expired_unapproved": _("Not approved before its publication time: it was not published."),
    "edited": _("Edited after submission or approval: submit it again for approval."),
    "segment_changed": _(
        "The segment “%(segment)s” changed after submission or approval: check the audience and submit it again."
    ),
}


def state_reason_words(coded: dict[str, Any]) -> str:
    """A coded reason in the active language; an unknown code (a newer release's) as its code."""
    template = STATE_REASONS.get(coded.get("code", ""))
    if template is None:
        return str(coded.get("code", ""))
    params = {k: v for k, v in coded.items() if k != "code"}
    if "channels" in params:
        params["channels"] = "; ".join(
            f"{c['channel']} ({_state_label(c['state'])}: {c['error']})" for c in params["channels"]
        )
    return str(template) % params


def _state_label(state: str) -> str:
    return str(DeliveryState(state).label) if state in DeliveryState.values else state


class Message(models.Model):
    """The bilingual unit: one approval covers all its variants."""

    title = models.CharField(_("internal title"), max_length=200)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT, related_name="messages"
    )
    # Audience: the union of these; `audience_all` is the whole country.
    audience_all = models.BooleanField(_("all of Belgium"), default=False)
    audience_municipalities = models.ManyToManyField(
        Municipality, verbose_name=_("municipalities"), blank=True, related_name="+"
    )
    audience_zones = models.ManyToManyField(PoliceZone, verbose_name=_("police zones"), blank=True, related_name="+")
    audience_provinces = models.ManyToManyField(Province, verbose_name=_("provinces"), blank=True, related_name="+")
    audience_segments = models.ManyToManyField(Segment, verbose_name=_("segments"), blank=True, related_name="+")

    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE)
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices, default=MessageStatus.ACTUAL)
    state = models.CharField(
        _("state"), max_length=20, choices=MessageState.choices, default=MessageState.DRAFT, db_index=True
    )
    kind = models.CharField(_("kind"), max_length=6, choices=MessageKind.choices, default=MessageKind.ALERT)
    follows = models.ForeignKey(
        "self",
        verbose_name=_("follows up on"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="follow_ups",
    )
    # A correction is a follow-up carrying the fixed text of the message it follows: it edits
    # that message's posts where the network allows it, and replies on their threads elsewhere.
    # db_default: rows written without the ORM (bulk SQL, a process still on the release
    # before) are not corrections and not appeals.
    is_correction = models.BooleanField(_("correction"), default=False, db_default=False)

    # Schedule: either one time, or an RRULE (RFC 5545 text, may include EXDATE lines)
    # evaluated in Europe/Brussels from recurrence_start.
    publish_at = models.DateTimeField(_("publish at"), null=True, blank=True)
    recurrence = models.TextField(_("recurrence rule"), blank=True)
    recurrence_start = models.DateTimeField(_("recurrence start"), null=True, blank=True)

    # CAP fields for alerts (category, severity, urgency, certainty, event, instruction).
    cap = models.JSONField(_("CAP details"), default=dict, blank=True)

    content_hash = models.CharField(_("content hash"), max_length=64, editable=False, blank=True)
    # The content version the approval covered; an edit that changes content_hash voids it.
    approved_hash = models.CharField(_("approved content hash"), max_length=64, editable=False, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by_policy = models.BooleanField(_("approved by urgent-alert policy"), default=False)
    # The audience the approval bound: NIS codes resolved when it was given. Occurrences and
    # deliveries route by these, so a segment changed afterwards cannot widen a scheduled message.
    approved_audience = models.JSONField(_("approved audience (NIS codes)"), default=list, blank=True, editable=False)
    # Everyone who changed the content since the last approval (the author always counts):
    # none of them may approve it (four eyes).
    editors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("changed by"), blank=True, related_name="+", editable=False
    )
    # What a person wrote (a rejection comment, a cancel or retract reason), as written. A reason
    # the system gives is kept as a code and its details instead ({"code": ..., ...}, see
    # STATE_REASONS), so that each reader gets it in their own language; rows from before the
    # code have it in state_reason, in the language of the process that set it.
    state_reason = models.TextField(_("reason"), blank=True)
    # A witness appeal: replies to it are possible tips, forwarded to investigators, never published.
    witness_appeal = models.BooleanField(
        _("witness appeal"),
        default=False,
        db_default=False,
        help_text=_("Replies to this message are flagged as possible tips for the investigators."),
    )
    state_reason_coded = models.JSONField(_("reason (coded)"), null=True, blank=True, editable=False)

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        permissions = [("approve_message", _("Can approve or reject messages"))]
        # The lists (API, admin) show the newest first: read from this index, not a sort of every message.
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="message_created_idx"),
            # The home page's recent alerts approved by the urgent-alert policy.
            models.Index(
                fields=["-approved_at", "-id"], condition=models.Q(approved_by_policy=True), name="message_policy_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def state_reason_text(self) -> str:
        """Why the message is in its state, in the reader's language when the system gave it."""
        if self.state_reason_coded:
            return state_reason_words(self.state_reason_coded)
        return self.state_reason

    def state_reason_set(self, *, text: str = "", coded: dict[str, Any] | None = None) -> None:
        """A person's words or a coded reason (the other is cleared); saving is the caller's."""
        self.state_reason = text
        self.state_reason_coded = coded or None


# The longest variant text accepted anywhere (compose form, API): far above any network's
# limit, it only keeps a pasted document out.
VARIANT_TEXT_MAX = 20_000


def variant_text_validate(value: str) -> None:
    """One rule and one message for every way a text comes in (form, API, preview)."""
    if len(value) > VARIANT_TEXT_MAX:
        raise ValidationError(
            _("A text has at most %(limit)s characters; this one has %(count)s."),
            code="max_length",
            params={"limit": VARIANT_TEXT_MAX, "count": len(value)},
        )


class Variant(models.Model):
    """The text of a message in one language."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="variants")
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    text = models.TextField(_("text"))
    link = models.URLField(_("link"), blank=True, max_length=500)

    class Meta:
        ordering = ["message", "language"]
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        constraints = [models.UniqueConstraint(fields=["message", "language"], name="variant_one_per_language")]

    def __str__(self) -> str:
        return f"{self.language.upper()}: {self.text[:60]}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # Never trust the uploaded name: the stored name is our hash plus the format we wrote.
    return f"attachments/{instance.sha256[:2]}/{instance.sha256}.{instance.format.lower()}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    image = models.ImageField(_("image"), upload_to=attachment_path, width_field="width", height_field="height")
    width = models.PositiveIntegerField(default=0, editable=False)
    height = models.PositiveIntegerField(default=0, editable=False)
    format = models.CharField(max_length=10, default="JPEG", editable=False)
    sha256 = models.CharField(max_length=64, editable=False)
    alt_fr = models.TextField(_("alt text (French)"), blank=True)
    alt_nl = models.TextField(_("alt text (Dutch)"), blank=True)
    alt_de = models.TextField(_("alt text (German)"), blank=True)
    language = models.CharField(
        _("only for language"),
        max_length=2,
        choices=Language.choices,
        blank=True,
        help_text=_("Leave empty to use the image with every variant."),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["message", "position", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return f"{self.message_id}/{self.sha256[:8]}"

    def alt_for(self, language: str) -> str:
        value: str = getattr(self, f"alt_{language}", "")
        return value


class Occurrence(models.Model):
    """One publication time of a message."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="occurrences")
    due_at = models.DateTimeField(_("due at"), db_index=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["due_at"]
        verbose_name = _("occurrence")
        verbose_name_plural = _("occurrences")
        constraints = [models.UniqueConstraint(fields=["message", "due_at"], name="occurrence_unique_time")]

    def __str__(self) -> str:
        return f"#{self.message_id} · {self.due_at.isoformat(timespec='minutes')}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    RETRY_WAIT = "retry_wait", _("Waiting to retry")
    UNCONFIRMED = "unconfirmed", _("Unconfirmed")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")
    RETRACTED = "retracted", _("Retracted")


class Delivery(models.Model):
    """One (occurrence, channel): the ledger of what went where."""

    occurrence = models.ForeignKey(Occurrence, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="deliveries")
    language = models.CharField(_("variant language"), max_length=2, choices=Language.choices)
    state = models.CharField(_("state"), max_length=12, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    due_at = models.DateTimeField(_("due at"))
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True)
    # The worker process (host:pid) that took this queued delivery to render and send it;
    # empty while none has. Handing over (again) empties it.
    holder = models.CharField(_("held by"), max_length=100, blank=True, db_default="", editable=False)
    urgent = models.BooleanField(_("urgent"), default=False)
    # The delivery this one replies to (follow-ups thread on the original post).
    reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies", verbose_name=_("reply to")
    )
    remote_id = models.CharField(_("remote id"), max_length=500, blank=True)
    remote_url = models.URLField(_("remote URL"), max_length=1000, blank=True)
    receipt = models.JSONField(_("receipt"), default=dict, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    lateness_ms = models.IntegerField(_("lateness (ms)"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [models.UniqueConstraint(fields=["occurrence", "channel"], name="delivery_once_per_channel")]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due_idx"),
            models.Index(fields=["state", "lease_expires_at"], name="delivery_lease_idx"),
            # The feeds show the newest sent deliveries; only sent rows are in it, so it costs the
            # dispatcher nothing until a delivery is sent.
            models.Index(fields=["-sent_at", "-id"], condition=models.Q(state="sent"), name="delivery_sent_idx"),
            # The home page's recent deliveries awaiting a decision (failed, unconfirmed, expired).
            models.Index(
                fields=["-due_at", "-id"],
                condition=models.Q(state__in=["failed", "unconfirmed", "expired"]),
                name="delivery_decision_idx",
            ),
        ]

    def __str__(self) -> str:
        # Shown in admin titles and lists: words in the reader's language, no extra query.
        return _("Delivery #%(id)s (%(language)s, %(state)s)") % {
            "id": self.pk,
            "language": self.language.upper(),
            "state": self.get_state_display(),
        }


# What one network call came to (publisher.delivery.publishing), in words; an attempt
# overtaken by a newer one has its outcome followed by "-stale".
ATTEMPT_OUTCOMES = {
    "sending": DeliveryState.SENDING.label,
    "sent": DeliveryState.SENT.label,
    "exercise": _("exercise: not posted"),
    "transient": _("temporary failure"),
    "permanent": _("refused by the network"),
    "auth": _("access refused: reconnect the channel"),
    "gone": _("account or post gone"),
    "unknown": _("outcome unknown"),
    "lost": _("lost: the worker stopped"),
}


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, blank=True)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return _("Attempt #%(id)s (%(outcome)s)") % {"id": self.pk, "outcome": self.outcome_label}

    @property
    def outcome_label(self) -> str:
        """The outcome in words, "-stale" included."""
        state, _dash, stale = self.outcome.partition("-")
        known = ATTEMPT_OUTCOMES.get(state) or (DeliveryState(state).label if state in DeliveryState.values else None)
        if known is None:
            return self.outcome
        label = str(known)
        return _("%(state)s (too late, ignored)") % {"state": label} if stale else label


class BoostState(models.TextChoices):
    CREATING = "creating", _("Being prepared")
    PROPOSED = "proposed", _("Awaiting spend approval")
    ACTIVE = "active", _("Running")
    REJECTED = "rejected", _("Rejected by Meta")
    COMPLETED = "completed", _("Completed")
    STOPPED = "stopped", _("Stopped")
    FAILED = "failed", _("Failed")


class CredentialRefused(models.TextChoices):
    CHANNEL = "channel", _("the channel's token")
    ADS = "ads", _("the ad account's token")


class Boost(models.Model):
    """A paid promotion of one published post (a Facebook or Instagram delivery) to the
    postal codes of the part of the message's audience that reads its language. Created
    paused at Meta; runs only once someone other than its proposer approved the spend."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="boosts", verbose_name=_("message"))
    # The promoted post: its channel and remote id are kept on the promotion, so pruning the
    # delivery history (retention) leaves what was spent and where.
    delivery = models.ForeignKey(
        Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="boosts", verbose_name=_("delivery")
    )
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="boosts", verbose_name=_("channel"))
    post_id = models.CharField(_("promoted post"), max_length=500)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    state = models.CharField(_("state"), max_length=10, choices=BoostState.choices, default=BoostState.CREATING)
    # Amounts in minor units (cents) of `currency`, as the Marketing API takes them.
    budget_minor = models.PositiveIntegerField(_("budget (cents)"))
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    age_min = models.PositiveSmallIntegerField(_("minimum age"), null=True, blank=True)
    age_max = models.PositiveSmallIntegerField(_("maximum age"), null=True, blank=True)
    # The audience as targeted: all its postal codes; those shared with another language's
    # post, where Meta's language targeting (`locales` ids) narrows it to this language.
    postal_codes = models.JSONField(_("postal codes"), default=list)
    shared_postal_codes = models.JSONField(_("postal codes with language targeting"), default=list, blank=True)
    locales = models.JSONField(_("language targeting"), default=list, blank=True)
    # Which wallet the monthly limit counts against (the channel's ad account).
    ad_account = models.CharField(_("ad account"), max_length=50)
    # Built but never sent (exercise or dry run): `requests` shows what would have gone out.
    dry_run = models.BooleanField(_("dry run"), default=False)
    requests = models.JSONField(_("requests"), default=list, blank=True, editable=False)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("proposed by")
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("spend approved by"),
    )
    approved_at = models.DateTimeField(_("spend approved at"), null=True, blank=True)
    campaign_id = models.CharField(_("campaign id"), max_length=50, blank=True)
    # One ad set and ad per target (with and without language targeting).
    adset_ids = models.JSONField(_("ad set ids"), default=list, blank=True)
    creative_id = models.CharField(_("creative id"), max_length=50, blank=True)
    ad_ids = models.JSONField(_("ad ids"), default=list, blank=True)
    # What Meta says (effective_status, review feedback) and delivers, as last read.
    meta_status = models.CharField(_("status at Meta"), max_length=30, blank=True)
    rejection_reason = models.TextField(_("rejection reason"), blank=True)
    spend_minor = models.PositiveIntegerField(_("spent (cents)"), default=0)
    reach = models.PositiveIntegerField(_("reach"), default=0)
    impressions = models.PositiveIntegerField(_("impressions"), default=0)
    results_at = models.DateTimeField(_("results read at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    # Meta refused the credential used (Graph error 190 and kin): the channel's own token
    # (the channel then needs reconnecting) or the separate ad-account one. Shown in words
    # until a call with it succeeds again.
    credential_refused = models.CharField(
        _("credential refused"), max_length=10, choices=CredentialRefused.choices, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")
        indexes = [models.Index(fields=["ad_account", "starts_at"], name="boost_month_idx")]

    def __str__(self) -> str:
        return _("Promotion #%(id)s (%(language)s, %(state)s)") % {
            "id": self.pk,
            "language": self.language.upper(),
            "state": self.get_state_display(),
        }


class AdAccountWallet(models.Model):
    """One row per Meta ad account, made on first use. A proposal locks it while it checks
    the account's monthly budget and records its promotions, so proposals on different
    channels (or messages) that share the account take turns instead of both passing."""

    ad_account = models.CharField(_("ad account"), max_length=50, unique=True)

    class Meta:
        verbose_name = _("ad account")
        verbose_name_plural = _("ad accounts")

    def __str__(self) -> str:
        return self.ad_account


class MessageTemplate(models.Model):
    """A reusable FR/NL starting point (holding statement, witness appeal, ...). Its texts may
    hold placeholders such as ``{place}`` that the author fills in when starting a message."""

    slug = models.SlugField(
        _("template code"), max_length=60, unique=True, help_text=_("A short unique code, e.g. holding-statement.")
    )
    name_fr = models.CharField(_("name (French)"), max_length=200)
    name_nl = models.CharField(_("name (Dutch)"), max_length=200)
    title_fr = models.CharField(_("title (French)"), max_length=200, blank=True)
    title_nl = models.CharField(_("title (Dutch)"), max_length=200, blank=True)
    text_fr = models.TextField(_("text (French)"))
    text_nl = models.TextField(_("text (Dutch)"))
    active = models.BooleanField(_("offered when composing"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["position", "name_fr"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")

    def __str__(self) -> str:
        return f"{self.name_fr} / {self.name_nl}"

    def name_for(self, language: str) -> str:
        return self.name_nl if language == Language.NL else self.name_fr


# What each audit verb says, in words (the audit pages, an event's title).
AUDIT_VERBS = {
    "message.created": _("drafted"),
    "message.edited": _("edited"),
    "message.submitted": _("submitted for approval"),
    "message.approved": _("approved"),
    "message.approved_by_policy": _("approved by the urgent-alert policy"),
    "message.rejected": _("rejected"),
    "message.cancelled": _("cancelled"),
    "message.expired": _("approval expired"),
    "message.retracted": _("retracted"),
    "message.retract_incomplete": _("retraction incomplete"),
    "message.audience_changed": _("audience changed by a segment"),
    "attachment.added": _("image added"),
    "attachment.alt_changed": _("alt text changed"),
    "attachment.removed": _("image removed"),
    "delivery.retried": _("delivery retried"),
    "delivery.given_up": _("delivery given up"),
    "delivery.marked_posted": _("delivery recorded as posted by hand"),
    "message.policy_reviewed": _("alert sent by policy reviewed"),
    "channel.created": _("channel created"),
    "channel.updated": _("channel changed"),
    "channel.disabled": _("channel disabled"),
    "channel.reconnected": _("channel reconnected"),
    "channel.limits_refreshed": _("channel limits read from the server"),
    "channel.connected": _("channel account connected"),
    "channel.disconnected": _("channel account disconnected"),
    "channel.secret_rotated": _("webhook signing secret rotated"),
    "segment.created": _("segment created"),
    "segment.updated": _("segment changed"),
    "api_token.created": _("API token created"),
    "api_token.revoked": _("API token revoked"),
    "second_factor.enrolled": _("second factor set up"),
    "second_factor.recovery_codes_regenerated": _("new recovery codes created"),
    "second_factor.removed": _("second factor removed"),
    "second_factor.reset": _("second factor reset by an administrator"),
    "sign_in_lock.released": _("sign-in unlocked"),
    "calendar_link.created": _("calendar link created"),
    "calendar_link.revoked": _("calendar link revoked"),
    "history.pruned": _("delivery history pruned"),
    "message.language_confirmed": _("language exception confirmed"),
    "message.duplicated": _("drafted as a copy of another message"),
    "message.files_removed": _("our copies of the posts and images removed after retraction"),
    "template.created": _("message template created"),
    "template.updated": _("message template changed"),
    "template.deleted": _("message template deleted"),
    "boost.proposed": _("promotion proposed"),
    "boost.approved": _("promotion spend approved"),
    "boost.stopped": _("promotion stopped"),
    "boost.failed": _("promotion failed"),
    "message.correction_drafted": _("correction drafted"),
    "message.follow_up_drafted": _("follow-up drafted"),
    "delivery.edited": _("post corrected in place"),
    "inbox.state_changed": _("inbox item state changed"),
    "inbox.reply_composed": _("inbox reply written"),
    "inbox.reply_approved": _("inbox reply approved"),
    "inbox.reply_sent": _("inbox reply sent"),
    "inbox.reply_failed": _("inbox reply failed"),
    "inbox.tip_forwarded": _("possible tip forwarded to investigators"),
    "inbox.answer_drafted": _("answer drafted from an inbox item"),
    "inbox.exported": _("inbox exported"),
    "inbox.pruned": _("old inbox items deleted"),
    "message.witness_appeal_set": _("witness appeal marked"),
}
# What an audit event is about: AuditEvent.object_type names a model.
AUDIT_OBJECT_MODELS = {
    "message": "publisher.Message",
    "delivery": "publisher.Delivery",
    "channel": "publisher.Channel",
    "segment": "publisher.Segment",
    "apitoken": "accounts.ApiToken",
    "user": "accounts.User",
    "messagetemplate": "publisher.MessageTemplate",
    "inboxitem": "publisher.InboxItem",
    "inboxreply": "publisher.InboxReply",
}


class AppendOnlyQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("Audit events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit events are append-only.")


class AuditEvent(models.Model):
    """Append-only record of who did what, when, to what."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Who, for actions without a user: "policy:urgent-alert", "dispatcher", "token:ab12cd".
    actor_label = models.CharField(_("actor label"), max_length=100, blank=True)
    verb = models.CharField(_("action"), max_length=50, db_index=True)
    object_type = models.CharField(_("object type"), max_length=50)
    object_id = models.CharField(_("object id"), max_length=50, db_index=True)
    summary = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.verb_label} — {self.object_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit events are append-only.")

    @property
    def verb_label(self) -> str:
        return str(AUDIT_VERBS.get(self.verb, self.verb))

    @property
    def object_label(self) -> str:
        label = AUDIT_OBJECT_MODELS.get(self.object_type)
        kind = str(apps.get_model(label)._meta.verbose_name) if label else self.object_type
        return f"{kind} #{self.object_id}"


class DispatcherHeartbeat(models.Model):
    """When each running dispatcher last completed a turn of its loop (readiness reads the newest)."""

    host = models.CharField(_("host"), max_length=255)
    pid = models.PositiveIntegerField(_("process id"))
    seen_at = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("dispatcher heartbeat")
        verbose_name_plural = _("dispatcher heartbeats")
        constraints = [models.UniqueConstraint(fields=["host", "pid"], name="dispatcher_heartbeat_host_pid")]
        indexes = [models.Index(fields=["seen_at"], name="dispatcher_heartbeat_seen")]

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"


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
        ordering = ["message", "field", "-confirmed_at"]
        verbose_name = _("language confirmation")
        verbose_name_plural = _("language confirmations")
        constraints = [
            models.UniqueConstraint(fields=["message", "field", "text_hash"], name="language_confirmation_once")
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.field}"


class ConnectFlow(models.TextChoices):
    """How a channel's credential was obtained: the admin offers one connect form per flow."""

    APP_PASSWORD = "app_password", _("Handle and app password")
    BOT_TOKEN = "bot_token", _("Bot token")
    WEBHOOK_SECRET = "webhook_secret", _("Signing secret made by Tandem")
    SMTP = "smtp", _("SMTP account")
    OAUTH = "oauth", _("Sign-in at the network (OAuth)")


class ChannelCredential(models.Model):
    """A channel's secrets (tokens, passwords, signing keys), encrypted with the keys of
    TANDEM_ENCRYPTION_KEYS (publisher/channels/credentials.py; never read this row's
    `ciphertext` anywhere else). What users may see is in the clear: the account label and
    until when the access holds."""

    channel = models.OneToOneField(
        Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="credential"
    )
    flow = models.CharField(_("connected with"), max_length=40, choices=ConnectFlow.choices)
    # A Fernet token (MultiFernet: any of the configured keys decrypts, the newest encrypts)
    # of the JSON object of secrets.
    ciphertext = models.TextField(editable=False)
    account = models.CharField(_("account"), max_length=300, blank=True)
    expires_at = models.DateTimeField(_("access expires at"), null=True, blank=True)
    # Past this, the grant itself is gone: only a person can connect again.
    refresh_expires_at = models.DateTimeField(_("refresh possible until"), null=True, blank=True)
    connected_at = models.DateTimeField(_("connected at"), default=timezone.now)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("connected by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)
    # One worker refreshes a credential at a time: a refresh token is often single-use.
    refresh_lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("channel credential")
        verbose_name_plural = _("channel credentials")
        indexes = [models.Index(fields=["expires_at"], name="credential_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.channel_id} {self.flow} {self.account}"


class OAuthApp(models.Model):
    """Tandem's own registration as an OAuth client at one server that registers clients
    dynamically (a Mastodon instance: POST /api/v1/apps), reused by every channel of that
    instance. Keyed by the redirect URI too: a new TANDEM_PUBLIC_URL needs a new registration.
    The client secret is a Fernet token like a channel credential's (publisher/channels/credentials.py)."""

    network = models.CharField(_("network"), max_length=40)
    server = models.CharField(_("server"), max_length=300)
    redirect_uri = models.CharField(_("redirect URI"), max_length=500)
    scopes = models.CharField(_("scopes"), max_length=300)
    client_id = models.CharField(_("client id"), max_length=300)
    client_secret_ciphertext = models.TextField(editable=False)
    created_at = models.DateTimeField(_("registered at"), default=timezone.now)

    class Meta:
        verbose_name = _("OAuth app registration")
        verbose_name_plural = _("OAuth app registrations")
        constraints = [
            models.UniqueConstraint(fields=["network", "server", "redirect_uri"], name="oauth_app_once_per_server")
        ]

    def __str__(self) -> str:
        return f"{self.network} {self.server}"


class InboxCursor(models.Model):
    """Where the last fetch of a channel's replies and mentions stopped: the network's own
    cursor (an id, a page token), written in the same transaction as the items of its page,
    so a fetch stopped half-way resumes where its last stored page ended."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="inbox_cursor")
    position = models.JSONField(_("position"), default=dict, blank=True)
    fetched_at = models.DateTimeField(_("last fetched"), null=True, blank=True)
    next_fetch_at = models.DateTimeField(_("next fetch"), null=True, blank=True)
    failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("inbox cursor")
        verbose_name_plural = _("inbox cursors")

    def __str__(self) -> str:
        return f"{self.channel_id}: {self.position}"


class InboxState(models.TextChoices):
    NEW = "new", _("New")
    READ = "read", _("Read")
    NEEDS_ANSWER = "needs_answer", _("Needs an answer")
    ANSWERED = "answered", _("Answered")
    ESCALATED = "escalated", _("Escalated")
    HIDDEN = "hidden", _("Hidden")


class InboxKind(models.TextChoices):
    MENTION = "mention", _("Mention")
    REPLY = "reply", _("Reply")
    QUOTE = "quote", _("Quote")
    COMMENT = "comment", _("Comment")


class InboxItem(models.Model):
    """A reply, mention or comment someone wrote to one of our channels. Personal data: kept
    ``TANDEM_INBOX_RETENTION_DAYS`` days, seen only with the inbox permission."""

    channel = models.ForeignKey(Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="+")
    remote_id = models.CharField(_("remote id"), max_length=500)
    kind = models.CharField(_("kind"), max_length=10, choices=InboxKind.choices, default=InboxKind.MENTION)
    author_handle = models.CharField(_("author"), max_length=300)
    text = models.TextField(_("text"))
    # Detected from the text; the channel's language when the text is too short to tell.
    language = models.CharField(_("language"), max_length=2)
    language_detected = models.BooleanField(_("language detected"), default=False)
    posted_at = models.DateTimeField(_("posted at"))
    url = models.URLField(_("link"), max_length=1000, blank=True)
    in_reply_to = models.CharField(_("answers remote post"), max_length=500, blank=True)
    # Our post it answers, when it answers one of ours.
    delivery = models.ForeignKey(
        Delivery, verbose_name=_("answers"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What a reply on the same thread needs (Bluesky: uri, cid and the thread's root).
    thread = models.JSONField(_("thread"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=12, choices=InboxState.choices, default=InboxState.NEW)
    possible_tip = models.BooleanField(_("possible tip"), default=False)
    tip_forwarded_at = models.DateTimeField(_("forwarded to investigators"), null=True, blank=True)
    fetched_at = models.DateTimeField(_("fetched"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-posted_at", "-id"]
        verbose_name = _("inbox item")
        verbose_name_plural = _("inbox")
        permissions = [("use_inbox", _("Can read and answer the inbox (replies are personal data)"))]
        constraints = [models.UniqueConstraint(fields=["channel", "remote_id"], name="inbox_item_once")]
        indexes = [
            models.Index(fields=["-posted_at", "-id"], name="inbox_item_newest_idx"),
            models.Index(fields=["fetched_at"], name="inbox_item_fetched_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.author_handle}: {self.text[:60]}"


class InboxReplyState(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    APPROVED = "approved", _("Approved, sending")
    SENDING = "sending", _("Sending")
    RETRY_WAIT = "retry_wait", _("Waiting to retry")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    UNCONFIRMED = "unconfirmed", _("Unconfirmed")


class InboxReply(models.Model):
    """Our answer to an inbox item, on the same thread of the same channel."""

    item = models.ForeignKey(InboxItem, on_delete=models.CASCADE, related_name="replies")
    text = models.TextField(_("text"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    state = models.CharField(_("state"), max_length=20, choices=InboxReplyState.choices)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    remote_id = models.CharField(_("remote id"), max_length=500, blank=True)
    remote_url = models.URLField(_("remote URL"), max_length=1000, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("inbox reply")
        verbose_name_plural = _("inbox replies")
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="inbox_reply_due_idx")]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.text[:60]}"


class EngagementSnapshot(models.Model):
    """A post's public figures as the network gave them at one checkpoint after publishing
    (1 h, 6 h, 24 h, 7 d): the time series of one delivery."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="engagement")
    # Seconds after sending this snapshot stands for (a checkpoint), and when it was taken.
    checkpoint = models.PositiveIntegerField(_("checkpoint (seconds after sending)"))
    taken_at = models.DateTimeField(_("taken at"))
    # {"replies": n, "reposts": n, "likes": n, "quotes": n, "views": n}: what the network gives.
    figures = models.JSONField(_("figures"), default=dict)

    class Meta:
        ordering = ["delivery", "checkpoint"]
        verbose_name = _("engagement snapshot")
        verbose_name_plural = _("engagement snapshots")
        constraints = [
            models.UniqueConstraint(fields=["delivery", "checkpoint"], name="engagement_once_per_checkpoint")
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id}@{self.checkpoint}s"
