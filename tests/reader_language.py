"""Finding English in what a French or Dutch reader is shown (tests/test_reader_language.py).

Two detectors, because each misses what the other catches:

1. The catalogues. Every msgid that has a translation in the reader's language, different
   from the msgid (Django's, the third-party apps' and ours, merged as Django merges them):
   a piece of visible text equal to such a msgid (case-insensitive, trailing ":" or "…"
   ignored) is a string that went out untranslated, e.g. "No results found" or "Sent".
   It cannot flag proper names or data, which are not msgids; it misses strings never
   marked for translation.
2. English words. Strings never marked for translation (a model's __str__, a raw state
   code, an audit detail key, a hard-coded prefix) are caught by whole words that exist
   in English but not in the reader's language: "the", "sent", "delivery", "user",
   "kind"... The list leaves out words that are also French or Dutch ("message", "date",
   "type", "on", "in", "or", "an", "week", "open"...) and each language has an allow-list
   for the words it shares with English ("token", "status", "link" in Dutch; "message",
   "publications", "actions" in French). Proper names (Tandem, CAP, Atom, network names)
   are not in the word list at all.

What is visible: text nodes outside <script> and <style>, and the attributes a reader sees
or hears (title, placeholder, aria-label, alt, and the value of buttons).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

from django.utils import translation
from django.utils.translation import trans_real

# Whole words that are English and neither French nor Dutch (lower case).
ENGLISH_WORDS = frozenset(
    """
    the and to with without for from your you this that these those are were been
    be has have not yes none there here what which who when where will would can could
    should must by at it its into out up more less than then only also just new add added
    edit edited delete deleted change changed save search filter show hide view close next
    previous today now month year day days hour hours time results result found loading
    searching please enter select selected choose remove clear sent send sending published
    publishing pending queued failed failure retry retried retracted cancelled canceled
    expired approved rejected submitted draft scheduled delivery deliveries attempt attempts
    message messages channel channels user users token tokens alert alerts warning error
    errors status state states kind link links feed feeds publications approval approve
    reject cancel retract submit author approver audit event events details title text
    comment reason second factor password sign signed login logout log welcome history
    recent actions action unknown enabled disabled language languages name names true false
    all any some other others about before after until since every each many much own
    calendar upcoming outcome started finished duration receipt remote lease
    """.split()
)

# Words of the list above that are also words of the reader's language.
ALLOWED = {
    "fr": frozenset(
        "message messages publications actions action comment second audit".split()  # « comment » : how
    ),
    "nl": frozenset(
        # Dutch words or English words Dutch uses as they are (het token, de status, de link, de feed,
        # de details, alert zijn, de login, het kind, recent, de filter).
        "token tokens status link links feed feeds details alert login factor lease kind recent filter".split()
    ),
}

WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Addresses are not words a reader reads: https://…/change/, someone@example.test.
ADDRESS = re.compile(r"\S+://\S+|\S+@\S+|/\S*/")
VISIBLE_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}


@dataclass(frozen=True)
class Finding:
    where: str
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.where}: {self.text!r} ({self.why})"


VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Visible(HTMLParser):
    def __init__(self, language: str = "") -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0
        self._language = language
        # An element marked as written in another language (lang="fr" on a Dutch page: the
        # French column of a bilingual form) holds content, not the page's words.
        self._foreign_tag = ""
        self._foreign_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        values = dict(attrs)
        if self._foreign_depth:
            self._foreign_depth += tag == self._foreign_tag
            return
        lang = (values.get("lang") or "").split("-")[0].lower()
        if self._language and lang and lang != self._language and tag not in VOID_TAGS:
            self._foreign_tag, self._foreign_depth = tag, 1
            return
        for name in VISIBLE_ATTRIBUTES:
            if values.get(name):
                self.texts.append(str(values[name]))
        if tag in ("input", "button") and values.get("type") in ("submit", "button", "reset") and values.get("value"):
            self.texts.append(str(values["value"]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        if self._foreign_depth and tag == self._foreign_tag:
            self._foreign_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and not self._foreign_depth and data.strip():
            self.texts.append(data)


def visible_texts(html: str, language: str = "") -> list[str]:
    """The texts a reader sees; with ``language``, leaving out elements marked as written in
    another one."""
    parser = _Visible(language)
    parser.feed(html)
    parser.close()
    return [" ".join(t.split()) for t in parser.texts if t.strip()]


def _normal(text: str) -> str:
    return " ".join(text.split()).strip().rstrip(":…").strip().casefold()


def untranslated_msgids(language: str) -> frozenset[str]:
    """Msgids (normalised) whose translation in `language` differs from them."""
    catalog = trans_real.translation(language)._catalog  # noqa: SLF001 - Django's merged catalogue
    found = set()
    for key, value in catalog.items():
        msgid = key[0] if isinstance(key, tuple) else key
        if "\x04" in msgid:
            msgid = msgid.split("\x04", 1)[1]
        if not WORD.search(msgid) or "%" in msgid or "{" in msgid:
            continue
        if _normal(msgid) != _normal(str(value)):
            found.add(_normal(msgid))
    return frozenset(found)


def english_in(texts: Iterable[str], *, language: str, where: str) -> Iterator[Finding]:
    msgids = untranslated_msgids(language)
    allowed = ALLOWED[language]
    for text in texts:
        normal = _normal(text)
        if normal in msgids:
            yield Finding(where, text, "an English msgid left untranslated")
            continue
        # A run mixing letters and digits is a code or a hash ("be4ee675"), not a word.
        words = [w for w in WORD.findall(ADDRESS.sub(" ", text)) if not any(c.isdigit() for c in w)]
        words = sorted({w for w in (m.casefold() for m in words) if w in ENGLISH_WORDS} - allowed)
        if words:
            yield Finding(where, text, "English words: " + ", ".join(words))


def english_in_html(html: str, *, language: str, where: str) -> list[Finding]:
    return list(english_in(visible_texts(html, language), language=language, where=where))


def active(language: str) -> translation.override:
    return translation.override(language)
