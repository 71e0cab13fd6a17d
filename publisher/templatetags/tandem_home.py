"""The newsroom home's data for templates/admin/index.html (Django's index view renders it)."""

from __future__ import annotations

from typing import Any

from django import template

from accounts.models import User
from publisher.views import home
from publisher.workflow import engagement
from publisher.workflow.newsroom import Home

register = template.Library()


@register.simple_tag(takes_context=True)
def newsroom_home(context: dict[str, Any]) -> Home | None:
    user = context["request"].user
    if not isinstance(user, User):
        return None
    return home.home_context(user)


@register.inclusion_tag("admin/publisher/message/_home_engagement.html", takes_context=True)
def home_engagement(context: dict[str, Any]) -> dict[str, Any]:
    """The figures of my messages sent in the last days, FR vs NL per network (one query)."""
    user = context["request"].user
    if not isinstance(user, User):
        return {"engagement": None}
    return {"engagement": engagement.my_recent_engagement(user=user), "days": engagement.HOME_DAYS}
