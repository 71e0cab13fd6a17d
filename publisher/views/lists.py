"""The approver's queue and the list of expired approvals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from publisher.models import Message
from publisher.views import queries

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    from accounts.models import User


def approvals_view(model_admin: ModelAdmin[Message], request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    rows = list(queries.awaiting_approval(user=user))
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
    mine_only = not user.has_perm("publisher.approve_message")
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Message._meta,
        "title": _("Expired approvals"),
        "rows": list(queries.expired_approvals(user=user if mine_only else None)),
    }
    return TemplateResponse(request, "admin/publisher/message/expired.html", context)
