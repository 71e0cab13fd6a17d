"""Accent- and apostrophe-insensitive matching for names typed by people."""

import unicodedata

_DROP = str.maketrans({"'": "", "’": "", "‘": "", "`": "", "-": " ", ".": " "})


def normalize(text: str) -> str:
    """Lower-case, strip accents, drop apostrophes, fold hyphens to spaces.

    "Écaussinnes", "ecaussinnes"; "Braine-l’Alleud", "braine lalleud", "Braine-l'Alleud" all match.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().translate(_DROP).split())
