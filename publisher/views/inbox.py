"""The team inbox page: replies and mentions, French and Dutch side by side (or one language),
newest first; the buttons post to the views below, which call publisher.workflow.inbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from publisher.models import InboxItem, InboxReply, InboxReplyState, InboxState, Language, Message
from publisher.views.messages import act_and_redirect, post_only
from publisher.workflow import inbox

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    from accounts.models import User


def _user(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    if not inbox.user_may_use_inbox(user):
        raise PermissionDenied
    return user


def inbox_filter(query: QueryDict, prefix: str = "") -> inbox.InboxFilter:
    language = query.get(f"{prefix}language", "")
    state = query.get(f"{prefix}state", "")
    return inbox.InboxFilter(
        language=language if language in Language.values else "",
        state=state if state in InboxState.values else "",
        tips=query.get(f"{prefix}tips") == "1",
    )


def _query(where: inbox.InboxFilter) -> str:
    values = {"language": where.language, "state": where.state, "tips": "1" if where.tips else ""}
    return urlencode({k: v for k, v in values.items() if v})


def _page_url(where: inbox.InboxFilter | None = None) -> str:
    url = reverse("admin:publisher_inboxitem_changelist")
    query = _query(where) if where else ""
    return f"{url}?{query}" if query else url


def inbox_view(model_admin: ModelAdmin[InboxItem], request: HttpRequest) -> HttpResponse:
    user = _user(request)
    where = inbox_filter(request.GET)
    counts = inbox.inbox_counts(user=user)
    languages = inbox.inbox_languages()
    if where.language:
        columns = [(where.language, list(inbox.inbox_items(user=user, where=where, languages=languages)))]
    else:
        columns = [
            (language, list(inbox.inbox_items(user=user, where=_with_language(where, language), languages=languages)))
            for language in languages
        ]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": InboxItem._meta,
        "title": _("Inbox"),
        "columns": [
            {"language": language, "label": Language(language).label, "items": items} for language, items in columns
        ],
        "where": where,
        "query": _query(where),
        "states": [(code, label, counts[code]) for code, label in InboxState.choices],
        "languages": [(code, Language(code).label) for code in languages],
        "fetch_problems": inbox.inbox_fetch_problems(user=user),
        "can_approve": user.has_perm(inbox.APPROVE_PERMISSION),
        "can_draft": user.has_perm("publisher.add_message"),
        "can_forward": bool(settings.TANDEM_INVESTIGATOR_EMAILS),
        "awaiting": InboxReplyState.AWAITING_APPROVAL,
        "user_id": user.pk,
        "timezone": timezone.get_current_timezone_name(),
    }
    return TemplateResponse(request, "admin/publisher/inboxitem/inbox.html", context)


def _with_language(where: inbox.InboxFilter, language: str) -> inbox.InboxFilter:
    return inbox.InboxFilter(language=language, state=where.state, tips=where.tips)


def _item(item_id: int) -> InboxItem:
    try:
        return InboxItem.objects.select_related("channel", "delivery__occurrence__message").get(pk=item_id)
    except InboxItem.DoesNotExist as exc:
        raise Http404 from exc


def _back(request: HttpRequest) -> str:
    # The page's filter, echoed by each button's form, so the team stays where it was.
    return _page_url(inbox_filter(request.POST, prefix="back_"))


@post_only
def state_view(model_admin: ModelAdmin[InboxItem], request: HttpRequest, item_id: int) -> HttpResponse:
    user = _user(request)
    item = _item(item_id)
    state = request.POST.get("state", "")
    label = dict(InboxState.choices).get(state, state)
    return act_and_redirect(
        request,
        lambda: inbox.inbox_item_set_state(item=item, state=state, actor=user),
        _("Marked as “%(state)s”.") % {"state": label},
        _back(request),
    )


@post_only
def reply_view(model_admin: ModelAdmin[InboxItem], request: HttpRequest, item_id: int) -> HttpResponse:
    user = _user(request)
    item = _item(item_id)
    routine = inbox.reply_approvals(item.channel.config) == 0
    return act_and_redirect(
        request,
        lambda: inbox.inbox_reply_compose(item=item, text=request.POST.get("text", ""), actor=user),
        _("The answer goes out on the same thread.") if routine else _("The answer awaits a second person's approval."),
        _back(request),
    )


@post_only
def reply_approve_view(model_admin: ModelAdmin[InboxItem], request: HttpRequest, reply_id: int) -> HttpResponse:
    user = _user(request)
    try:
        reply = InboxReply.objects.get(pk=reply_id)
    except InboxReply.DoesNotExist as exc:
        raise Http404 from exc
    return act_and_redirect(
        request,
        lambda: inbox.inbox_reply_approve(reply=reply, actor=user),
        _("Answer approved: it goes out on the same thread."),
        _back(request),
    )


@post_only
def forward_view(model_admin: ModelAdmin[InboxItem], request: HttpRequest, item_id: int) -> HttpResponse:
    user = _user(request)
    item = _item(item_id)
    return act_and_redirect(
        request,
        lambda: inbox.inbox_tip_forward(item=item, actor=user),
        _("Forwarded to the investigators by mail."),
        _back(request),
    )


@post_only
def draft_view(model_admin: ModelAdmin[InboxItem], request: HttpRequest, item_id: int) -> HttpResponse:
    user = _user(request)
    item = _item(item_id)
    made: list[Message] = []

    def draft() -> None:
        made.append(inbox.inbox_answer_draft(item=item, actor=user))

    response = act_and_redirect(
        request, draft, _("A draft answer in French and Dutch is ready: check it and submit it."), _back(request)
    )
    if made:
        return HttpResponseRedirect(reverse("admin:publisher_message_change", args=[made[0].pk]))
    return response


@post_only
def export_view(model_admin: ModelAdmin[InboxItem], request: HttpRequest) -> HttpResponse:
    user = _user(request)
    where = inbox_filter(request.POST)
    items = inbox.inbox_items(user=user, where=where, limit=10_000)
    body = inbox.inbox_export(items=items, actor=user, where=where)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="tandem-inbox.csv"'
    return response


@post_only
def witness_appeal_view(model_admin: ModelAdmin[Message], request: HttpRequest, object_id: str) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    try:
        message = Message.objects.get(pk=int(object_id))
    except (Message.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
    appeal = request.POST.get("appeal") == "1"
    done = (
        _("Marked as a witness appeal: replies are flagged as possible tips.")
        if appeal
        else _("No longer a witness appeal.")
    )
    return act_and_redirect(
        request,
        lambda: inbox.message_witness_appeal_set(message=message, appeal=appeal, actor=user),
        done,
        reverse("admin:publisher_message_change", args=[message.pk]),
    )
