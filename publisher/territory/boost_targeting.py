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

from django.conf import settings

from publisher.models import Language
from publisher.territory import routing

# Meta's ad locale ids: what Targeting Search answers to `GET /search?type=adlocale&q=<name>`
# (`data[].key`). Meta's reference pages document the search, not the ids, so these come
# from public code that stores that search's whole answer, in two copies that agree
# (github.com/Suglobov/dolphin-test src/constants/bundles/Locales.js, and a React targeting
# dialog embedding the same list): French (All) 1003, Dutch 14, Dutch (België) 83 (shown as
# "Flemish" in the later copy), German 5, with French (France) 9 and French (Canada) 44
# under French (All). Set aside: a list giving French (All) 1002 and Dutch (België) 34 that
# says it holds made-up mock values, and one giving 16 (Portuguese (Brazil) in both copies).
# Dutch has no "(All)" group, hence both of its locales. An operator checks them with the
# search above and corrects them with TANDEM_BOOST_LOCALES (settings), without a release.
DEFAULT_META_LOCALES: Mapping[str, tuple[int, ...]] = {
    Language.FR: (1003,),
    Language.NL: (14, 83),
    Language.DE: (5,),
}
COUNTRY = "BE"


def meta_locales() -> dict[str, tuple[int, ...]]:
    """The ids per language: the defaults, as corrected by TANDEM_BOOST_LOCALES."""
    configured = getattr(settings, "TANDEM_BOOST_LOCALES", None) or {}
    return {
        **{str(k): tuple(v) for k, v in DEFAULT_META_LOCALES.items()},
        **{str(k): tuple(int(i) for i in v) for k, v in configured.items()},
    }


class MunicipalityWithPostalCodes(routing.MunicipalityLike, Protocol):
    @property
    def nis_code(self) -> str: ...
    @property
    def postal_codes(self) -> str: ...


@dataclass(frozen=True)
class LanguageAudience:
    """The part of an audience one variant is promoted to, in up to two targets: where only
    this variant goes (everyone there), and where another variant goes too (Brussels,
    facilities: only people whose Facebook language is this one)."""

    language: str
    nis_codes: tuple[str, ...]
    home_postal_codes: tuple[str, ...]
    shared_postal_codes: tuple[str, ...]
    locales: tuple[int, ...] = field(default=())

    @property
    def postal_codes(self) -> tuple[str, ...]:
        return tuple(sorted({*self.home_postal_codes, *self.shared_postal_codes}))

    def targetings(self, *, age_min: int | None = None, age_max: int | None = None) -> list[dict[str, object]]:
        """One ad set `targeting` spec (Marketing API) per target: zips keyed `BE:<code>`,
        `locales` where the place is shared with another variant."""
        return [
            targeting_spec(codes, locales, age_min=age_min, age_max=age_max)
            for codes, locales in ((self.home_postal_codes, ()), (self.shared_postal_codes, self.locales))
            if codes
        ]


def targeting_spec(
    postal_codes: Iterable[str], locales: Iterable[int], *, age_min: int | None = None, age_max: int | None = None
) -> dict[str, object]:
    spec: dict[str, object] = {
        "geo_locations": {
            "zips": [{"key": zip_key(code)} for code in postal_codes],
            "location_types": ["home", "recent"],
        },
    }
    if locales:
        spec["locales"] = list(locales)
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
    municipalities: Iterable[MunicipalityWithPostalCodes],
    available: Iterable[str],
    locales: Mapping[str, tuple[int, ...]] | None = None,
) -> dict[str, LanguageAudience]:
    """One audience per variant language the municipalities need, by the language law's
    routing (German is served by French where there is no German variant). A postal code
    both shared and not (two municipalities behind one code) is counted as shared."""
    have = list(available)
    nis: dict[str, set[str]] = {}
    home: dict[str, set[str]] = {}
    shared: dict[str, set[str]] = {}
    for municipality in municipalities:
        served = routing.variant_languages(routing.municipality_languages(municipality), have)
        variants = set(served.values())
        for language in variants:
            nis.setdefault(language, set()).add(municipality.nis_code)
            part = shared if len(variants) > 1 else home
            part.setdefault(language, set()).update(postal_codes_of(municipality))
    locales = meta_locales() if locales is None else locales
    audiences = {}
    for language in routing.sort_languages(nis):
        shared_codes = shared.get(language, set())
        audiences[language] = LanguageAudience(
            language=language,
            nis_codes=tuple(sorted(nis[language])),
            home_postal_codes=tuple(sorted(home.get(language, set()) - shared_codes)),
            shared_postal_codes=tuple(sorted(shared_codes)),
            locales=tuple(locales.get(language, ())) if shared_codes else (),
        )
    return audiences
