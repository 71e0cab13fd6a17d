"""Small JSON endpoints behind the compose page's live previews."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from django.http.request import RawPostDataException
from django.template.loader import render_to_string
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from publisher.errors import ValidationError
from publisher.models import VARIANT_TEXT_MAX, Language, Message, MessageStatus, variant_text_validate
from publisher.views.forms import BRUSSELS, local_time_parse, occurrences_next, recurrence_build, recurrence_validate
from publisher.workflow import previews, selectors

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


# Three texts at the form's limit, their links and alt texts, with room for the JSON around them.
MAX_CARDS_BODY_BYTES = 4 * VARIANT_TEXT_MAX * 4 + 64 * 1024
MAX_IDS = 600  # Belgium has 565 municipalities.


class _BadRequest(Exception):
    pass


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_IDS or not all(isinstance(v, str | int) for v in value):
        raise _BadRequest(_("“%(name)s” must be a list of identifiers.") % {"name": name})
    return tuple(str(v) for v in value if str(v).strip())


def _read_cards_request(request: HttpRequest) -> dict[str, Any]:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    too_long = _("The request is too large.")
    if declared > MAX_CARDS_BODY_BYTES:
        raise _BadRequest(too_long)
    try:
        body = request.body
    except RawPostDataException as exc:  # a form post: its body was parsed (and read) as fields
        raise _BadRequest(_("The request is not valid JSON.")) from exc
    if len(body) > MAX_CARDS_BODY_BYTES:
        raise _BadRequest(too_long)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _BadRequest(_("The request is not valid JSON.")) from exc
    if not isinstance(data, dict):
        raise _BadRequest(_("The request is not valid JSON."))
    return data


def _draft_inputs(data: dict[str, Any]) -> dict[str, Any]:
    variants: dict[str, previews.DraftVariant] = {}
    raw_variants = data.get("variants", {})
    if not isinstance(raw_variants, dict):
        raise _BadRequest(_("Send the texts as an object by language."))
    for language, raw in raw_variants.items():
        if language not in Language.values:
            raise _BadRequest(_("Unknown language: use fr, nl or de."))
        if not isinstance(raw, dict):
            raise _BadRequest(_("Send the texts as an object by language."))
        text, link = raw.get("text", ""), raw.get("link", "")
        if not isinstance(text, str) or not isinstance(link, str) or len(link) > 500:
            raise _BadRequest(_("The text must be a string."))
        try:
            variant_text_validate(text.strip())
        except DjangoValidationError as exc:
            raise _BadRequest(" ".join(exc.messages)) from exc
        variants[language] = previews.DraftVariant(text=text.strip(), link=link.strip())
    raw_audience = data.get("audience", {})
    if not isinstance(raw_audience, dict):
        raise _BadRequest(_("Send the audience as an object."))
    segments = _strings(raw_audience.get("segments"), "segments")
    audience = previews.DraftAudience(
        municipalities=_strings(raw_audience.get("municipalities"), "municipalities"),
        zones=_strings(raw_audience.get("zones"), "zones"),
        provinces=_strings(raw_audience.get("provinces"), "provinces"),
        segments=tuple(int(s) for s in segments if s.isdigit() and len(s) < 10),
        everywhere=raw_audience.get("all") is True,
    )
    raw_alts = data.get("alts", {})
    if not isinstance(raw_alts, dict):
        raise _BadRequest(_("Send the alt texts as an object by image."))
    alts: dict[tuple[int, str], str] = {}
    for key, by_language in raw_alts.items():
        if not str(key).isdigit() or not isinstance(by_language, dict):
            raise _BadRequest(_("Send the alt texts as an object by image."))
        for language, alt in by_language.items():
            if language in Language.values and isinstance(alt, str):
                alts[(int(key), language)] = alt.strip()[:VARIANT_TEXT_MAX]
    new_image = None
    raw_image = data.get("new_image")
    if raw_image is not None:
        if not isinstance(raw_image, dict):
            raise _BadRequest(_("Send the new image as an object with its width and height."))
        width, height, image_alts = raw_image.get("width"), raw_image.get("height"), raw_image.get("alts", {})
        sizes_ok = all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 100_000 for v in (width, height))
        if (
            not sizes_ok
            or not isinstance(width, int)
            or not isinstance(height, int)
            or not isinstance(image_alts, dict)
        ):
            raise _BadRequest(_("Send the new image as an object with its width and height."))
        language = raw_image.get("language", "")
        new_image = previews.DraftImage(
            width=width,
            height=height,
            alts={
                k: v.strip()[:VARIANT_TEXT_MAX]
                for k, v in image_alts.items()
                if k in Language.values and isinstance(v, str)
            },
            language=language if language in Language.values else "",
        )
    title = data.get("title")
    return {
        "new_image": new_image,
        "variants": variants,
        "audience": audience,
        "alts": alts,
        "title": title if isinstance(title, str) else "",
        "exercise": data.get("status") == MessageStatus.EXERCISE,
    }


def cards_view(model_admin: ModelAdmin[Message], request: HttpRequest) -> JsonResponse:
    """POST the compose form's state as JSON → one preview card per target channel.

    {"message": id or null, "variants": {"fr": {"text", "link"}, ...}, "audience":
    {"municipalities", "zones", "provinces", "segments", "all"}, "alts": {"<image id>": {"fr": ...}}}
    answers {"cards": [...], "html": "..."}: the figures, and the cards drawn by the same
    template the message page uses. Behind admin_view: staff sign-in and CSRF come first.
    """
    if not (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)):
        raise PermissionDenied
    if request.method != "POST":
        response = JsonResponse({"error": _("Send the texts to preview with POST.")}, status=405)
        response["Allow"] = "POST"
        return response
    try:
        data = _read_cards_request(request)
        inputs = _draft_inputs(data)
        attachments = []
        # A follow-up or a correction being edited: its cards show the replies it will post.
        follows = correction = False
        message_id = data.get("message")
        if message_id not in (None, ""):
            if not str(message_id).isdigit() or len(str(message_id)) > 18:
                raise _BadRequest(_("Unknown message."))
            message = Message.objects.filter(pk=int(message_id)).first()
            if message is None or not model_admin.has_view_permission(request, message):
                raise _BadRequest(_("Unknown message."))
            attachments = list(message.attachments.all())
            follows, correction = message.follows_id is not None, message.is_correction
    except _BadRequest as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    cards = previews.draft_preview_cards(attachments=attachments, follows=follows, correction=correction, **inputs)
    html = render_to_string("admin/publisher/message/_previews.html", {"preview_cards": cards}, request=request)
    return JsonResponse({"cards": [card.as_dict() for card in cards], "html": html})
