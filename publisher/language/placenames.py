"""Place names in the reader's language.

A Dutch text that writes "Ixelles" gets "Elsene", a French one that writes "Luik" gets
"Liège", a German one that writes "Saint-Vith" gets "Sankt Vith": the official names of the
municipalities and provinces (reference data, see publisher/territory/reference_data.py) plus the three
regions. A warning with the replacement, never a block.

Which names are flagged, for a text meant to be in language L:
- a name is flagged only if it is another language's name of a place that has a name in L,
  and that name in L is different (accents and case aside): "Eupen" is never flagged;
- a name that is a valid name in L of any place is never flagged: "Bergen" is Mons in Dutch,
  "Limburg" a Dutch province, whatever the other languages call something else;
- German names exist for the German-speaking municipalities only: a German text gets a
  suggestion for those ("Bullange" → "Büllingen"), never for "Liège" (the data has no
  "Lüttich", and a guess would be worse than silence);
- names that are also common words in L ("lier" and "halle" in French, "hal" in Dutch) are
  flagged only when written as a proper noun: capitalised, not at the start of a sentence.

Matching is whole words, case- and accent-insensitive, with hyphens, spaces and apostrophes
interchangeable inside a name ("Sint Genesius Rode", "Braine-l'Alleud"); URLs, e-mail
addresses and mentions are left alone (changing them would break them). Offsets are into the
original text, so the compose page can replace exactly the occurrence.

The tables are built once per process from the database and rebuilt after CACHE_SECONDS, so a
reloaded reference table reaches long-running processes without a restart; a check is a
dictionary scan over the text's words (no query, no regex per name).
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from threading import Lock

from django.utils.translation import gettext as _

from publisher.language.findings import TextFinding
from publisher.models import Municipality, Province

LANGUAGES = ("fr", "nl", "de")
CACHE_SECONDS = 600.0
# The longest name has 5 words ("Sint-Joost-ten-Node", "Rhode-Saint-Genèse" has 3, a province 2).
MAX_WORDS = 6

# Regions are not in the reference data (a municipality only carries a region code).
REGIONS = (
    {"fr": "Flandre", "nl": "Vlaanderen", "de": "Flandern"},
    {"fr": "Wallonie", "nl": "Wallonië", "de": "Wallonien"},
    {"fr": "Bruxelles-Capitale", "nl": "Brussel-Hoofdstad", "de": "Brüssel-Hauptstadt"},
)

# Other languages' names that are also everyday words in the reader's language (folded).
COMMON_WORDS = {
    "fr": frozenset({"lier", "halle", "gent"}),  # to bind, a market hall, "la gent féminine"
    "nl": frozenset({"hal"}),  # a hall
    "de": frozenset(),
}

_WORD = re.compile(r"\w+")
# Inside a multi-word name: "Sint-Genesius-Rode", "La Louvière", "Braine-l'Alleud", "’s Gravenbrakel".
_JOINER = re.compile(r"[\s\-']{1,3}")
# Spans never touched: URLs, bare domains, e-mail addresses, @mentions.
_UNTOUCHABLE = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|(?<!\w)@\w+"
    r"|(?<![\w@])[\w-]+(?:\.[\w-]+)*\.(?:be|brussels|vlaanderen|wallonie|gent|eu|com|org|net|info)\b(?:/\S*)?"
)
_SENTENCE_END = ".!?…:\n"
_APOSTROPHES = {"’": "'", "‘": "'", "`": "'", "ʼ": "'", "\u2010": "-", "\u2011": "-"}


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    """Lower case without accents; "" for a combining mark, several characters for a ligature."""
    if char in _APOSTROPHES:
        return _APOSTROPHES[char]
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _fold(text: str) -> tuple[str, list[int] | None]:
    """The folded text and, unless it is the same length, each folded character's original index."""
    if text.isascii():
        return text.lower(), None
    pieces = [_fold_char(c) for c in text]
    folded = "".join(pieces)
    if len(folded) == len(text) and all(len(p) == 1 for p in pieces):
        return folded, None
    index = [i for i, piece in enumerate(pieces) for _ in piece]
    return folded, index


def name_key(name: str) -> str:
    """A name as the tables hold it: folded, words separated by one space."""
    return " ".join(_WORD.findall(_fold(name)[0]))


@dataclass(frozen=True)
class _Table:
    # Folded name in another language → the name in the reader's language.
    replacements: dict[str, str]
    # Names that begin with an apostrophe ("’s Gravenbrakel"): \w+ words leave it out.
    leading_apostrophe: frozenset[str]
    # Folded names to recognise (valid in the reader's language or to replace), by first word.
    first_words: frozenset[str]
    names: frozenset[str]


_lock = Lock()
_cached: tuple[float, dict[str, _Table]] | None = None


def cache_clear() -> None:
    global _cached
    with _lock:
        _cached = None


def _places() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = [
        {"fr": fr, "nl": nl, "de": de}
        for fr, nl, de in Municipality.objects.order_by("nis_code").values_list("name_fr", "name_nl", "name_de")
    ]
    rows += [
        {"fr": fr, "nl": nl, "de": ""}
        for fr, nl in Province.objects.order_by("nis_code").values_list("name_fr", "name_nl")
    ]
    return [*rows, *REGIONS]


def _build(places: list[dict[str, str]]) -> dict[str, _Table]:
    tables = {}
    for reader in LANGUAGES:
        valid = {name_key(p[reader]) for p in places if p.get(reader)}
        replacements: dict[str, str] = {}
        for place in places:
            own = place.get(reader)
            if not own:
                continue
            for other in LANGUAGES:
                key = name_key(place.get(other) or "")
                # setdefault: a municipality wins over a province or region of the same name.
                if key and key != name_key(own) and key not in valid:
                    replacements.setdefault(key, own)
        names = valid | set(replacements)
        tables[reader] = _Table(
            replacements=replacements,
            leading_apostrophe=frozenset(
                name_key(p[lang]) for p in places for lang in LANGUAGES if _fold(p.get(lang) or "")[0].startswith("'")
            ),
            first_words=frozenset(name.split(" ", 1)[0] for name in names),
            names=frozenset(names),
        )
    return tables


def _tables() -> dict[str, _Table]:
    global _cached
    cached = _cached
    now = time.monotonic()
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    with _lock:
        if _cached is not None and now - _cached[0] < CACHE_SECONDS:
            return _cached[1]
        tables = _build(_places())
        _cached = (now, tables)
        return tables


def _message(reader: str, name: str) -> str:
    if reader == "fr":
        return _("In French: %(name)s.") % {"name": name}
    if reader == "nl":
        return _("In Dutch: %(name)s.") % {"name": name}
    return _("In German: %(name)s.") % {"name": name}


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in _SENTENCE_END


def place_name_findings(*, language: str, text: str) -> list[TextFinding]:
    """A `place_name` warning for each place written in another language's name in `text`."""
    if language not in LANGUAGES or not text.strip():
        return []
    table = _tables()[language]
    if not table.replacements:
        return []
    folded, index = _fold(text)
    untouchable = [m.span() for m in _UNTOUCHABLE.finditer(folded)]
    words = [m for m in _WORD.finditer(folded) if not any(a <= m.start() < b for a, b in untouchable)]
    findings = []
    i = 0
    while i < len(words):
        if words[i].group() not in table.first_words:
            i += 1
            continue
        # Longest name first, so "Flandre orientale" is not read as the region "Flandre".
        n = min(MAX_WORDS, len(words) - i)
        while n:
            chunk = words[i : i + n]
            joined = all(_JOINER.fullmatch(folded, a.end(), b.start()) for a, b in pairwise(chunk))
            key = " ".join(w.group() for w in chunk)
            if joined and key in table.names:
                break
            n -= 1
        if not n:
            i += 1
            continue
        replacement = table.replacements.get(key)
        if replacement is not None:
            f_start, f_end = chunk[0].start(), chunk[-1].end()
            if key in table.leading_apostrophe and folded[f_start - 1 : f_start] == "'":
                f_start -= 1
            start = index[f_start] if index else f_start
            end = index[f_end - 1] + 1 if index else f_end
            # A decomposed accent after the last letter belongs to the name.
            while end < len(text) and unicodedata.combining(text[end]):
                end += 1
            common = key in COMMON_WORDS[language]
            if not common or (text[start].isupper() and not _sentence_start(text, start)):
                findings.append(
                    TextFinding(
                        code="place_name",
                        severity="warning",
                        message=_message(language, replacement),
                        language=language,
                        excerpt=text[start:end],
                        start=start,
                        end=end,
                        replacement=replacement,
                    )
                )
        i += n
    return findings
