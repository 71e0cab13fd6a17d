"""The team inbox: what people wrote back, what the team does with it.

Replies and mentions are personal data. Only users with ``publisher.use_inbox`` read them;
the audit trail records every action on them but never their text or their author (the audit
trail outlives the items: ``inbox_prune`` deletes them after TANDEM_INBOX_RETENTION_DAYS).

- States: new, read, needs an answer, answered, escalated, hidden (``inbox_item_set_state``).
- Answers go out on the item's own thread (delivery.inbox sends them) after the channel's
  policy: ``Channel.config["reply_approvals"]`` 1 (default: a second person approves, never
  the writer) or 0 (routine answers go out at once).
- Witness appeals: replies to a message marked as an appeal are possible tips. A tip is
  forwarded by mail to TANDEM_INVESTIGATOR_EMAILS, after the commit, and is never answered
  in public nor copied into anything published.
- Rumours: any item becomes a draft message prefilled in French and Dutch.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from publisher.audit import audit_record
from publisher.channels.base import Post, Problem
from publisher.channels.registry import get_adapter
from publisher.delivery.inbox import replies_send_on_commit
from publisher.errors import InvalidTransition, NotAllowed, ValidationError
from publisher.mail import mail_send
from publisher.models import (
    AuditEvent,
    Channel,
    InboxCursor,
    InboxItem,
    InboxReply,
    InboxReplyState,
    InboxState,
    Language,
    Message,
)
from publisher.workflow.services import Audience, VariantInput, message_create

INBOX_PERMISSION = "publisher.use_inbox"
APPROVE_PERMISSION = "publisher.approve_message"
ACTOR_LABEL = "retention"
TEXT_MAX = 5000
LIST_LIMIT = 100

# The rumour answer, prefilled in both languages whatever the language of the page.
RUMOUR_ANSWER = {
    Language.FR: (
        "Nous sommes au courant des messages qui circulent à ce sujet. "
        "Nous vous informerons ici dès que nous en saurons plus."
    ),
    Language.NL: (
        "We zijn op de hoogte van de berichten die hierover de ronde doen. We informeren u hier zodra we meer weten."
    ),
}


def user_may_use_inbox(user: User | None) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(INBOX_PERMISSION))


def _require_inbox(user: User) -> None:
    if not user_may_use_inbox(user):
        raise NotAllowed(_("You do not have access to the inbox."))


def reply_approvals(channel_config: dict[str, object] | None) -> int:
    """Approvals an answer on this channel needs: 1 (default) or 0 (routine answers go out at once)."""
    value = (channel_config or {}).get("reply_approvals", 1)
    return 0 if str(value) == "0" else 1


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilter:
    language: str = ""  # "" = every language
    state: str = ""  # "" = everything but hidden
    tips: bool = False


def inbox_items(
    *, user: User, where: InboxFilter, limit: int = LIST_LIMIT, languages: list[str] | None = None
) -> QuerySet[InboxItem]:
    """Newest first, with what the page shows of each item in a fixed number of queries.
    ``languages``: the inbox's columns, when the caller already has them."""
    _require_inbox(user)
    rows = InboxItem.objects.select_related("channel", "delivery__occurrence__message").prefetch_related(
        Prefetch("replies", queryset=InboxReply.objects.select_related("author", "approved_by"))
    )
    if where.language:
        # A reply in a language the inbox has no column for (English, German on a French
        # channel) is shown with the channel's language: it was written to that channel.
        columns = languages if languages is not None else inbox_languages()
        others = ~Q(language__in=columns) & Q(channel__language=where.language)
        rows = rows.filter(Q(language=where.language) | others)
    rows = rows.filter(state=where.state) if where.state else rows.exclude(state=InboxState.HIDDEN)
    if where.tips:
        rows = rows.filter(possible_tip=True)
    return rows.order_by("-posted_at", "-id")[:limit]


def inbox_languages() -> list[str]:
    """The inbox's columns: French and Dutch, and German when a channel publishes in it."""
    languages = [Language.FR, Language.NL]
    if Channel.objects.filter(language=Language.DE).exists():
        languages.append(Language.DE)
    return [str(language) for language in languages]


def inbox_fetch_problems(*, user: User) -> list[InboxCursor]:
    """Channels whose last read of replies failed (a revoked token, a rate limit), with why."""
    _require_inbox(user)
    return list(InboxCursor.objects.exclude(last_error="").select_related("channel").order_by("channel__name"))


def inbox_counts(*, user: User) -> dict[str, int]:
    _require_inbox(user)
    counts = dict.fromkeys(InboxState.values, 0)
    for state in InboxItem.objects.values_list("state", flat=True).order_by():
        counts[state] += 1
    return counts


# --- states -------------------------------------------------------------------------------


def inbox_item_set_state(*, item: InboxItem, state: str, actor: User) -> InboxItem:
    _require_inbox(actor)
    if state not in InboxState.values:
        raise ValidationError({"state": _("Unknown inbox state.")})
    if state == item.state:
        return item
    with transaction.atomic():
        before = item.state
        item.state = state
        item.save(update_fields=["state", "updated_at"])
        audit_record(actor=actor, verb="inbox.state_changed", obj=item, summary={"from": before, "to": state})
    return item


# --- answers ------------------------------------------------------------------------------


def inbox_reply_compose(*, item: InboxItem, text: str, actor: User) -> InboxReply:
    """Write an answer on the item's thread; it goes out at once or after one approval (the
    channel's policy)."""
    _require_inbox(actor)
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Write the answer first.")})
    if len(text) > TEXT_MAX:
        raise ValidationError({"text": _("The answer is too long.")})
    if item.possible_tip:
        raise InvalidTransition(_("A possible tip is never answered in public: forward it to the investigators."))
    if item.state == InboxState.HIDDEN:
        raise InvalidTransition(_("A hidden item is not answered."))
    problems = [p.message for p in _check_reply(item, text) if p.severity == "error"]
    if problems:
        raise ValidationError({"text": "; ".join(problems)})
    routine = reply_approvals(item.channel.config) == 0
    with transaction.atomic():
        reply = InboxReply.objects.create(
            item=item,
            text=text,
            author=actor,
            state=InboxReplyState.APPROVED if routine else InboxReplyState.AWAITING_APPROVAL,
        )
        audit_record(
            actor=actor,
            verb="inbox.reply_composed",
            obj=reply,
            summary={"item": item.pk, "channel": item.channel_id, "approval_needed": not routine},
        )
        if routine:
            replies_send_on_commit([reply.pk])
    return reply


def _check_reply(item: InboxItem, text: str) -> list[Problem]:
    # The same checks as a post on this channel (length as the network counts it).
    return get_adapter(item.channel).check(Post(text=text, language=item.channel.language))


def inbox_reply_approve(*, reply: InboxReply, actor: User) -> InboxReply:
    """A second person lets the answer go; never its writer (four eyes)."""
    _require_inbox(actor)
    if not actor.has_perm(APPROVE_PERMISSION):
        raise NotAllowed(_("Only an approver may approve an answer."))
    if reply.author_id == actor.pk:
        raise NotAllowed(_("You cannot approve your own answer."))
    with transaction.atomic():
        taken = InboxReply.objects.filter(pk=reply.pk, state=InboxReplyState.AWAITING_APPROVAL).update(
            state=InboxReplyState.APPROVED, approved_by=actor
        )
        if not taken:
            raise InvalidTransition(_("This answer is not awaiting approval."))
        reply.refresh_from_db()
        audit_record(actor=actor, verb="inbox.reply_approved", obj=reply, summary={"item": reply.item_id})
        replies_send_on_commit([reply.pk])
    return reply


# --- witness appeals and tips ---------------------------------------------------------------


def message_witness_appeal_set(*, message: Message, appeal: bool, actor: User) -> Message:
    if not actor.has_perm("publisher.change_message"):
        raise NotAllowed(_("You may not change this message."))
    with transaction.atomic():
        message.witness_appeal = appeal
        message.save(update_fields=["witness_appeal", "updated_at"])
        # Replies already in the inbox follow the flag.
        InboxItem.objects.filter(delivery__occurrence__message=message, tip_forwarded_at__isnull=True).update(
            possible_tip=appeal
        )
        audit_record(actor=actor, verb="message.witness_appeal_set", obj=message, summary={"appeal": appeal})
    return message


def _tip_mail(item: InboxItem) -> tuple[str, str]:
    appeal = item.delivery.occurrence.message if item.delivery else None
    context = {
        "item": item,
        "appeal": appeal,
        "posted_at": timezone.localtime(item.posted_at),
        "network": item.channel.kind,
    }
    subject = render_to_string("emails/inbox_tip_subject.txt", context)
    return subject, render_to_string("emails/inbox_tip.txt", context)


def inbox_tip_forward(*, item: InboxItem, actor: User) -> InboxItem:
    """Mail the item (link, time, text) to the investigators after the commit; record it."""
    _require_inbox(actor)
    recipients = list(settings.TANDEM_INVESTIGATOR_EMAILS)
    if not recipients:
        raise ValidationError(_("No investigator address is configured (TANDEM_INVESTIGATOR_EMAILS)."))
    with transaction.atomic():
        item.possible_tip = True
        item.tip_forwarded_at = timezone.now()
        item.state = InboxState.ESCALATED
        item.save(update_fields=["possible_tip", "tip_forwarded_at", "state", "updated_at"])
        # Who got it and when; not what it says (the audit trail outlives the item).
        audit_record(
            actor=actor,
            verb="inbox.tip_forwarded",
            obj=item,
            summary={"channel": item.channel_id, "recipients": len(recipients)},
        )
        subject, body = _tip_mail(item)

        def inbox_tip_mail() -> None:
            mail_send(subject=subject, body=body, to=recipients)

        transaction.on_commit(inbox_tip_mail)
    return item


# --- rumours ------------------------------------------------------------------------------


def _audience_for(item: InboxItem) -> Audience:
    if item.delivery is not None:
        codes = list(item.delivery.occurrence.message.approved_audience or [])
        if codes:
            return Audience(municipalities=codes)
    channel = item.channel
    if channel.covers_all:
        return Audience(all=True)
    codes = list(channel.municipalities.values_list("nis_code", flat=True))
    return Audience(municipalities=codes) if codes else Audience(all=True)


def inbox_answer_draft(*, item: InboxItem, actor: User) -> Message:
    """A draft message answering a rumour, prefilled in French and Dutch, for the usual
    approval. Nothing of the item is copied into it."""
    _require_inbox(actor)
    if not actor.has_perm("publisher.add_message"):
        raise NotAllowed(_("You may not write messages."))
    if item.possible_tip:
        raise InvalidTransition(_("A possible tip is never answered in public: forward it to the investigators."))
    with transaction.atomic():
        message = message_create(
            author=actor,
            title=_("Answer to a rumour (inbox #%(id)s)") % {"id": item.pk},
            variants={language: VariantInput(text=text) for language, text in RUMOUR_ANSWER.items()},
            audience=_audience_for(item),
        )
        audit_record(actor=actor, verb="inbox.answer_drafted", obj=item, summary={"message": message.pk})
        if item.state == InboxState.NEW:
            item.state = InboxState.NEEDS_ANSWER
            item.save(update_fields=["state", "updated_at"])
    return message


# --- export and retention -------------------------------------------------------------------

EXPORT_COLUMNS = ("id", "channel", "language", "state", "kind", "author", "posted_at", "link", "text", "possible_tip")


def inbox_export(*, items: Iterable[InboxItem], actor: User, where: InboxFilter) -> str:
    """The listed items as CSV; the export itself is recorded (how many, which filter)."""
    _require_inbox(actor)
    rows = list(items)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for item in rows:
        writer.writerow(
            [
                item.pk,
                item.channel.name,
                item.language,
                item.state,
                item.kind,
                _csv_safe(item.author_handle),
                timezone.localtime(item.posted_at).isoformat(timespec="minutes"),
                item.url,
                _csv_safe(item.text),
                int(item.possible_tip),
            ]
        )
    AuditEvent.objects.create(
        actor=actor,
        actor_label=actor.get_username(),
        verb="inbox.exported",
        object_type="inbox",
        object_id="export",
        summary={"items": len(rows), "language": where.language, "state": where.state, "tips": where.tips},
    )
    return out.getvalue()


def _csv_safe(value: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: someone's reply must stay text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@dataclass
class InboxPruneResult:
    cutoff: datetime
    items: int = 0
    replies: int = 0


def inbox_prune(*, days: int, now: datetime | None = None, actor: User | None = None) -> InboxPruneResult:
    """Delete the inbox items (and our answers to them) fetched more than ``days`` days ago."""
    if days < 1:
        raise ValueError("days must be at least 1")
    cutoff = (now or timezone.now()) - timedelta(days=days)
    result = InboxPruneResult(cutoff=cutoff)
    with transaction.atomic():
        old = InboxItem.objects.filter(fetched_at__lt=cutoff)
        result.replies = InboxReply.objects.filter(item__in=old).delete()[0]
        result.items = old.delete()[0]
        if result.items:
            AuditEvent.objects.create(
                actor=actor,
                actor_label=actor.get_username() if actor else ACTOR_LABEL,
                verb="inbox.pruned",
                object_type="retention",
                object_id=cutoff.date().isoformat(),
                summary={"days": days, "items": result.items, "replies": result.replies},
            )
    return result
