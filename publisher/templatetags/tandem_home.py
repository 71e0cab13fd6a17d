"""The newsroom home's data for templates/admin/index.html (Django's index view renders it)."""

from __future__ import annotations

from typing import Any

from django import template

from accounts.models import User
from publisher.views import home
from publisher.workflow.newsroom import Home

register = template.Library()


@register.simple_tag(takes_context=True)
def newsroom_home(context: dict[str, Any]) -> Home | None:
    user = context["request"].user
    if not isinstance(user, User):
        return None
    return home.home_context(user)
