"""Every mail the service sends to its users, and the subject line of every mail it sends.

A title is typed by a person or comes from an API client: a CR or LF in it would make
Django refuse the header (BadHeaderError) and the mail would silently not go out.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.mail import send_mail

# C0 and C1 control characters and the Unicode line and paragraph separators.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def subject_line(text: str) -> str:
    """One line: every run of control characters or whitespace becomes a single space."""
    return " ".join(CONTROL_CHARACTERS.sub(" ", text).split())


def mail_send(*, subject: str, body: str, to: list[str]) -> int:
    return send_mail(subject_line(subject), body, settings.DEFAULT_FROM_EMAIL, to, fail_silently=False)
