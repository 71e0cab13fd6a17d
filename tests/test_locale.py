"""The interface ships complete in French and Dutch: no entry left untranslated or fuzzy."""

from pathlib import Path

import polib
import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_catalogue_is_complete(language):
    path = LOCALE / language / "LC_MESSAGES" / "django.po"
    catalogue = polib.pofile(str(path))
    live = [entry for entry in catalogue if not entry.obsolete]
    untranslated = [entry.msgid for entry in live if not entry.translated() and "fuzzy" not in entry.flags]
    fuzzy = [entry.msgid for entry in live if "fuzzy" in entry.flags]
    assert live, f"{path} has no entries"
    assert untranslated == [], f"{path}: untranslated entries"
    assert fuzzy == [], f"{path}: fuzzy entries"


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_placeholders_survive_translation(language):
    """A translation that drops or renames a %(name)s placeholder crashes at run time."""
    import re

    catalogue = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    pattern = re.compile(r"%\((\w+)\)s")
    wrong = [
        entry.msgid
        for entry in catalogue
        if not entry.obsolete
        and entry.msgstr
        and set(pattern.findall(entry.msgid)) != set(pattern.findall(entry.msgstr))
    ]
    assert wrong == []
