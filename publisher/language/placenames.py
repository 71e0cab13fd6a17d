"""Place names in the reader's language (placeholder until the check lands)."""

from __future__ import annotations

from publisher.language.findings import TextFinding


def place_name_findings(*, language: str, text: str) -> list[TextFinding]:
    return []
