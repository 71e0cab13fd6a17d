"""How each network counts the length of a text (see shared/reference/channels.md).

- Mastodon: extended grapheme clusters of (spoiler + text), every URL as 23, a remote
  mention ``@user@domain`` as ``@user``.
- Bluesky: at most 300 grapheme clusters AND 3000 UTF-8 bytes; URLs count in full.
- Telegram: UTF-16 code units (always ≥ the code-point count the server may use).
- X: twitter-text v3 through the maintained port (`twitter-text-parser`): weights on the
  NFC form, 1 for Latin and common punctuation, 2 for anything else and per emoji, 23 per
  URL, where a URL is what twitter-text links, also without a scheme ("example.com").
- Instagram, Facebook: code points (a safe upper bound; the networks do not document it).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import regex
from twitter_text import extract_urls_with_indices, parse_tweet

# A URL the networks would link: scheme-qualified, up to whitespace, without the trailing
# punctuation that usually ends a sentence rather than the address.
URL_RE = regex.compile(r"https?://[^\s<>\"'«»“”]+", regex.IGNORECASE)
_TRAILING = ".,;:!?)]}'\"»"
MENTION_RE = regex.compile(r"(?<![\w@])(@[\w.]+)@[\w.-]+\.\w+", regex.UNICODE)
GRAPHEME_RE = regex.compile(r"\X")

X_MAX = 280


@dataclass(frozen=True)
class UrlSpan:
    start: int  # code-point offsets into the text
    end: int
    url: str


def urls(text: str) -> list[UrlSpan]:
    """Every link in the text, trailing sentence punctuation excluded."""
    found = []
    for match in URL_RE.finditer(text):
        url = match.group(0)
        while url and url[-1] in _TRAILING:
            # A closing parenthesis that closes one opened inside the URL belongs to it.
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
        if len(url) > len("https://"):
            found.append(UrlSpan(match.start(), match.start() + len(url), url))
    return found


def graphemes(text: str) -> int:
    return len(GRAPHEME_RE.findall(text))


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def code_points(text: str) -> int:
    return len(text)


def _replace_urls(text: str, replacement: str) -> str:
    parts, last = [], 0
    for span in urls(text):
        parts.append(text[last : span.start])
        parts.append(replacement)
        last = span.end
    parts.append(text[last:])
    return "".join(parts)


def mastodon_length(text: str, *, spoiler_text: str = "", url_length: int = 23) -> int:
    counted = _replace_urls(text, "x" * url_length)
    counted = MENTION_RE.sub(r"\1", counted)
    return graphemes(spoiler_text + counted)


def bluesky_length(text: str) -> tuple[int, int]:
    """(grapheme clusters, UTF-8 bytes): both have a limit."""
    return graphemes(text), utf8_bytes(text)


def x_text(text: str) -> str:
    """The form X counts: NFC, line endings as LF (twitter-text's own normalisation)."""
    return unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")


def x_weighted_length(text: str) -> int:
    """twitter-text v3 `weightedLength`."""
    return int(parse_tweet(text).weightedLength)


def x_cut(text: str) -> int | None:
    """Code-point offset into x_text(text) where the part X accepts ends; None if all fits."""
    result = parse_tweet(text)
    if result.weightedLength <= X_MAX:
        return None
    # validRangeEnd is the last accepted UTF-16 unit (inclusive) of the original text.
    units, normalised = int(result.validRangeEnd) + 1, x_text(text)
    for index, char in enumerate(normalised):
        units -= 2 if ord(char) > 0xFFFF else 1
        if units < 0:
            return index
    return len(normalised)


def x_urls(text: str) -> list[UrlSpan]:
    """The links twitter-text finds in x_text(text), with or without a scheme."""
    return [
        UrlSpan(int(found["indices"][0]), int(found["indices"][1]), str(found["url"]))
        for found in extract_urls_with_indices(x_text(text))
    ]


def cut_at(text: str, length: Callable[[str], int], limit: int) -> int | None:
    """Code-point offset of the longest prefix (on grapheme boundaries) that `length` keeps
    within `limit`; None when the whole text fits. Uses the network's own length function,
    so the cut shown is the cut the check makes."""
    if length(text) <= limit:
        return None
    bounds = [match.end() for match in GRAPHEME_RE.finditer(text)]
    low, high = 0, len(bounds) - 1  # the answer is bounds[k] for the largest k that fits, or 0
    best = 0
    while low <= high:
        middle = (low + high) // 2
        if length(text[: bounds[middle]]) <= limit:
            best, low = bounds[middle], middle + 1
        else:
            high = middle - 1
    return best


def link_shown(url: str, *, keep: int | None) -> str:
    """A link as timelines print it: without scheme and "www.", cut to `keep` characters + "…"."""
    shown = regex.sub(r"^(?:https?://)?(?:www\.)?", "", url, flags=regex.IGNORECASE)
    if keep is not None and len(shown) > keep:
        return shown[:keep] + "…"
    return shown


def first_line(text: str, limit: int = 140) -> str:
    """A title made of the text's first line, cut with "…" (Atom titles, CAP headlines)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def compose(text: str, link: str = "") -> str:
    """The text a network receives: the variant's text, then its link unless already in it."""
    text = text.strip()
    if link and link not in text:
        return f"{text}\n\n{link}" if text else link
    return text
