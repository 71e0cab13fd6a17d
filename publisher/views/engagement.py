"""The monthly engagement report: top messages (FR and NL side by side), each language's share,
the best hours to send; as a page and as CSV."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import user_may_read_messages
from publisher.models import Language, Message
from publisher.workflow import engagement

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin


def _month(value: str | None) -> date:
    """YYYY-MM, else the current month in Brussels."""
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        today = timezone.localtime(timezone.now(), engagement.BRUSSELS).date()
        return today.replace(day=1)


def report_view(model_admin: ModelAdmin[Message], request: HttpRequest) -> HttpResponse:
    if not user_may_read_messages(request.user):
        raise PermissionDenied
    month = _month(request.GET.get("month"))
    report = engagement.monthly_report(month=month)
    if request.GET.get("format") == "csv":
        response = HttpResponse(engagement.monthly_report_csv(report), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="tandem-engagement-{month:%Y-%m}.csv"'
        return response
    previous = (month.replace(day=1) - timedelta(days=1)).replace(day=1)
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    languages = ("fr", "nl")
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Message._meta,
        "title": _("Engagement in %(month)s") % {"month": f"{month:%m/%Y}"},
        "report": report,
        "month": f"{month:%Y-%m}",
        "previous": f"{previous:%Y-%m}",
        "following": f"{following:%Y-%m}",
        "languages": [(code, Language(code).label) for code in languages],
        "top": [(row, [row.by_language.get(code, 0) for code in languages]) for row in report.top],
    }
    return TemplateResponse(request, "admin/publisher/message/engagement_report.html", context)
