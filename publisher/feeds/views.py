"""Public, unauthenticated views: a CAP document per alert and the image renditions that
networks fetching by URL (Instagram) and feed readers download."""

from __future__ import annotations

import mimetypes

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from publisher.feeds.syndication import cap_document, cap_message
from publisher.media.images import rendition_open


@require_GET
def cap_alert(request: HttpRequest, message_id: int) -> HttpResponse:
    return HttpResponse(cap_document(cap_message(message_id)), content_type="application/cap+xml; charset=utf-8")


@require_GET
@cache_control(public=True, max_age=31_536_000, immutable=True)
def rendition(request: HttpRequest, name: str) -> FileResponse:
    # Content-addressed names: a name always means the same bytes, so caching is forever.
    handle = rendition_open(name)
    if handle is None:
        raise Http404("No such image.")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(handle, content_type=content_type)
