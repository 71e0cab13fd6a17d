"""How each network counts the length of a text (see shared/reference/channels.md).

- Mastodon: extended grapheme clusters of (spoiler + text), every URL as 23, a remote
  mention ``@user@domain`` as ``@user``.
- Bluesky: at most 300 grapheme clusters AND 3000 UTF-8 bytes; URLs count in full.
- Telegram: UTF-16 code units (always ≥ the code-point count the server may use).
- X: twitter-text v3 weights on the NFC form: 1 for Latin and common punctuation, 2 for
  anything else and per emoji, 23 per URL.
- Instagram, Facebook: code points (a safe upper bound; the networks do not document it).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import regex

# A URL the networks would link: scheme-qualified, up to whitespace, without the trailing
# punctuation that usually ends a sentence rather than the address.
URL_RE = regex.compile(r"https?://[^\s<>\"'«»“”]+", regex.IGNORECASE)
_TRAILING = ".,;:!?)]}'\"»"
MENTION_RE = regex.compile(r"(?<![\w@])(@[\w.]+)@[\w.-]+\.\w+", regex.UNICODE)
GRAPHEME_RE = regex.compile(r"\X")
EMOJI_RE = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20e3]")

# twitter-text config/v3.json: these code-point ranges weigh 100 (i.e. 1); everything else 200.
X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
X_URL_WEIGHT = 23
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


def _x_code_point_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in X_LIGHT_RANGES) else 2


def x_weighted_length(text: str) -> int:
    """twitter-text v3 `weightedLength` / 100."""
    text = unicodedata.normalize("NFC", text)
    total, last = 0, 0
    for span in urls(text) + [UrlSpan(len(text), len(text), "")]:
        for cluster in GRAPHEME_RE.findall(text[last : span.start]):
            if EMOJI_RE.search(cluster):
                total += 2  # an emoji, even a ZWJ sequence or a flag, weighs one default weight
            else:
                total += sum(_x_code_point_weight(c) for c in cluster)
        if span.url:
            total += X_URL_WEIGHT
        last = span.end
    return total


def compose(text: str, link: str = "") -> str:
    """The text a network receives: the variant's text, then its link unless already in it."""
    text = text.strip()
    if link and link not in text:
        return f"{text}\n\n{link}" if text else link
    return text
