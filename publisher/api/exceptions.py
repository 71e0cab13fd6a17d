"""Every API error as an RFC 9457 problem details document, in the request's language.

Shape: {"type", "title", "status", "detail", "instance", "errors": {field: [messages]}}.
`errors` keys are request fields ("audience", "variants.nl", "publish_at"); errors that
belong to no single field are under "non_field_errors". When the service named its errors
(e.g. "wrong_language"), "codes" has the same keys with the codes in the same order, "invalid"
for an error without one: clients branch on codes, never on the translated messages.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

from publisher.api.parsers import request_too_large
from publisher.errors import InvalidTransition

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "/api/problems/"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _titles() -> dict[int, tuple[str, str]]:
    return {
        400: ("validation-error", _("The request is not valid.")),
        401: ("not-authenticated", _("Authentication is needed.")),
        403: ("forbidden", _("This is not allowed.")),
        404: ("not-found", _("Not found.")),
        405: ("method-not-allowed", _("Method not allowed.")),
        406: ("not-acceptable", _("Cannot answer in the requested format.")),
        409: ("conflict", _("The request conflicts with the current state.")),
        413: ("too-large", _("The request is too large.")),
        415: ("unsupported-media-type", _("Unsupported media type.")),
        429: ("throttled", _("Too many requests.")),
    }


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"a.b": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "non_field_errors" if key in ("non_field_errors", "__all__") and not prefix else str(key)
            for field, messages in _flatten(value, f"{prefix}.{name}" if prefix else name).items():
                out.setdefault(field, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                for field, messages in _flatten(item, f"{prefix}.{index}" if prefix else str(index)).items():
                    out.setdefault(field, []).extend(messages)
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def _django_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {("non_field_errors" if k == "__all__" else k): list(v) for k, v in exc.message_dict.items()}
    return {"non_field_errors": list(exc.messages)}


def _django_codes(exc: DjangoValidationError) -> dict[str, list[str]] | None:
    if hasattr(exc, "error_dict"):
        by_field = {("non_field_errors" if k == "__all__" else k): v for k, v in exc.error_dict.items()}
    else:
        by_field = {"non_field_errors": exc.error_list}
    codes = {field: [e.code or "invalid" for e in errors] for field, errors in by_field.items()}
    named = any(e.code for errors in by_field.values() for e in errors)
    return codes if named else None


def problem_body(*, status_code: int, detail: str, instance: str | None = None) -> dict[str, Any]:
    slug, title = _titles().get(status_code, ("error", _("Error.")))
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status_code, "detail": detail}
    if instance is not None:
        body["instance"] = instance
    return body


def not_found(request: Any, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 handler: a URL under /api/ that matches no endpoint (an id that is not a
    number) answers with problem details like every other API error; elsewhere Django's page."""
    if not request.path.startswith("/api/"):
        return page_not_found(request, exception or Http404())
    body = problem_body(status_code=404, detail=_("Not found."), instance=request.path)
    return HttpResponse(json.dumps(body), status=404, content_type=PROBLEM_CONTENT_TYPE)


def problem_response(
    *,
    status_code: int,
    detail: str,
    errors: dict[str, list[str]] | None = None,
    request: Any = None,
    headers: dict[str, str] | None = None,
    codes: dict[str, list[str]] | None = None,
) -> Response:
    slug, title = _titles().get(status_code, ("error", _("Error.")))
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status_code,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.path
    if errors:
        body["errors"] = errors
    if errors and codes:
        body["codes"] = codes
    browsable = isinstance(getattr(request, "accepted_renderer", None), BrowsableAPIRenderer)
    return Response(body, status=status_code, headers=headers, content_type=None if browsable else PROBLEM_CONTENT_TYPE)


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    headers: dict[str, str] = {}
    errors: dict[str, list[str]] | None = None
    codes: dict[str, list[str]] | None = None
    if isinstance(exc, RequestDataTooBig):
        # Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE from its Content-Length, before reading it.
        exc = request_too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)
    elif isinstance(exc, TooManyFieldsSent):
        exc = exceptions.ParseError(_("The form has too many fields."))
    if isinstance(exc, InvalidTransition):
        status_code, detail = 409, " ".join(exc.messages)
    elif isinstance(exc, DjangoValidationError):
        errors = _django_errors(exc)
        codes = _django_codes(exc)
        status_code = 400
        detail = " ".join(m for messages in errors.values() for m in messages)
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        status_code, detail = 404, _("Not found.")
    elif isinstance(exc, PermissionDenied):
        status_code, detail = 403, str(exc) or _("This is not allowed.")
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        if isinstance(exc, exceptions.ValidationError):
            errors = _flatten(exc.detail)
            detail = " ".join(f"{k}: {m}" if k != "non_field_errors" else m for k, ms in errors.items() for m in ms)
        else:
            detail = str(exc.detail)
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait is not None:
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    else:
        return None
    set_rollback()
    return problem_response(
        status_code=status_code, detail=detail, errors=errors, request=request, headers=headers, codes=codes
    )
