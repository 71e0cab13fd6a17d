"""The networks' own length rules, written independently of publisher.channels.counting so
the fakes check our adapters rather than agree with them by construction."""

from __future__ import annotations

import re
import unicodedata

import regex

_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"(@\w+)@[\w.-]+")
_EMOJI = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def mastodon(text: str, url_length: int = 23) -> int:
    # Mastodon's StatusLengthValidator: URLs become 23 "x", remote mentions lose their domain.
    text = _URL.sub(lambda m: "x" * url_length + _trailing(m.group(0)), text)
    return graphemes(_MENTION.sub(r"\1", text))


def _trailing(url: str) -> str:
    stripped = url.rstrip(".,;:!?)")
    return url[len(stripped) :]


def twitter_weighted(text: str) -> int:
    """twitter-text v3: NFC; URL 23; emoji 2; ranges 0-4351, 8192-8205, 8208-8223, 8242-8247 weigh 1."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for match in _URL.finditer(text):
        url = match.group(0)
        tail = _trailing(url)
        total += _weigh(text[position : match.start()]) + 23
        position = match.end() - len(tail)
    return total + _weigh(text[position:])


def _weigh(text: str) -> int:
    total = 0
    for cluster in regex.findall(r"\X", text):
        if _EMOJI.search(cluster):
            total += 2
            continue
        for char in cluster:
            point = ord(char)
            light = point <= 4351 or 8192 <= point <= 8205 or 8208 <= point <= 8223 or 8242 <= point <= 8247
            total += 1 if light else 2
    return total
