"""The compose page's live language check: what the guard says about one text as it is typed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.http.request import RawPostDataException
from django.utils.translation import gettext as _

from publisher.language.guard import text_findings
from publisher.models import Language, Message

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

# A variant or an alt text, with room to spare; the check is linear in the text, but it runs on
# every pause in typing, so a pasted book is refused rather than read.
MAX_TEXT_CHARS = 10_000
MAX_BODY_BYTES = 64 * 1024


def _bad(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=400)


def findings_view(model_admin: ModelAdmin[Message], request: HttpRequest) -> JsonResponse:
    """POST {"language": "nl", "text": "..."} → {"findings": [TextFinding.as_dict(), ...]}.

    Behind admin_view: staff sign-in and CSRF are checked before this runs.
    """
    if not (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)):
        raise PermissionDenied
    if request.method != "POST":
        response = JsonResponse({"error": _("Send the text to check with POST.")}, status=405)
        response["Allow"] = "POST"
        return response
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return _bad(_("The text is too long to check (at most %(count)d characters).") % {"count": MAX_TEXT_CHARS})
    try:
        body = request.body
    except RawPostDataException:  # a form post: its body was parsed (and read) as fields
        return _bad(_("The request is not valid JSON."))
    if len(body) > MAX_BODY_BYTES:
        return _bad(_("The text is too long to check (at most %(count)d characters).") % {"count": MAX_TEXT_CHARS})
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return _bad(_("The request is not valid JSON."))
    if not isinstance(data, dict):
        return _bad(_("Send an object with a language and a text."))
    language, text = data.get("language"), data.get("text")
    if language not in Language.values:
        return _bad(_("Unknown language: use fr, nl or de."))
    if not isinstance(text, str):
        return _bad(_("The text must be a string."))
    if len(text) > MAX_TEXT_CHARS:
        return _bad(_("The text is too long to check (at most %(count)d characters).") % {"count": MAX_TEXT_CHARS})
    findings = text_findings(language=language, text=text)
    return JsonResponse({"findings": [finding.as_dict() for finding in findings]})
