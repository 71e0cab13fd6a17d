"""One entry point for every language check of a text: detection, then place names."""

from __future__ import annotations

from publisher.language.detection import language_findings
from publisher.language.findings import TextFinding
from publisher.language.placenames import place_name_findings


def text_findings(*, language: str, text: str) -> list[TextFinding]:
    """Everything the guard has to say about `text`, meant to be in `language`; errors first."""
    findings = [*language_findings(language=language, text=text), *place_name_findings(language=language, text=text)]
    return sorted(findings, key=lambda f: (f.severity != "error", f.start))
