"""Say plainly which part of an audience requires which language, before anything is stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext_lazy

from publisher.errors import ValidationError
from publisher.models import Language, LanguageRegion, Municipality
from publisher.territory import routing
from publisher.workflow.services import Audience, VariantInput

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Language names as they read inside a sentence ("le français", "Frans"), and the missing text.
IN_SENTENCE: dict[str, StrOrPromise] = {
    Language.FR: pgettext_lazy("language in a sentence", "French"),
    Language.NL: pgettext_lazy("language in a sentence", "Dutch"),
    Language.DE: pgettext_lazy("language in a sentence", "German"),
}
MISSING_TEXT: dict[str, StrOrPromise] = {
    Language.FR: pgettext_lazy("missing variant", "the French text"),
    Language.NL: pgettext_lazy("missing variant", "the Dutch text"),
    Language.DE: pgettext_lazy("missing variant", "the German text"),
}


def _place(municipality: Municipality) -> str:
    if municipality.language_region == LanguageRegion.BILINGUAL:
        return _("Brussels-Capital (%(name)s)") % {"name": str(municipality)}
    if municipality.facilities:
        return _("%(name)s (language facilities)") % {"name": str(municipality)}
    return str(municipality)


def explain_missing_languages(*, audience: Audience, variants: Mapping[str, VariantInput]) -> list[str]:
    """The languages the audience requires; a field error on `variants` names, for each missing
    language, a place that requires it.

    e.g. "The audience includes Brussels-Capital (Bruxelles / Brussel): French and Dutch are required.
    Add the Dutch text." Unknown codes are left to the services, which name them.
    """
    if audience.all:
        municipalities = Municipality.objects.all()
    else:
        segment_ids = [s for s in audience.segments if str(s).isdigit()]
        municipalities = Municipality.objects.filter(
            Q(pk__in=audience.municipalities)
            | Q(police_zone__in=audience.zones)
            | Q(province__in=audience.provinces)
            | Q(segments__in=segment_ids)
        ).distinct()
    members = list(municipalities.only("nis_code", "name_fr", "name_nl", "language_region", "facilities"))
    required = routing.required_languages(members)
    missing = routing.missing_languages(required, list(variants))
    if not missing:
        return required
    errors: dict[str, str] = {}
    for language in missing:
        # Prefer the place that needs it by its own region over one that owes it by facilities.
        needing = [m for m in members if language in routing.municipality_languages(m)]
        needing.sort(key=lambda m: (m.facilities == language, m.nis_code))
        place = needing[0]
        owed = [str(IN_SENTENCE[code]) for code in routing.municipality_languages(place)]
        errors[f"variants.{language}"] = ngettext(
            "The audience includes %(place)s: %(languages)s is required. Add %(missing)s.",
            "The audience includes %(place)s: %(languages)s are required. Add %(missing)s.",
            len(owed),
        ) % {"place": _place(place), "languages": get_text_list(owed, _("and")), "missing": str(MISSING_TEXT[language])}
    raise ValidationError(errors)
