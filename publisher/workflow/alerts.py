"""Urgent alerts pushed by dispatch centres: approved by policy and scheduled in one transaction.

The urgent-alert policy stands in for the second pair of eyes: a token holding the `alert`
scope was granted by an administrator for exactly this. The approval is audited under
"policy:urgent-alert" with the token's prefix and shown to approvers afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import ApiToken, User
from accounts.tokens import api_token_area, audience_outside_area
from publisher.delivery import scheduling
from publisher.errors import InvalidTransition, NotAllowed, ValidationError
from publisher.mail import subject_line
from publisher.models import Message, MessageKind, MessageState, MessageStatus, Urgency
from publisher.workflow import services
from publisher.workflow.attachments import attachment_add
from publisher.workflow.services import Audience, VariantInput

if TYPE_CHECKING:
    from publisher.models import Delivery

POLICY_LABEL = "policy:urgent-alert"
CAP_FIELDS = ("category", "severity", "urgency", "certainty", "event", "instruction", "headline", "area_desc")
# An alert can be followed up while it is (or was) out there.
FOLLOWABLE_STATES = {
    MessageState.SCHEDULED,
    MessageState.PUBLISHING,
    MessageState.PUBLISHED,
    MessageState.PARTIALLY_FAILED,
}


def _actor_and_token(token_or_actor: ApiToken | User) -> tuple[User, ApiToken | None]:
    if isinstance(token_or_actor, ApiToken):
        return token_or_actor.user, token_or_actor
    return token_or_actor, None


def _check_area(token: ApiToken | None, audience: Audience) -> None:
    outside = audience_outside_area(area=api_token_area(token), audience=audience)
    if outside:
        raise NotAllowed(
            _("This token may not target %(codes)s: it is limited to its own municipalities or zones.")
            % {"codes": _("all of Belgium") if outside == ["*"] else ", ".join(outside[:10])}
        )


def _title(cap: Mapping[str, Any], variants: Mapping[str, VariantInput], prefix: str) -> str:
    label = subject_line(str(cap.get("event") or cap.get("headline") or ""))
    if not label:
        first = next(iter(variants.values()), None)
        label = subject_line(first.text)[:80] if first else ""
    return f"{prefix}: {label}"[:200] if label else prefix


def _alert_prefix(variants: Mapping[str, VariantInput]) -> str:
    """The title is read by French and Dutch speakers alike, whatever language the API client
    asked for: "Alerte / Alarm", in the alert's own languages."""
    words = []
    for language in (lang for lang in ("fr", "nl") if lang in variants):
        with translation.override(language):
            words.append(_("Alert"))
    return " / ".join(words) or _("Alert")


def _approve_by_policy(*, message: Message, actor: User, token: ApiToken | None) -> list[Delivery]:
    """Inside the caller's transaction: refuse an incomplete alert, approve it by policy and schedule it now."""
    # Includes the per-channel limits once the channel checks are installed (publisher.channels.checks).
    problems = services.message_problems_error(message)
    if problems is not None:
        raise problems
    message.state = MessageState.APPROVED
    message.approved_by_policy = True
    message.approved_by = None
    message.approved_at = timezone.now()
    services.approval_bind(message)
    message.state_reason_set()
    message.save()
    services.audit_record(
        actor=actor,
        verb="message.approved_by_policy",
        obj=message,
        actor_label=POLICY_LABEL,
        summary={
            "token": token.prefix if token else "",
            "user": actor.get_username(),
            "content_hash": message.content_hash,
            "kind": message.kind,
        },
    )
    # Creates the deliveries due now; the dispatch side hands urgent ones to the queue on commit.
    return scheduling.message_schedule(message=message, actor=actor)


def alert_create(
    *,
    token_or_actor: ApiToken | User,
    audience: Audience,
    variants: Mapping[str, VariantInput],
    cap: Mapping[str, Any],
    status: str = MessageStatus.ACTUAL,
    title: str = "",
    image: UploadedFile | None = None,
    image_alt: Mapping[str, str] | None = None,
) -> Message:
    """Create an urgent alert, approve it by the urgent-alert policy and schedule it for now."""
    actor, token = _actor_and_token(token_or_actor)
    _check_area(token, audience)
    cap = {k: v for k, v in cap.items() if k in CAP_FIELDS and v not in (None, "")}
    with transaction.atomic():
        message = services.message_create(
            author=actor,
            title=title or _title(cap, variants, _alert_prefix(variants)),
            variants=variants,
            audience=audience,
            urgency=Urgency.URGENT,
            status=status,
            cap=cap,
        )
        if image is not None:
            _attach(message=message, actor=actor, image=image, alt=image_alt or {})
        _approve_by_policy(message=message, actor=actor, token=token)
    return message


def _attach(*, message: Message, actor: User, image: UploadedFile, alt: Mapping[str, str]) -> None:

    attachment_add(
        message=message,
        actor=actor,
        file=image,
        alt_fr=alt.get("fr", ""),
        alt_nl=alt.get("nl", ""),
        alt_de=alt.get("de", ""),
    )
    message.refresh_from_db()


def alert_follow_up(
    *,
    token_or_actor: ApiToken | User,
    alert: Message,
    msg_type: str,
    variants: Mapping[str, VariantInput],
    cap: Mapping[str, Any] | None = None,
    correction: bool = False,
) -> Message:
    """Post an update or an all-clear on an alert: a new policy-approved message that follows it,
    to the same audience (so the same channels; the dispatch side replies on the original threads).
    A ``correction`` (an Update) carries the alert's fixed text: it edits the posts already out
    where the network allows it and replies with it elsewhere."""
    actor, token = _actor_and_token(token_or_actor)
    if msg_type not in (MessageKind.UPDATE, MessageKind.CANCEL):
        raise ValidationError({"msg_type": _("Use Update or Cancel.")})
    if correction and msg_type != MessageKind.UPDATE:
        raise ValidationError({"correction": _("A correction is an Update: it replaces the alert's text.")})
    if alert.urgency != Urgency.URGENT or alert.kind != MessageKind.ALERT:
        raise InvalidTransition(_("Only an original urgent alert can be followed up."))
    if alert.state not in FOLLOWABLE_STATES:
        raise InvalidTransition(
            _("An alert that is “%(state)s” cannot be followed up.") % {"state": alert.get_state_display()}
        )
    audience = services.message_audience(alert)
    _check_area(token, audience)
    merged_cap = {**alert.cap, **{k: v for k, v in (cap or {}).items() if k in CAP_FIELDS and v not in (None, "")}}
    label = _("Correction") if correction else _("Update") if msg_type == MessageKind.UPDATE else _("All clear")
    with transaction.atomic():
        follow_up = services.message_create(
            author=actor,
            title=f"{label}: {alert.title}"[:200],
            variants=variants,
            audience=audience,
            urgency=Urgency.URGENT,
            status=alert.status,
            cap=merged_cap,
        )
        follow_up.kind = msg_type
        follow_up.follows = alert
        follow_up.is_correction = correction
        follow_up.content_hash = services.message_content_hash(follow_up)
        follow_up.save(update_fields=["kind", "follows", "is_correction", "content_hash", "updated_at"])
        _approve_by_policy(message=follow_up, actor=actor, token=token)
    return follow_up
