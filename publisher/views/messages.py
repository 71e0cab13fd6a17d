"""The message page (compose, review, act, audit) and the workflow actions behind it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from publisher.delivery.selectors import message_deliveries
from publisher.errors import InvalidTransition, NotAllowed, ValidationError
from publisher.language.problems import message_language_findings
from publisher.models import Language, Message, MessageState
from publisher.territory.selectors import message_required_languages
from publisher.views import message_templates
from publisher.views.forms import (
    BRUSSELS,
    LANGUAGES,
    ApproveForm,
    CancelForm,
    ComposeForm,
    RejectForm,
    RetractForm,
)
from publisher.workflow import followups, newsroom, previews, selectors, services
from publisher.workflow.duplication import message_duplicate
from publisher.workflow.engagement import message_engagement
from publisher.workflow.language_confirmations import CONFIRMABLE_STATES
from publisher.workflow.retraction import message_retract, message_retraction_plan

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    from accounts.models import User

CANCELLABLE = {
    MessageState.DRAFT,
    MessageState.SUBMITTED,
    MessageState.APPROVED,
    MessageState.SCHEDULED,
    MessageState.REJECTED,
}
RETRACTABLE = {MessageState.PUBLISHED, MessageState.PARTIALLY_FAILED, MessageState.PUBLISHING}


def post_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Workflow actions change state: only by POST (with its CSRF check)."""

    @functools.wraps(view)
    def wrapper(model_admin: ModelAdmin[Message], request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return view(model_admin, request, *args, **kwargs)

    return wrapper


def _user(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    return user


def _page_url(message: Message) -> str:
    return reverse("admin:publisher_message_change", args=[message.pk])


def can_edit(user: User, message: Message | None) -> bool:
    if message is None:
        return user.has_perm("publisher.add_message")
    return user.has_perm("publisher.change_message") and message.state in services.EDITABLE_STATES


def can_review(user: User, message: Message) -> bool:
    """May reject (and, unless they changed it, approve) the message."""
    return (
        message.state == MessageState.SUBMITTED
        and message.author_id != user.pk
        and user.has_perm("publisher.approve_message")
    )


def changed_by_reviewer(user: User, message: Message) -> bool:
    """The reviewer changed the content since the last approval: four eyes, they may not approve it."""
    return can_review(user, message) and user.pk in services.message_editor_ids(message)


def compose_view(model_admin: ModelAdmin[Message], request: HttpRequest, object_id: str | None) -> HttpResponse:
    """Add (object_id None) or show/edit one message."""
    user = _user(request)
    message = None
    if object_id is not None:
        message = get_object_or_404(Message.objects.select_related("author", "approved_by"), pk=object_id)
        if not model_admin.has_view_permission(request, message):
            raise PermissionDenied
    elif not model_admin.has_add_permission(request):
        raise PermissionDenied
    editable = can_edit(user, message)
    form = None
    if editable:
        if request.method == "POST":
            form = ComposeForm(request.POST, request.FILES, message=message)
            if form.is_valid():
                was_approved = message is not None and message.state in services.APPROVED_STATES | {
                    MessageState.SUBMITTED
                }
                saved = form.save(actor=user)
                if saved is not None:
                    if was_approved and saved.state == MessageState.DRAFT:
                        flash.warning(
                            request,
                            _(
                                "The message changed after it was submitted or approved: "
                                "it is a draft again and must be approved again."
                            ),
                        )
                    else:
                        flash.success(request, _("The message was saved."))
                    return HttpResponseRedirect(_page_url(saved))
        elif message is None:
            form = ComposeForm(initial=message_templates.template_initial(request))
        else:
            form = ComposeForm(message=message)
    elif request.method == "POST":
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Message._meta,
        "title": message.title if message else _("New message"),
        "message": message,
        "form": form,
        "editable": editable,
        "languages": LANGUAGES,
        "language_names": selectors.language_names(),
        "preview_url": reverse("admin:publisher_message_preview_audience"),
        "schedule_url": reverse("admin:publisher_message_preview_schedule"),
        "cards_url": reverse("admin:publisher_message_preview_cards"),
        # Drawn on the server for the first paint; the compose page refreshes them as the author types.
        "preview_cards": previews.message_preview_cards(message) if message is not None else [],
        "media": model_admin.media + (form.media if form else ComposeForm().media),
        # German shows when the audience needs it (the live preview refines this as the author types).
        "show_german": bool(form and form["text_de"].value()) or (message is not None and "de" in _required(message)),
    }
    if message is not None:
        context.update(_message_context(request, message))
    elif form is not None and not form.is_bound and not form.initial:
        # An empty page only: once a template filled it, picking another would lose the values.
        context["message_templates"] = message_templates.templates_for_compose(request)
    return TemplateResponse(request, "admin/publisher/message/compose.html", context)


def _message_context(request: HttpRequest, message: Message) -> dict[str, Any]:
    user = _user(request)
    variants = {v.language: v for v in message.variants.all()}
    problems: list[str] = []
    show_problems = message.state in {MessageState.DRAFT, MessageState.REJECTED, MessageState.SUBMITTED}
    if show_problems:
        problems = services.message_problems(message) + selectors.message_channel_problems(message)
    # Only what is still to come: never a published or withdrawn message's past times.
    occurrences = [timezone.localtime(t, BRUSSELS) for t in newsroom.next_publications(message)]
    is_author = message.author_id == user.pk
    return {
        "variants": [(lang, Language(lang).label, variants.get(lang)) for lang in LANGUAGES if lang in variants],
        "attachments": list(message.attachments.all()),
        "problems": problems,
        "show_problems": show_problems,
        "routes": selectors.message_routes(message),
        "required_languages": [Language(code).label for code in _required(message)],
        "occurrences": occurrences,
        "occurrences_empty": (
            _("as soon as it is approved") if message.state in newsroom.NOT_YET_APPROVED else _("nothing more to come")
        ),
        "deliveries": list(message_deliveries(message)),
        "engagement": message_engagement(message),
        "audit_events": list(selectors.message_audit_trail(message)),
        "can_submit": (
            message.state in {MessageState.DRAFT, MessageState.REJECTED} and user.has_perm("publisher.change_message")
        ),
        "can_review": can_review(user, message),
        "changed_by_me": changed_by_reviewer(user, message),
        "own_message_waiting": is_author and message.state == MessageState.SUBMITTED,
        "approve_form": ApproveForm(prefix="approve"),
        "reject_form": RejectForm(prefix="reject"),
        "can_cancel": message.state in CANCELLABLE
        and (user.has_perm("publisher.change_message") or user.has_perm("publisher.approve_message")),
        "cancel_form": CancelForm(prefix="cancel"),
        "can_retract": message.state in RETRACTABLE and user.has_perm("publisher.approve_message"),
        "retract_form": RetractForm(prefix="retract"),
        **_follow_up_context(user, message),
        "can_duplicate": user.has_perm("publisher.add_message"),
        **_language_context(user, message),
    }


def _follow_up_context(user: User, message: Message) -> dict[str, Any]:
    return {
        "follow_up_kinds": followups.FollowUp.choices
        if followups.message_can_follow_up(message) and user.has_perm("publisher.add_message")
        else [],
        "follows": message.follows,
        "follow_ups": list(message.follow_ups.order_by("created_at", "pk")),
    }


def _language_context(user: User, message: Message) -> dict[str, Any]:
    findings = message_language_findings(message)
    may_confirm = message.state in CONFIRMABLE_STATES and user.has_perm("publisher.change_message")
    return {
        # Shown to everyone, the approver above all: four eyes on the exception too.
        "language_confirmed": [f for f in findings if f.confirmation is not None],
        "language_confirmable": [f for f in findings if f.blocking] if may_confirm else [],
    }


def _required(message: Message) -> list[str]:
    return message_required_languages(message)


def act_and_redirect(request: HttpRequest, action: Any, success: str, to: str) -> HttpResponse:
    """Run a service call for a page's button: its refusal or its success as a flash
    message, then back to the page."""
    try:
        action()
    except NotAllowed as exc:
        flash.error(request, str(exc))
    except ValidationError as exc:
        for text in exc.messages:
            flash.error(request, text)
    else:
        flash.success(request, success)
    return HttpResponseRedirect(to)


def _act(request: HttpRequest, message: Message, action: Any, success: str) -> HttpResponse:
    return act_and_redirect(request, action, success, _page_url(message))


def _message_or_404(request: HttpRequest, object_id: str) -> Message:
    try:
        return Message.objects.get(pk=int(object_id))
    except (Message.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


@post_only
def submit_view(model_admin: ModelAdmin[Message], request: HttpRequest, object_id: str) -> HttpResponse:
    message = _message_or_404(request, object_id)
    user = _user(request)
    if not user.has_perm("publisher.change_message"):
        raise PermissionDenied

    def action() -> None:
        services.message_submit(message=message, actor=user)

    return _act(request, message, action, _("Submitted: the approvers have been told."))


@post_only
def approve_view(model_admin: ModelAdmin[Message], request: HttpRequest, object_id: str) -> HttpResponse:
    message = _message_or_404(request, object_id)
    user = _user(request)
    form = ApproveForm(request.POST, prefix="approve")
    if not form.is_valid():  # pragma: no cover - every field is optional
        raise PermissionDenied
    try:
        services.message_approve(
            message=message, actor=user, checklist=form.answers(), comment=form.cleaned_data["comment"]
        )
    except NotAllowed as exc:
        flash.error(request, str(exc))
    except InvalidTransition as exc:
        flash.error(request, " ".join(exc.messages))
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and all(k.startswith(("variants.", "attachments.")) for k in exc.error_dict):
            # Not the checklist: a text in the wrong language (the message goes back to its author).
            for text in exc.messages:
                flash.error(request, text)
            return HttpResponseRedirect(_page_url(message))
        # Show the checklist again with each missing tick marked at its line.
        if hasattr(exc, "error_dict"):
            for key, errors in exc.error_dict.items():
                form.add_error(key if key in form.fields else None, errors)
        else:
            form.add_error(None, exc)
        flash.error(request, _("The message is not approved: complete the legal checklist."))
        response = compose_view(model_admin, _as_get(request), object_id)
        if isinstance(response, TemplateResponse) and response.context_data is not None:
            response.context_data["approve_form"] = form
        return response
    else:
        flash.success(request, _("Approved: the message is scheduled and its author has been told."))
    return HttpResponseRedirect(_page_url(message))


def _as_get(request: HttpRequest) -> HttpRequest:
    request.method = "GET"
    return request


@post_only
def reject_view(model_admin: ModelAdmin[Message], request: HttpRequest, object_id: str) -> HttpResponse:
    message = _message_or_404(request, object_id)
    user = _user(request)
    comment = request.POST.get("reject-comment", "")

    def action() -> None:
        services.message_reject(message=message, actor=user, comment=comment)

    return _act(request, message, action, _("Rejected: the author has been told."))


@post_only
def cancel_view(model_admin: ModelAdmin[Message], request: HttpRequest, object_id: str) -> HttpResponse:
    message = _message_or_404(request, object_id)
    user = _user(request)
    if not (user.has_perm("publisher.change_message") or user.has_perm("publisher.approve_message")):
        raise PermissionDenied
    reason = request.POST.get("cancel-reason", "")
    return _act(
        request,
        message,
        lambda: services.message_cancel(message=message, actor=user, reason=reason),
        _("The message was cancelled: it will not be published."),
    )


def retract_view(model_admin: ModelAdmin[Message], request: HttpRequest, object_id: str) -> HttpResponse:
    """GET: what retracting would delete, post by post, and the reason asked; POST: retract.
    A GET changes nothing."""
    message = _message_or_404(request, object_id)
    user = _user(request)
    # Withdrawing an approved message everywhere takes an approver's authority, as in the API.
    if not user.has_perm("publisher.approve_message"):
        raise PermissionDenied
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    if message.state not in RETRACTABLE:
        flash.error(
            request,
            _("This is not possible while the message is “%(state)s”.") % {"state": message.get_state_display()},
        )
        return HttpResponseRedirect(_page_url(message))
    form = RetractForm(request.POST if request.method == "POST" else None, prefix="retract")
    if request.method == "POST" and form.is_valid():
        reason = form.cleaned_data["reason"].strip()
        if reason:
            return _act(
                request,
                message,
                lambda: message_retract(message=message, actor=user, reason=reason),
                _("Retraction requested: the posts are being deleted where the networks allow it."),
            )
        form.add_error("reason", _("Say why the message is retracted."))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Message._meta,
        "title": _("Retract “%(title)s”?") % {"title": message.title},
        "message": message,
        "plan": message_retraction_plan(message),
        "form": form,
    }
    return TemplateResponse(request, "admin/publisher/message/retract_confirm.html", context)


@post_only
def duplicate_view(model_admin: ModelAdmin[Message], request: HttpRequest, object_id: str) -> HttpResponse:
    """A new draft from any message the user may read; it opens on the copy."""
    message = _message_or_404(request, object_id)
    user = _user(request)
    if not (model_admin.has_view_permission(request, message) and user.has_perm("publisher.add_message")):
        raise PermissionDenied
    try:
        duplicate = message_duplicate(message=message, actor=user)
    except ValidationError as exc:
        for text in exc.messages:
            flash.error(request, text)
        return HttpResponseRedirect(_page_url(message))
    flash.success(
        request,
        _("This is a new draft copied from “%(title)s”: check it, then submit it for approval.")
        % {"title": message.title},
    )
    return HttpResponseRedirect(_page_url(duplicate))


@post_only
def follow_up_view(model_admin: ModelAdmin[Message], request: HttpRequest, object_id: str, kind: str) -> HttpResponse:
    """Correct, Update or All clear: a draft prefilled with the message, opened for editing."""
    original = _message_or_404(request, object_id)
    user = _user(request)
    if not user.has_perm("publisher.add_message"):
        raise PermissionDenied
    try:
        draft = followups.message_follow_up_draft(original=original, actor=user, kind=kind)
    except (InvalidTransition, ValidationError) as exc:
        for text in exc.messages:
            flash.error(request, text)
        return HttpResponseRedirect(_page_url(original))
    if draft.is_correction:
        flash.success(
            request,
            _(
                "A correction was drafted with the published text: fix it and submit it for approval. "
                "Once approved, it edits the posts where the network allows it and replies on their thread elsewhere."
            ),
        )
    else:
        flash.success(
            request,
            _("A follow-up was drafted with the published text: write it and submit it for approval."),
        )
    return HttpResponseRedirect(_page_url(draft))
