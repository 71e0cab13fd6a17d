"""Paid promotions on the message page and the home page, as inclusion tags: the panels
read their own rows (workflow.boosts selectors), so the pages' views stay as they are."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from publisher.models import Message
from publisher.views.boosts import boost_panel
from publisher.workflow import boosts

register = template.Library()


@register.filter
def euros(minor: int) -> Decimal:
    """Minor units (cents) as euros with two decimals (the template localises the number)."""
    return boosts.minor_to_euros(int(minor or 0))


@register.inclusion_tag("admin/publisher/message/_boosts.html", takes_context=True)
def boosts_panel(context: dict[str, Any], message: Message) -> dict[str, Any]:
    request = context["request"]
    return {**boost_panel(request.user, message), "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("admin/publisher/message/_home_boosts.html", takes_context=True)
def home_boosts(context: dict[str, Any]) -> dict[str, Any]:
    user = context["request"].user
    return {
        "awaiting": list(boosts.boosts_awaiting_approval(user)[:20]),
        "running": list(boosts.boosts_running()[:20]),
        "refused": [
            {"boost": b, "problem": boosts.boost_access_problem(b)} for b in boosts.boosts_access_refused()[:20]
        ],
        "csrf_token": context.get("csrf_token"),
    }
