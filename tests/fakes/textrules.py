"""The networks' own length rules, written independently of publisher.channels.counting so
the fakes check our adapters rather than agree with them by construction."""

from __future__ import annotations

import re

import regex
from twitter_text import parse_tweet

_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"(@\w+)@[\w.-]+")


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
