"""The API's JSON parser, bounded before it parses.

Python's json module recurses once per nesting level: a body nested 1,000 deep raises
RecursionError (a 500), and a few hundred levels still reach serializers and error
flattening that recurse too. No request of this API nests deeper than a handful of levels,
so the depth is checked by a linear scan of the raw bytes before json.loads runs. The size is
bounded before that by Django's DATA_UPLOAD_MAX_MEMORY_SIZE (a 413 problem).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers, status
from rest_framework.utils import json as drf_json

# Deepest legitimate request: {"variants": {"fr": {"text": ...}}} and the alert's CAP fields.
MAX_DEPTH = 32

# A JSON string, terminated or not (an unterminated one runs to the end): matching every
# quote keeps the scan linear (no retry from each later quote).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")


# Here rather than with the problem handler: DRF imports this module while its views load.
class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def request_too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(
        _("The request body is larger than %(limit)s MB: send less data.") % {"limit": f"{limit / 1_000_000:.3g}"}
    )


def max_json_bytes() -> int:
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440)


def nesting_within(data: bytes, limit: int) -> bool:
    """True if the JSON text's arrays and objects nest at most `limit` deep.

    Strings are blanked first (a bracket inside a string is text); then each pass removes
    the innermost empty pairs, one level per pass, each pass in C: at most `limit` passes.
    Brackets left unmatched (truncated or broken JSON) count as levels too: a point is
    enclosed by at most one removed pair per pass plus the unmatched brackets, so a text
    within that bound is left to json.loads to report precisely."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    for level in range(limit + 1):
        if level + len(brackets) <= limit:
            return True
        brackets, removed = _INNERMOST.subn(b"", brackets)
        if not removed:
            return False
    return False


class BoundedJSONParser(parsers.JSONParser):
    """DRF's JSON parser with a size limit (413) and a nesting limit (400) checked before parsing."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        parser_context = parser_context or {}
        # DRF hands over request.body, which Django already refused over this size from the
        # Content-Length (RequestDataTooBig, a 413 problem); read no more than it anyway.
        limit = max_json_bytes()
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise request_too_large(limit)
        if not nesting_within(data, MAX_DEPTH):
            raise exceptions.ParseError(
                _("JSON parse error: arrays and objects nest deeper than %(limit)s levels.") % {"limit": MAX_DEPTH}
            )
        try:
            text = data.decode(parser_context.get("encoding", settings.DEFAULT_CHARSET))
            return json.loads(text, parse_constant=drf_json.strict_constant if self.strict else None)
        except (ValueError, RecursionError) as exc:  # RecursionError: the scan above should make it unreachable
            raise exceptions.ParseError(_("JSON parse error: %(error)s") % {"error": exc}) from exc
