"""The language guard on the message page: confirmed exceptions for the approver, and the
author's form to confirm one (the live check beside the text is the compose page's script)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from publisher.models import Message
from publisher.views.messages import _act, _message_or_404, _user, post_only
from publisher.workflow.language_confirmations import language_confirm

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin


@post_only
def language_confirm_view(model_admin: ModelAdmin[Message], request: HttpRequest, object_id: str) -> HttpResponse:
    message = _message_or_404(request, object_id)
    user = _user(request)
    if not user.has_perm("publisher.change_message"):
        raise PermissionDenied

    def action() -> None:
        language_confirm(
            message=message,
            field=request.POST.get("field", ""),
            reason=request.POST.get("reason", ""),
            actor=user,
        )

    return _act(request, message, action, _("Exception confirmed: this text no longer blocks submission."))
