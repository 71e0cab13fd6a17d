"""Small JSON endpoints behind the compose page's live previews."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from publisher.errors import ValidationError
from publisher.models import Message
from publisher.views.forms import BRUSSELS, local_time_parse, occurrences_next, recurrence_build, recurrence_validate
from publisher.workflow import selectors

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin


def _ids(request: HttpRequest, name: str) -> list[str]:
    return [value for value in request.GET.getlist(name) if value.strip()]


def audience_view(model_admin: ModelAdmin[Message], request: HttpRequest) -> JsonResponse:
    """Required languages and routes of the audience being composed, with each channel's text limit."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    segments = [s for s in _ids(request, "segments") if s.isdigit()]
    written = [lang for lang in _ids(request, "written") if lang in {"fr", "nl", "de"}]
    preview = selectors.audience_preview(
        municipalities=_ids(request, "municipalities"),
        zones=_ids(request, "zones"),
        provinces=_ids(request, "provinces"),
        segments=segments,
        everywhere=request.GET.get("all") in {"1", "true", "on"},
        written=written,
    )
    names = selectors.language_names()
    return JsonResponse(
        {
            "municipality_count": preview.municipality_count,
            "required": [{"code": code, "name": names[code]} for code in preview.required],
            "routes": [
                {
                    "language": route.language,
                    "channel": route.channel.name,
                    "kind": route.channel.kind,
                    "text_max": route.text_max,
                    "written": route.written,
                    "label": f"{route.language.upper()} → {route.channel.name} ({route.channel.kind})",
                }
                for route in preview.routes
            ],
            "missing": [names[code] for code in preview.required if code not in written and code != "de"]
            + ([names["de"]] if "de" in preview.required and not {"de", "fr"} & set(written) else []),
        }
    )


def schedule_view(model_admin: ModelAdmin[Message], request: HttpRequest) -> JsonResponse:
    """The next publication times of the schedule being composed, or the error to show at the field."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    value = request.GET.get("first_time", "")
    if not value:
        return JsonResponse({"occurrences": [], "error": "", "field": ""})
    try:
        when = local_time_parse(value, offset_choice=request.GET.get("time_offset", ""))
    except ValidationError as exc:
        return JsonResponse({"occurrences": [], "error": " ".join(exc.messages), "field": "first_time"})
    rule = recurrence_build(
        request.GET.get("recurrence_preset", ""),
        request.GET.getlist("recurrence_days"),
        request.GET.get("recurrence_custom", ""),
    )
    if rule:
        try:
            recurrence_validate(rule, when)
        except ValidationError as exc:
            return JsonResponse({"occurrences": [], "error": " ".join(exc.messages), "field": "recurrence_custom"})
    times = occurrences_next(
        publish_at=None if rule else when, recurrence=rule, recurrence_start=when if rule else None, count=10
    )
    return JsonResponse(
        {
            "occurrences": [formats.date_format(timezone.localtime(t, BRUSSELS), "DATETIME_FORMAT") for t in times],
            "error": _("This time is in the past.") if when < timezone.now() else "",
            "field": "first_time" if when < timezone.now() else "",
        }
    )
