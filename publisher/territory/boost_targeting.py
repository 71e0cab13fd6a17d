"""Who a paid promotion of one variant reaches: the Belgian postal codes of the
municipalities that are owed that variant, and whether Meta's language targeting must
narrow it (where another variant goes to the same places).

Pure functions over plain values (like routing.py), so they can be checked against the
565 municipalities' reference data without a network or a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from publisher.models import Language
from publisher.territory import routing

# Meta's ad locale ids (Targeting Search, type=adlocale): "French (All)" is 1003; Dutch has
# no "(All)" group, so both of its locales: "Dutch" 14 and "Dutch (België)"/"Flemish" 83.
META_LOCALES: Mapping[str, tuple[int, ...]] = {
    Language.FR: (1003,),
    Language.NL: (14, 83),
    Language.DE: (5,),
}
COUNTRY = "BE"


class MunicipalityWithPostalCodes(routing.MunicipalityLike, Protocol):
    @property
    def nis_code(self) -> str: ...
    @property
    def postal_codes(self) -> str: ...


@dataclass(frozen=True)
class LanguageAudience:
    """The part of an audience one variant is promoted to."""

    language: str
    nis_codes: tuple[str, ...]
    postal_codes: tuple[str, ...]
    # True where another variant goes to some of the same places (Brussels, facilities):
    # the promotion is then limited to people whose Facebook language is this one.
    shared: bool
    locales: tuple[int, ...] = field(default=())

    def targeting(self, *, age_min: int | None = None, age_max: int | None = None) -> dict[str, object]:
        """The ad set's `targeting` spec (Marketing API): zips keyed `BE:<code>`."""
        spec: dict[str, object] = {
            "geo_locations": {
                "zips": [{"key": zip_key(code)} for code in self.postal_codes],
                "location_types": ["home", "recent"],
            },
        }
        if self.locales:
            spec["locales"] = list(self.locales)
        if age_min is not None:
            spec["age_min"] = age_min
        if age_max is not None:
            spec["age_max"] = age_max
        return spec


def zip_key(postal_code: str) -> str:
    return f"{COUNTRY}:{postal_code}"


def postal_codes_of(municipality: MunicipalityWithPostalCodes) -> list[str]:
    """`Municipality.postal_codes` is stored space-separated (with spaces around, for search)."""
    return [code for code in municipality.postal_codes.replace("|", " ").split() if code]


def language_audiences(
    municipalities: Iterable[MunicipalityWithPostalCodes], available: Iterable[str]
) -> dict[str, LanguageAudience]:
    """One audience per variant language the municipalities need, by the language law's
    routing (German is served by French where there is no German variant)."""
    have = list(available)
    nis: dict[str, set[str]] = {}
    codes: dict[str, set[str]] = {}
    shared: dict[str, bool] = {}
    for municipality in municipalities:
        served = routing.variant_languages(routing.municipality_languages(municipality), have)
        variants = set(served.values())
        for language in variants:
            nis.setdefault(language, set()).add(municipality.nis_code)
            codes.setdefault(language, set()).update(postal_codes_of(municipality))
            shared[language] = shared.get(language, False) or len(variants) > 1
    return {
        language: LanguageAudience(
            language=language,
            nis_codes=tuple(sorted(nis[language])),
            postal_codes=tuple(sorted(codes[language])),
            shared=shared[language],
            locales=META_LOCALES.get(language, ()) if shared[language] else (),
        )
        for language in routing.sort_languages(nis)
    }
