"""Language routing: which variants an audience needs and which channels carry them.

Pure functions over plain values, so the rule can be tested over all 565 municipalities
without a database. Belgian language law: the official language of the language area,
plus the minority language where the municipality has facilities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from publisher.models import Language, LanguageRegion

REGION_LANGUAGES: Mapping[str, frozenset[str]] = {
    LanguageRegion.NL: frozenset({Language.NL}),
    LanguageRegion.FR: frozenset({Language.FR}),
    LanguageRegion.BILINGUAL: frozenset({Language.FR, Language.NL}),
    LanguageRegion.DE: frozenset({Language.DE}),
}
# When the message has no German variant, the French one serves German-speaking audiences.
FALLBACK: Mapping[str, str] = {Language.DE: Language.FR}
LANGUAGE_ORDER: list[str] = [Language.FR, Language.NL, Language.DE]


class MunicipalityLike(Protocol):
    @property
    def language_region(self) -> str: ...
    @property
    def facilities(self) -> str: ...


class ChannelLike(Protocol):
    @property
    def pk(self) -> Any: ...
    @property
    def language(self) -> str: ...
    @property
    def covers_all(self) -> bool: ...


def sort_languages(languages: Iterable[str]) -> list[str]:
    return sorted(set(languages), key=LANGUAGE_ORDER.index)


def municipality_languages(municipality: MunicipalityLike) -> list[str]:
    """The languages a municipality is owed: its area's language(s) plus its facilities."""
    languages = set(REGION_LANGUAGES[municipality.language_region])
    if municipality.facilities:
        languages.add(municipality.facilities)
    return sort_languages(languages)


def required_languages(audience: Iterable[MunicipalityLike]) -> list[str]:
    """Union of what each municipality of the audience is owed, in display order."""
    languages: set[str] = set()
    for municipality in audience:
        languages.update(municipality_languages(municipality))
    return sort_languages(languages)


def variant_languages(required: Iterable[str], available: Iterable[str]) -> dict[str, str]:
    """Map each required language to the variant that serves it.

    A required language with its own variant is served by it; German falls back to French.
    A required language with neither is absent from the result (the message is incomplete).
    """
    have = set(available)
    served: dict[str, str] = {}
    for language in required:
        if language in have:
            served[language] = language
        elif FALLBACK.get(language) in have:
            served[language] = FALLBACK[language]
    return served


def missing_languages(required: Iterable[str], available: Iterable[str]) -> list[str]:
    """Required languages that no variant serves (German is served by French)."""
    served = variant_languages(required, available)
    return [language for language in required if language not in served]


@dataclass(frozen=True)
class Route:
    """One variant going to one channel."""

    variant_language: str
    channel_language: str
    channel_id: int


def routes(
    *,
    required: Iterable[str],
    available: Iterable[str],
    audience_nis: set[str],
    channels: Iterable[ChannelLike],
    coverage: Mapping[int, set[str]],
) -> list[Route]:
    """Pairs (variant, channel) a message goes to: each required language's variant goes to
    every channel of that language whose coverage meets the audience. One route per channel.

    `coverage` maps channel id to the NIS codes it covers (ignored for `covers_all` channels).
    """
    served = variant_languages(required, available)
    result: dict[int, Route] = {}
    for channel in channels:
        assert channel.pk is not None
        variant = served.get(channel.language)
        if variant is None:
            continue
        if not channel.covers_all and not (coverage.get(channel.pk, set()) & audience_nis):
            continue
        result[channel.pk] = Route(variant, channel.language, channel.pk)
    return list(result.values())
