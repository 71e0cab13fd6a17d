"""The language guard's findings on read-only pages (the approval page shows them beside each text)."""

from __future__ import annotations

from django import template

from publisher.language.findings import TextFinding
from publisher.language.guard import text_findings

register = template.Library()


@register.simple_tag
def language_findings(language: str, text: str | None) -> list[TextFinding]:
    return text_findings(language=language, text=text or "")
