"""The newsroom home ("Today", the admin's index page) and the decisions it offers.

The page itself is templates/admin/index.html, fed by ``home_context`` (through the
``newsroom_home`` template tag, so Django's index view and its app list stay as they are);
the buttons post to the views below, which call publisher.decisions and come back home.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from publisher.models import Delivery, Message
from publisher.views.messages import act_and_redirect, post_only
from publisher.workflow import decisions, newsroom

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    from accounts.models import User


def home_context(user: User) -> newsroom.Home:
    return newsroom.home(user=user)


def _run(request: HttpRequest, action: Any, success: str) -> HttpResponse:
    return act_and_redirect(request, action, success, reverse("admin:index"))


@post_only
def delivery_decision_view(
    model_admin: ModelAdmin[Message], request: HttpRequest, delivery_id: int, decision: str
) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    try:
        delivery = Delivery.objects.select_related("channel").get(pk=delivery_id)
    except Delivery.DoesNotExist as exc:
        raise Http404 from exc
    where = f"{delivery.language.upper()} — {delivery.channel.name}"
    if decision == "retry":
        return _run(
            request,
            lambda: decisions.delivery_retry(delivery=delivery, actor=user),
            _("%(where)s: sent again; it goes out within a minute.") % {"where": where},
        )
    if decision == "give-up":
        return _run(
            request,
            lambda: decisions.delivery_give_up(delivery=delivery, actor=user, reason=request.POST.get("reason", "")),
            _("%(where)s: given up, it will not be sent.") % {"where": where},
        )
    if decision == "posted":
        return _run(
            request,
            lambda: decisions.delivery_mark_posted(
                delivery=delivery, actor=user, remote_url=request.POST.get("remote_url", "")
            ),
            _("%(where)s: recorded as posted by hand.") % {"where": where},
        )
    raise Http404


@post_only
def alert_reviewed_view(model_admin: ModelAdmin[Message], request: HttpRequest, object_id: str) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    try:
        message = Message.objects.get(pk=int(object_id))
    except (Message.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
    return _run(
        request,
        lambda: decisions.alert_review(message=message, actor=user, comment=request.POST.get("comment", "")),
        _("“%(title)s”: marked as reviewed.") % {"title": message.title},
    )
