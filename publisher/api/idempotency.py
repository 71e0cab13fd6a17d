"""Idempotency-Key on POST: the same key and request replay the first response; another request is a 409.

The record is inserted first, in the same transaction as the work it guards. A second request
with the same key blocks on the unique constraint until the first commits (PostgreSQL), or on
the write lock (SQLite, IMMEDIATE transactions), then finds the stored response and replays it.
A failed request rolls back its record with everything else, so nothing is kept for it and a
retry runs again. Records are per token and kept at least 24 hours.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import ApiToken, IdempotencyRecord
from publisher.api.exceptions import Conflict

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Visible ASCII, no spaces: what the OpenAPI document declares, so the two cannot disagree.
KEY_PATTERN = re.compile(rf"[!-~]{{1,{MAX_KEY_LENGTH}}}")
RETENTION = timedelta(hours=24)


def request_fingerprint(request: Request) -> str:
    """sha256 of method, path and body. JSON bodies are compared by content, not by their spacing;
    multipart bodies by their fields and the bytes of their files (the boundary changes on every try)."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    content_type = request.content_type or ""
    if content_type.startswith("multipart/") or content_type.startswith("application/x-www-form-urlencoded"):
        data: Any = request.data
        for key in sorted(data.keys()):
            for value in data.getlist(key):
                if hasattr(value, "chunks"):
                    file_digest = hashlib.sha256()
                    for chunk in value.chunks():
                        file_digest.update(chunk)
                    value.seek(0)
                    digest.update(f"{key}=file:{file_digest.hexdigest()}\n".encode())
                else:
                    digest.update(f"{key}={value}\n".encode())
        return digest.hexdigest()
    body = request.body
    try:
        digest.update(json.dumps(json.loads(body or b"null"), sort_keys=True).encode())
    except (ValueError, UnicodeDecodeError):
        digest.update(body)
    return digest.hexdigest()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        bytes(record.response_body), status=record.response_status, content_type=record.response_content_type
    )
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent_call(
    *, token: ApiToken, key: str, fingerprint: str, run: Callable[[], Response | HttpResponse]
) -> Response | HttpResponse:
    """Run `run` once per (token, key); replay its successful response on later calls."""
    if not KEY_PATTERN.fullmatch(key):
        raise exceptions.ValidationError(
            {
                HEADER: [
                    _("The Idempotency-Key must be 1 to %(max)d visible ASCII characters, e.g. a UUID.")
                    % {"max": MAX_KEY_LENGTH}
                ]
            }
        )
    with transaction.atomic():
        # Keys are kept 24 hours at least; this token's older ones go as it posts again.
        IdempotencyRecord.objects.filter(token=token, created_at__lt=timezone.now() - RETENTION * 2).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(token=token, key=key, fingerprint=fingerprint)
        except IntegrityError:
            existing = IdempotencyRecord.objects.get(token=token, key=key)
            if existing.fingerprint != fingerprint:
                raise Conflict(_("This Idempotency-Key was already used with a different request.")) from None
            if existing.response_status is None:
                raise Conflict(_("A request with this Idempotency-Key is still in progress.")) from None
            return _replay(existing)
        response = run()
        if not 200 <= response.status_code < 300:
            # Only a success is worth replaying; a failure leaves nothing behind, so the retry runs again.
            transaction.set_rollback(True)
            return response
        if isinstance(response, Response):
            response.render()
        record.response_status = response.status_code
        record.response_body = response.content
        record.response_content_type = response.get("Content-Type", "application/json")
        record.save(update_fields=["response_status", "response_body", "response_content_type"])
    return response


def idempotency_records_purge(*, older_than: timedelta = RETENTION) -> int:
    """Forget records past retention (call from a periodic task)."""
    deleted, _detail = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
