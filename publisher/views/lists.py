"""The approver's queue and the list of expired approvals, for who may read the message list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from accounts.permissions import user_may_read_messages
from publisher.models import Message
from publisher.workflow import selectors

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    from accounts.models import User


def approvals_view(model_admin: ModelAdmin[Message], request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not user_may_read_messages(user):
        raise PermissionDenied
    rows = list(selectors.awaiting_approval(user=user))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Message._meta,
        "title": _("Awaiting my approval"),
        "rows": rows,
        "can_approve": user.has_perm("publisher.approve_message"),
    }
    return TemplateResponse(request, "admin/publisher/message/approvals.html", context)


def expired_view(model_admin: ModelAdmin[Message], request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not user_may_read_messages(user):
        raise PermissionDenied
    mine_only = not user.has_perm("publisher.approve_message")
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Message._meta,
        "title": _("Expired approvals"),
        "rows": list(selectors.expired_approvals(user=user if mine_only else None)),
    }
    return TemplateResponse(request, "admin/publisher/message/expired.html", context)
