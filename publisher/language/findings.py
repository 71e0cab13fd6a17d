"""What the language guard reports about one text (a variant or an alt text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class TextFinding:
    # "wrong_language", "mixed_language", "place_name", ...: stable, for API clients and tests.
    code: str
    # An error blocks submit and approval (unless confirmed as a deliberate exception); a
    # warning is shown and never blocks.
    severity: Severity
    # Translated, in the active language, ready to show beside the text.
    message: str
    # The language the text is meant to be in (fr, nl, de).
    language: str
    # The sentence or word concerned, and where it is in the text ([start, end) offsets), so
    # the compose page can highlight it or replace it in one click. -1 when the whole text.
    excerpt: str = ""
    start: int = -1
    end: int = -1
    # For a place name: the name in the reader's language.
    replacement: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "language": self.language,
            "excerpt": self.excerpt,
            "start": self.start,
            "end": self.end,
            "replacement": self.replacement,
        }
