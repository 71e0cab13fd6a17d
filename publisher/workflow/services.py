"""Every write on messages goes through here. Each service validates first, then changes
the database in one transaction and records an audit event in that same transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from publisher.audit import audit_record
from publisher.channels.checks import message_channel_errors
from publisher.delivery import scheduling
from publisher.errors import InvalidTransition, NotAllowed, ValidationError
from publisher.language.problems import message_language_errors
from publisher.mail import CONTROL_CHARACTERS
from publisher.models import (
    Language,
    Message,
    MessageState,
    MessageStatus,
    Municipality,
    PoliceZone,
    Province,
    Segment,
    Urgency,
    Variant,
)
from publisher.territory import selectors
from publisher.territory.routing import missing_languages
from publisher.workflow import notifications
from publisher.workflow.checklist import checklist_validate

EDITABLE_STATES = {
    MessageState.DRAFT,
    MessageState.REJECTED,
    MessageState.SUBMITTED,
    MessageState.APPROVED,
    MessageState.SCHEDULED,
}
# An edit in these states voids the approval: the approval covered a content version.
APPROVED_STATES = {MessageState.APPROVED, MessageState.SCHEDULED}
# A message going out: a recurring one still has occurrences to come from its approval.
LIVE_STATES = {MessageState.PUBLISHING, MessageState.PUBLISHED, MessageState.PARTIALLY_FAILED}


@dataclass
class Audience:
    """Who a message is for; the union of its parts."""

    municipalities: list[str] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)
    provinces: list[str] = field(default_factory=list)
    segments: list[int] = field(default_factory=list)
    all: bool = False

    def is_empty(self) -> bool:
        return not (self.all or self.municipalities or self.zones or self.provinces or self.segments)


def message_audience(message: Message) -> Audience:
    """A saved message's audience, as a follow-up or a changed alert starts from it."""
    return Audience(
        municipalities=[str(pk) for pk in message.audience_municipalities.values_list("pk", flat=True)],
        zones=[str(pk) for pk in message.audience_zones.values_list("pk", flat=True)],
        provinces=[str(pk) for pk in message.audience_provinces.values_list("pk", flat=True)],
        segments=list(message.audience_segments.values_list("pk", flat=True)),
        all=message.audience_all,
    )


@dataclass(frozen=True)
class Schedule:
    """One publication time, or a recurrence (RRULE text) from a start; neither means "when approved"."""

    publish_at: datetime | None = None
    recurrence: str = ""
    recurrence_start: datetime | None = None


@dataclass
class VariantInput:
    text: str
    link: str = ""


def _resolve_audience(audience: Audience) -> dict[str, list[Any]]:
    """Look up every part of the audience, with a field error naming what is unknown."""
    if audience.is_empty():
        raise ValidationError(
            {"audience": _("Choose an audience: municipalities, zones, provinces, segments or all of Belgium.")}
        )
    errors: dict[str, str] = {}
    resolved: dict[str, list[Any]] = {}
    for key, model, ids in (
        ("municipalities", Municipality, audience.municipalities),
        ("zones", PoliceZone, audience.zones),
        ("provinces", Province, audience.provinces),
        ("segments", Segment, audience.segments),
    ):
        wanted = list(dict.fromkeys(str(i) for i in ids))
        found = {str(obj.pk): obj for obj in model._default_manager.filter(pk__in=wanted)}
        unknown = [i for i in wanted if i not in found]
        if unknown:
            errors[key] = _("Unknown %(what)s: %(codes)s.") % {
                "what": model._meta.verbose_name_plural,
                "codes": ", ".join(unknown),
            }
        resolved[key] = [found[i] for i in wanted if i in found]
    if errors:
        raise ValidationError(errors)
    return resolved


def _validate_title(title: str) -> None:
    if not title.strip():
        raise ValidationError({"title": _("Give the message an internal title.")})
    # The title heads mails and calendar entries: a line break or control character there breaks them.
    if CONTROL_CHARACTERS.search(title.strip()):
        raise ValidationError({"title": _("The title must be a single line without control characters.")})


def _validate_variants(variants: Mapping[str, VariantInput]) -> None:
    errors: dict[str, str] = {}
    for language, variant in variants.items():
        if language not in Language.values:
            errors[f"variants.{language}"] = _("Unknown language “%(language)s”: use fr, nl or de.") % {
                "language": language
            }
        elif not variant.text.strip():
            errors[f"variants.{language}"] = _("The text may not be empty.")
    if errors:
        raise ValidationError(errors)


def _utc_iso(moment: datetime | None) -> str | None:
    # The same instant given with another offset is the same content.
    return moment.astimezone(UTC).isoformat() if moment else None


def message_content_hash(message: Message) -> str:
    """A stable digest of everything an approval vouches for."""
    content = {
        "title": message.title,
        "status": message.status,
        "urgency": message.urgency,
        "variants": sorted((v.language, v.text, v.link) for v in message.variants.all()),
        "attachments": sorted((a.sha256, a.language, a.alt_fr, a.alt_nl, a.alt_de) for a in message.attachments.all()),
        "audience": {
            "all": message.audience_all,
            "municipalities": sorted(message.audience_municipalities.values_list("pk", flat=True)),
            "zones": sorted(message.audience_zones.values_list("pk", flat=True)),
            "provinces": sorted(message.audience_provinces.values_list("pk", flat=True)),
            "segments": sorted(message.audience_segments.values_list("pk", flat=True)),
        },
        "publish_at": _utc_iso(message.publish_at),
        "recurrence": message.recurrence,
        "recurrence_start": _utc_iso(message.recurrence_start),
        "cap": message.cap,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _apply_audience(message: Message, resolved: dict[str, list[Any]], audience: Audience) -> None:
    message.audience_all = audience.all
    message.audience_municipalities.set(resolved["municipalities"])
    message.audience_zones.set(resolved["zones"])
    message.audience_provinces.set(resolved["provinces"])
    message.audience_segments.set(resolved["segments"])


def _apply_variants(message: Message, variants: Mapping[str, VariantInput]) -> None:
    message.variants.exclude(language__in=list(variants)).delete()
    for language, variant in variants.items():
        Variant.objects.update_or_create(
            message=message, language=language, defaults={"text": variant.text.strip(), "link": variant.link}
        )


def message_create(
    *,
    author: User,
    title: str,
    variants: Mapping[str, VariantInput],
    audience: Audience,
    urgency: str = Urgency.ROUTINE,
    status: str = MessageStatus.ACTUAL,
    schedule: Schedule | None = None,
    cap: Mapping[str, Any] | None = None,
) -> Message:
    """Create a draft message with its variants and audience; no schedule means "when approved"."""
    _validate_title(title)
    _validate_variants(variants)
    resolved = _resolve_audience(audience)
    schedule = schedule or Schedule()
    with transaction.atomic():
        message = Message.objects.create(
            title=title.strip(),
            author=author,
            urgency=urgency,
            status=status,
            publish_at=schedule.publish_at,
            recurrence=schedule.recurrence,
            recurrence_start=schedule.recurrence_start,
            cap=dict(cap or {}),
        )
        _apply_audience(message, resolved, audience)
        _apply_variants(message, variants)
        message.editors.add(author)
        message.content_hash = message_content_hash(message)
        message.save(update_fields=["audience_all", "content_hash"])
        audit_record(actor=author, verb="message.created", obj=message, summary={"title": message.title})
    return message


def message_update(
    *,
    message: Message,
    actor: User,
    title: str | None = None,
    variants: Mapping[str, VariantInput] | None = None,
    audience: Audience | None = None,
    urgency: str | None = None,
    status: str | None = None,
    schedule: Schedule | None = None,
    cap: Mapping[str, Any] | None = None,
) -> Message:
    """Change a message; parts left as None stay as they are, and a schedule replaces the
    whole schedule (so a one-off message can become recurring and back). A change to an
    approved or scheduled message sends it back to draft."""
    if message.state not in EDITABLE_STATES:
        raise InvalidTransition(
            _("A message in state “%(state)s” can no longer be edited.") % {"state": message.get_state_display()}
        )
    if title is not None:
        _validate_title(title)
    if variants is not None:
        _validate_variants(variants)
    resolved = _resolve_audience(audience) if audience is not None else None
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        before = message.content_hash
        for name, value in (("title", title), ("urgency", urgency), ("status", status)):
            if value is not None:
                setattr(message, name, value.strip() if name == "title" else value)
        if schedule is not None:
            message.publish_at = schedule.publish_at
            message.recurrence = schedule.recurrence
            message.recurrence_start = schedule.recurrence_start
        if cap is not None:
            message.cap = dict(cap)
        message.save()
        if resolved is not None and audience is not None:
            _apply_audience(message, resolved, audience)
        if variants is not None:
            _apply_variants(message, variants)
        return _message_content_changed(message=message, actor=actor, before=before)


def message_editor_ids(message: Message) -> set[int]:
    """Who may not approve this version: its author and everyone who changed its content
    (text, link, images, alt text, audience, schedule) since the last approval."""
    return {message.author_id, *message.editors.values_list("pk", flat=True)}


def approval_bind(message: Message) -> None:
    """Inside the approval's transaction: the approval covers this content version and the
    audience it resolves to now (NIS codes), and a new round of changes starts."""
    message.approved_hash = message.content_hash
    message.approved_audience = selectors.audience_nis_codes(message)
    message.editors.set([message.author_id])


def _approval_void(*, message: Message, actor: User | None, reason: dict[str, Any]) -> str:
    """Inside the caller's transaction: send a submitted, approved or scheduled message back to
    draft (its deliveries not yet started are cancelled). Returns the state it left, or ""."""
    if message.state not in APPROVED_STATES | {MessageState.SUBMITTED}:
        return ""
    previous = message.state
    scheduling.message_unschedule(message=message, actor=actor)
    message.state = MessageState.DRAFT
    message.approved_hash = ""
    message.approved_audience = []
    message.approved_by = None
    message.approved_at = None
    message.approved_by_policy = False
    message.state_reason_set(coded=reason)
    return previous


def _message_content_changed(*, message: Message, actor: User, before: str) -> Message:
    """Recompute the hash; if content changed, the actor joins the message's editors (who may not
    approve it) and an approval or pending submission is voided."""
    message.content_hash = message_content_hash(message)
    summary: dict[str, Any] = {"content_changed": message.content_hash != before}
    if message.content_hash != before:
        message.editors.add(actor)
        previous = _approval_void(
            message=message,
            actor=actor,
            reason={"code": "edited"},
        )
        if previous:
            summary["returned_to_draft_from"] = previous
    message.save()
    audit_record(actor=actor, verb="message.edited", obj=message, summary=summary)
    return message


def messages_audience_changed(
    *, messages: Iterable[Message], before: Mapping[int, list[str]], actor: User, segment: Segment
) -> dict[str, list[int]]:
    """A segment's members changed (inside that change's transaction; ``messages`` are the ones
    using it, locked, and ``before`` their resolved NIS codes before the change).

    Policy: a message whose resolved audience changed counts it as a content change by the
    segment's editor. A submitted, approved or scheduled one returns to draft (its approval is
    void, its pending deliveries cancelled) and its author is told by email after commit; a
    draft or rejected one only records the editor. A message already going out (publishing,
    published, partially failed: a recurrence with occurrences to come) keeps the audience its
    approval bound: later occurrences still route by ``approved_audience``.
    """
    result: dict[str, list[int]] = {"returned_to_draft": [], "changed": [], "kept_approved_audience": []}
    for message in messages:
        after = selectors.audience_nis_codes(message)
        if after == list(before.get(message.pk, [])):
            continue
        if message.state not in EDITABLE_STATES:
            result["kept_approved_audience"].append(message.pk)
            continue
        message.editors.add(actor)
        previous = _approval_void(
            message=message,
            actor=actor,
            # The segment's name in both languages: who reads the reason picks theirs.
            reason={"code": "segment_changed", "segment": str(segment)},
        )
        message.save()
        added = sorted(set(after) - set(before.get(message.pk, [])))
        removed = sorted(set(before.get(message.pk, [])) - set(after))
        summary: dict[str, Any] = {"segment": str(segment), "added": added, "removed": removed}
        if previous:
            summary["returned_to_draft_from"] = previous
            result["returned_to_draft"].append(message.pk)
            notifications.message_notify_on_commit(
                message_id=message.pk, event="audience_changed", comment=str(segment)
            )
        result["changed"].append(message.pk)
        audit_record(actor=actor, verb="message.audience_changed", obj=message, summary=summary)
    return result


def message_attachments_changed(*, message: Message, actor: User) -> Message:
    """Call after adding or removing an attachment, inside the same transaction."""
    return _message_content_changed(message=message, actor=actor, before=message.content_hash)


def message_problems(message: Message) -> list[str]:
    """Everything that blocks submission, in the active language."""
    error = message_problems_error(message)
    return error.messages if error is not None else []


def message_problems_error(message: Message) -> ValidationError | None:
    """What blocks submission, as the error submit raises: a text in the wrong language under
    its field ("variants.nl", "attachments.12.alt_nl") with its code, the rest unkeyed."""
    problems = _message_general_problems(message)
    by_field: dict[str, Any] = {NON_FIELD_ERRORS: problems} if problems else {}
    by_field.update(message_language_errors(message))
    return ValidationError(by_field) if by_field else None


def _message_general_problems(message: Message) -> list[str]:
    problems: list[str] = []
    required = selectors.message_required_languages(message)
    available = selectors.message_variant_languages(message)
    if not required:
        problems.append(_("The audience is empty."))
    names = dict(Language.choices)
    for language in missing_languages(required, available):
        problems.append(_("Missing variant: %(language)s (required by the audience).") % {"language": names[language]})
    needed_alts = {v for v in required if v in available} | {
        "fr" for v in required if v == "de" and "de" not in available
    }
    for attachment in message.attachments.all():
        for language in sorted(needed_alts):
            if attachment.language and attachment.language != language:
                continue
            if not attachment.alt_for(language).strip():
                problems.append(_("Alt text missing for an image: %(language)s.") % {"language": names[language]})
    # What the routed networks would refuse (length, images, alt text), per channel.
    problems.extend(message_channel_errors(message))
    if _correction_unchanged(message):
        problems.append(_("This correction changes nothing: change the text where the original is wrong."))
    return problems


def _correction_unchanged(message: Message) -> bool:
    """A correction whose texts and links are all still the original's would change no post."""
    if not message.is_correction or message.follows_id is None:
        return False
    before = set(Variant.objects.filter(message_id=message.follows_id).values_list("language", "text", "link"))
    return set(message.variants.values_list("language", "text", "link")) <= before


def message_require_state(message: Message, allowed: Iterable[str]) -> None:
    if message.state not in allowed:
        raise InvalidTransition(
            _("This is not possible while the message is “%(state)s”.") % {"state": message.get_state_display()}
        )


def message_submit(*, message: Message, actor: User) -> Message:
    """Send a draft to the approvers."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        message_require_state(message, {MessageState.DRAFT, MessageState.REJECTED})
        problems = message_problems_error(message)
        if problems is not None:
            raise problems
        message.state = MessageState.SUBMITTED
        message.state_reason_set()
        message.content_hash = message_content_hash(message)
        message.save(update_fields=["state", "state_reason", "state_reason_coded", "content_hash", "updated_at"])
        editors = User.objects.filter(pk__in=message_editor_ids(message)).order_by("username")
        audit_record(
            actor=actor,
            verb="message.submitted",
            obj=message,
            summary={"content_hash": message.content_hash, "changed_by": [u.get_username() for u in editors]},
        )
        notifications.message_notify_on_commit(message_id=message.pk, event="submitted")
    return message


def message_approve(*, message: Message, actor: User, checklist: Mapping[str, Any], comment: str = "") -> Message:
    """Approve a submitted message. Never by its author nor by anyone who changed its content
    since the last approval: four eyes. The legal checklist (publisher.checklist) must be
    complete; its ticks and references go into the audit trail. The approval binds the
    content hash and the audience resolved now (``approved_audience``)."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        if message.author_id == actor.pk:
            raise NotAllowed(_("You cannot approve your own message: another approver must do it."))
        if actor.pk in message_editor_ids(message):
            raise NotAllowed(_("You changed this message since its last approval: another approver must approve it."))
        if not actor.has_perm("publisher.approve_message"):
            raise NotAllowed(_("You are not allowed to approve messages."))
        message_require_state(message, {MessageState.SUBMITTED})
        current = message_content_hash(message)
        if current != message.content_hash:
            raise InvalidTransition(_("The message changed since it was submitted: it must be submitted again."))
        # Submission checked this too; the detector or a confirmation may have changed since.
        wrong_language = message_language_errors(message)
        if wrong_language:
            raise ValidationError(wrong_language)
        ticks = checklist_validate(checklist)
        message.state = MessageState.APPROVED
        approval_bind(message)
        message.approved_by = actor
        message.approved_at = timezone.now()
        message.state_reason_set()
        message.save()
        audit_record(
            actor=actor,
            verb="message.approved",
            obj=message,
            summary={
                "content_hash": current,
                "comment": comment,
                "checklist": ticks,
                "audience": len(message.approved_audience),
            },
        )
        scheduling.message_schedule(message=message, actor=actor)
        notifications.message_notify_on_commit(message_id=message.pk, event="approved", comment=comment)
    return message


def message_reject(*, message: Message, actor: User, comment: str) -> Message:
    """Send a submitted message back to its author with a comment."""
    if not comment.strip():
        raise ValidationError({"comment": _("Say why the message is rejected.")})
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        if message.author_id == actor.pk:
            raise NotAllowed(_("You cannot review your own message."))
        if not actor.has_perm("publisher.approve_message"):
            raise NotAllowed(_("You are not allowed to reject messages."))
        message_require_state(message, {MessageState.SUBMITTED})
        message.state = MessageState.REJECTED
        message.state_reason_set(text=comment.strip())
        message.save(update_fields=["state", "state_reason", "state_reason_coded", "updated_at"])
        audit_record(actor=actor, verb="message.rejected", obj=message, summary={"comment": comment.strip()})
        notifications.message_notify_on_commit(message_id=message.pk, event="rejected", comment=comment.strip())
    return message


def message_cancel(*, message: Message, actor: User, reason: str = "") -> Message:
    """Stop a message that has not gone out yet."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        message_require_state(
            message,
            {
                MessageState.DRAFT,
                MessageState.SUBMITTED,
                MessageState.APPROVED,
                MessageState.SCHEDULED,
                MessageState.REJECTED,
            },
        )
        scheduling.message_unschedule(message=message, actor=actor)
        message.state = MessageState.CANCELLED
        message.state_reason_set(text=reason.strip())
        message.save(update_fields=["state", "state_reason", "state_reason_coded", "updated_at"])
        audit_record(actor=actor, verb="message.cancelled", obj=message, summary={"reason": reason.strip()})
    return message


# States in which a message still waits for an approval that can no longer come in time.
UNAPPROVED_STATES = [MessageState.DRAFT, MessageState.SUBMITTED, MessageState.REJECTED]


def _first_occurrence(message: Message) -> datetime | None:
    if message.recurrence and message.recurrence_start:
        from dateutil.rrule import rrulestr

        start = timezone.localtime(message.recurrence_start).replace(tzinfo=None)
        rule = rrulestr(message.recurrence, dtstart=start, forceset=True)
        first = rule.after(start, inc=True)
        return timezone.make_aware(first) if first else None
    return message.publish_at


def messages_expire_unapproved(*, now: datetime) -> list[Message]:
    """Messages whose first occurrence passed before anyone approved them do not go out:
    they become `expired` and their authors are told (after commit)."""
    candidates = Message.objects.filter(state__in=UNAPPROVED_STATES).filter(
        models.Q(publish_at__lte=now) | models.Q(recurrence_start__lte=now)
    )
    expired: list[Message] = []
    with transaction.atomic():
        for message in candidates.select_for_update():
            first = _first_occurrence(message)
            if first is None or first > now:
                continue
            previous = message.state
            message.state = MessageState.EXPIRED
            message.state_reason_set(coded={"code": "expired_unapproved"})
            message.save(update_fields=["state", "state_reason", "state_reason_coded", "updated_at"])
            audit_record(
                actor=None,
                actor_label="dispatcher",
                verb="message.expired",
                obj=message,
                summary={"from": previous, "first_occurrence": first.isoformat()},
            )
            notifications.message_notify_on_commit(message_id=message.pk, event="expired")
            expired.append(message)
    return expired
