"""Log formatting: one JSON object per line (LOG_FORMAT=json) and one line per refused request.

A formatter of our own rather than a dependency: the fields are a fixed few (time, level,
logger, message, the ``extra=`` of the call, the traceback when there is one) and the standard
library's json writes them.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# What every LogRecord carries; anything else on a record came from the call's ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
# Django's request logs carry the request object: its path is already in the message.
_SKIPPED = {"request", "server_time"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _SKIPPED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class ClientErrorsBrief(logging.Filter):
    """Drop the traceback Django attaches to a 4xx it logs (PermissionDenied, a bad Host header,
    an unreadable upload): the client was refused, nothing failed here. 5xx keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500 and record.name.startswith("django."):
            record.exc_info = None
            record.exc_text = None
        return True
