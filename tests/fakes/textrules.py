"""The networks' own length rules, written independently of publisher.channels.counting so
the fakes check our adapters rather than agree with them by construction."""

from __future__ import annotations

import re
import unicodedata

import regex
from twitter_text import parse_tweet

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
    """What X itself counts: twitter-text v3 (the real server runs twitter-text; so does the fake)."""
    return int(parse_tweet(text).weightedLength)


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
