"""Is a short text in the language of its slot? An offline detector made for short texts.

The detector is lingua (Rust-backed, its models in the wheel), restricted to the languages a
Belgian public-safety post can come in by mistake: French, Dutch, German and English. It is
built once per process, on first use, in low-accuracy mode (trigram models only): the
high-accuracy models cost about 140 MB of resident memory per process (bench/language.py),
over the 100 MB budget; the trigram models cost about 20 MB and, on the corpus of 40-280
character posts (tests/publisher/language/corpus.py), tell the languages apart with a wide
margin: a text in a wrong slot scores at least 0.97 for its real language and at most 0.02 for
the slot's, a text in its own slot at least 0.99 for its own.

What the author did not write in the language does not count: URLs, e-mail addresses,
@mentions, #hashtags (often campaign names or English), emoji, numbers and the capitalised
names of Belgian municipalities and provinces are blanked before detection ("Ixelles" in a
Dutch text is a place-name question for publisher.language.placenames, not a French sentence).

Policy:
- ``wrong_language`` (error, blocks submit and approval): the whole text, at least
  ``MIN_LETTERS`` letters once cleaned, is another language with a confidence of at least
  ``WRONG_CONFIDENCE`` while its own language stays under ``OWN_CEILING``, and less than a third
  of it is in sentences confidently its own language (else it is mixed, see below). English
  counts like any other language: a French slot is read by French readers. A deliberate
  exception (a quote, an English message for visitors) is confirmed by the author
  (publisher.language.confirmations).
- The same on a shorter text is only a warning (``wrong_language``, severity warning): a few
  words are too little to block on.
- ``mixed_language`` (warning): a sentence of at least ``SENTENCE_MIN_LETTERS`` letters is
  another language with ``SENTENCE_CONFIDENCE``. Stricter than for a whole text because a
  sentence gives the trigram models little to go on: with these thresholds a French, Dutch or
  German sentence slipped into another language's corpus text is found 424 times out of 436, and
  none of the corpus's 347 own-language sentences is flagged.
"""

from __future__ import annotations

import csv
import math
import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from publisher.language.findings import TextFinding
from publisher.territory.reference_data import MUNICIPALITIES_CSV

if TYPE_CHECKING:
    from lingua import LanguageDetector

# Below this many letters (after cleaning) a text gives at most a warning.
MIN_LETTERS = 20
# A text is "confidently" another language from this confidence on, and its own language must
# then be below OWN_CEILING (both together: a text lingua finds ambiguous is never blocked).
WRONG_CONFIDENCE = 0.90
OWN_CEILING = 0.10
# ... unless at least 1/OWN_SHARE_DIVISOR of its letters are in sentences of its own language:
# then it is a mixed text (warnings), not a wrong one.
OWN_SHARE_DIVISOR = 3
# A sentence is judged on its own from this many letters (shorter ones: a greeting, a slogan),
# and more strictly than a whole text: the trigram models see few of them in one sentence, and
# at 0.90 a French sentence full of loanwords ("les parkings du centre") passes for English.
SENTENCE_MIN_LETTERS = 25
SENTENCE_CONFIDENCE = 0.99
SENTENCE_OWN_CEILING = 0.01

CODES = {"fr": "FRENCH", "nl": "DUTCH", "de": "GERMAN", "en": "ENGLISH"}


def _language_names() -> dict[str, str]:
    # Bare nouns for "le texte en français", "de tekst in het Frans".
    return {
        "fr": pgettext("detected language", "French"),
        "nl": pgettext("detected language", "Dutch"),
        "de": pgettext("detected language", "German"),
        "en": pgettext("detected language", "English"),
    }


_lock = threading.Lock()
_detector: LanguageDetector | None = None


def detector() -> LanguageDetector:
    """The process's detector, built on first use (about 10 ms, 10 MB); thread-safe."""
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                from lingua import Language, LanguageDetectorBuilder

                _detector = (
                    LanguageDetectorBuilder.from_languages(
                        Language.FRENCH, Language.DUTCH, Language.GERMAN, Language.ENGLISH
                    )
                    .with_low_accuracy_mode()
                    .with_preloaded_language_models()
                    .build()
                )
    return _detector


# --- Cleaning ---------------------------------------------------------------------------------

_URL = re.compile(
    r"(?:https?://|www\.)\S+|\b[\w.-]+\.(?:be|com|org|net|eu|brussels|vlaanderen|wallonie)(?:/\S*)?", re.I
)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_MENTION = re.compile(r"(?<!\w)@\w+")
_HASHTAG = re.compile(r"(?<!\w)#\w+")
_DIGITS = re.compile(r"\w*\d\w*")


def _is_noise(ch: str) -> bool:
    # Emoji and other symbols (So, Sk, Cs, Co), the joiners (Cf) and variation selectors that
    # glue emoji; other combining marks stay: they are the accents of a decomposed "é".
    if "\ufe00" <= ch <= "\ufe0f":
        return True
    return unicodedata.category(ch) in {"So", "Sk", "Cs", "Co", "Cf"}


@lru_cache(maxsize=1)
def _place_names() -> re.Pattern[str] | None:
    """Every municipality's and province's FR, NL and DE name, read once per process from the
    reference file the Municipality table is loaded from: the same names, without a query on
    each check and without a per-process cache that a test database could leave empty."""
    names: set[str] = set()
    try:
        with MUNICIPALITIES_CSV.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                for key in ("name_fr", "name_nl", "name_de", "province_fr", "province_nl"):
                    name = (row.get(key) or "").strip()
                    # Two-letter names ("As") are ordinary words far more often than places.
                    if len(name) >= 3:
                        names.add(name)
    except OSError:
        return None
    if not names:
        return None
    # Longest first, so "Braine-l'Alleud" goes before "Braine"; whole words only. Capitalised
    # in the text: "vorst" (frost) and "manage" stay words, "Vorst" and "Manage" are places.
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    # Same length out as in: offsets in the cleaned text are offsets in the original.
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def clean(text: str) -> str:
    """The text with what is not language replaced by spaces (same length, same offsets)."""
    out = text
    for pattern in (_URL, _EMAIL, _MENTION, _HASHTAG, _DIGITS):
        out = _blank(out, pattern)
    places = _place_names()
    if places is not None:
        out = places.sub(lambda m: " " * len(m.group(0)) if m.group(0)[0].isupper() else m.group(0), out)
    return "".join(" " if _is_noise(ch) else ch for ch in out)


def letter_count(text: str) -> int:
    return sum(1 for ch in text if ch.isalpha())


# --- Detection -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Guess:
    language: str  # fr, nl, de, en
    confidence: float  # of that language
    own: float  # of the language the text should be in


def guess(*, language: str, cleaned: str) -> Guess:
    values = detector().compute_language_confidence_values(cleaned)
    by_code = dict.fromkeys(CODES, 0.0)
    names = {name: code for code, name in CODES.items()}
    for value in values:
        by_code[names[value.language.name]] = value.value
    best = max(by_code, key=lambda code: by_code[code])
    return Guess(language=best, confidence=by_code[best], own=by_code.get(language, 0.0))


# A reply is detected from this many letters on (fewer: the channel's language is assumed).
DETECT_MIN_LETTERS = 12
DETECT_CONFIDENCE = 0.80


def detect(text: str) -> str | None:
    """The language (fr, nl, de, en) a short text someone wrote is in, or None when it is too
    short or too mixed to tell (the inbox then assumes the channel's language)."""
    cleaned = clean(text)
    if letter_count(cleaned) < DETECT_MIN_LETTERS:
        return None
    found = guess(language="fr", cleaned=cleaned)
    return found.language if found.confidence >= DETECT_CONFIDENCE else None


def _confidently_other(
    g: Guess, language: str, *, confidence: float = WRONG_CONFIDENCE, ceiling: float = OWN_CEILING
) -> bool:
    return g.language != language and g.confidence >= confidence and g.own < ceiling


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def sentences(text: str) -> Iterator[tuple[int, int]]:
    """[start, end) of each sentence, trimmed."""
    start = 0
    for match in _SENTENCE_END.finditer(text):
        yield from _trimmed(text, start, match.start())
        start = match.end()
    yield from _trimmed(text, start, len(text))


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


def _confidence_label(value: float) -> str:
    # Rounded down and at most 0.99: a statistical guess is never a certainty.
    return formats.number_format(min(math.floor(value * 100) / 100, 0.99), 2)


def language_findings(*, language: str, text: str) -> list[TextFinding]:
    """What the detector says about `text` meant to be in `language` (fr, nl, de)."""
    if language not in CODES or not text.strip():
        return []
    cleaned = clean(text)
    letters = letter_count(cleaned)
    if letters == 0:
        return []
    names = _language_names()
    # Each sentence long enough to judge on its own, with its guess.
    judged: list[tuple[int, int, Guess]] = []
    for start, end in sentences(text):
        part = cleaned[start:end]
        if letter_count(part) >= SENTENCE_MIN_LETTERS:
            judged.append((start, end, guess(language=language, cleaned=part)))
    whole = guess(language=language, cleaned=cleaned)
    # A French sentence among Dutch ones does not make a swapped text right, but a text that is
    # a third or more its own language is mixed, not wrong: warnings name the other sentences.
    own_letters = sum(
        letter_count(cleaned[s:e]) for s, e, g in judged if g.language == language and g.own >= SENTENCE_CONFIDENCE
    )
    if _confidently_other(whole, language) and own_letters * OWN_SHARE_DIVISOR < letters:
        params = {
            "language": names[language],
            "other": names[whole.language],
            "confidence": _confidence_label(whole.confidence),
        }
        if letters < MIN_LETTERS:
            message = _("This short %(language)s text may be %(other)s (confidence %(confidence)s): check it.")
            return [TextFinding(code="wrong_language", severity="warning", message=message % params, language=language)]
        message = _("The %(language)s text looks %(other)s (confidence %(confidence)s).")
        return [TextFinding(code="wrong_language", severity="error", message=message % params, language=language)]
    findings: list[TextFinding] = []
    for start, end, g in judged:
        if _confidently_other(g, language, confidence=SENTENCE_CONFIDENCE, ceiling=SENTENCE_OWN_CEILING):
            sentence = text[start:end]
            findings.append(
                TextFinding(
                    code="mixed_language",
                    severity="warning",
                    message=_("A sentence in the %(language)s text looks %(other)s: “%(sentence)s”.")
                    % {"language": names[language], "other": names[g.language], "sentence": sentence},
                    language=language,
                    excerpt=sentence,
                    start=start,
                    end=end,
                )
            )
    return findings
