"""FR/NL message templates: kept by administrators, filled in by authors.

A template's texts and titles hold placeholders such as ``{place}``; both languages must use
the same ones. Filling a template substitutes a value per language (``Ixelles`` / ``Elsene``);
a value given in one language only serves both (a date, a phone number). A placeholder left
empty in both is refused: a holding statement must never go out saying "{place}".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from accounts.models import User
from publisher.audit import audit_record
from publisher.errors import ValidationError
from publisher.mail import CONTROL_CHARACTERS
from publisher.models import Language, MessageTemplate

# A placeholder is a word in braces: letters (accents allowed), digits, underscores.
PLACEHOLDER = re.compile(r"\{([^\W\d]\w{0,39})\}")
TEMPLATE_LANGUAGES: tuple[str, ...] = (Language.FR.value, Language.NL.value)
VALUE_MAX_LENGTH = 500
# The placeholders of the default templates, in the reader's words; any other shows as written.
PLACEHOLDER_LABELS = {
    "place": pgettext_lazy("template placeholder", "Place"),
    "date": pgettext_lazy("template placeholder", "Date"),
    "time": pgettext_lazy("template placeholder", "Time"),
    "event": pgettext_lazy("template placeholder", "What happened"),
    "phone": pgettext_lazy("template placeholder", "Phone number"),
    "road": pgettext_lazy("template placeholder", "Road or street"),
    "start": pgettext_lazy("template placeholder", "Start date and time"),
    "end": pgettext_lazy("template placeholder", "End date and time"),
    "reason": pgettext_lazy("template placeholder", "Reason"),
    "name": pgettext_lazy("template placeholder", "Name of the person"),
    "age": pgettext_lazy("template placeholder", "Age"),
    "description": pgettext_lazy("template placeholder", "Description"),
    "method": pgettext_lazy("template placeholder", "What the swindlers do"),
}
TEXT_FIELDS = ("name_fr", "name_nl", "title_fr", "title_nl", "text_fr", "text_nl")


def placeholders_in(*texts: str) -> list[str]:
    """The placeholder names in these texts, once each, in order of first appearance."""
    names: dict[str, None] = {}
    for text in texts:
        for match in PLACEHOLDER.finditer(text):
            names.setdefault(match.group(1), None)
    return list(names)


def placeholder_label(name: str) -> str:
    return str(PLACEHOLDER_LABELS.get(name, name))


def template_placeholders(template: MessageTemplate) -> list[str]:
    return placeholders_in(template.title_fr, template.text_fr, template.title_nl, template.text_nl)


def templates_offered() -> QuerySet[MessageTemplate]:
    """The templates an author may start from, in the administrators' order."""
    return MessageTemplate.objects.filter(active=True).order_by("position", "name_fr", "pk")


@dataclass(frozen=True)
class FilledTemplate:
    title: str
    texts: dict[str, str]


def _substitute(text: str, values: Mapping[str, str]) -> str:
    # One pass: a value that itself contains "{x}" is never substituted again.
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def template_fill(
    *, template: MessageTemplate, values: Mapping[str, Mapping[str, str]], language: str = Language.FR
) -> FilledTemplate:
    """The template's texts with each placeholder replaced. ``values`` maps a language to
    {placeholder: value}; a value missing in one language takes the other's. The title is the
    one in ``language`` (the author's interface), else the other, else the template's name."""
    resolved: dict[str, dict[str, str]] = {lang: {} for lang in TEMPLATE_LANGUAGES}
    errors: dict[str, str] = {}
    for name in template_placeholders(template):
        given = {lang: str((values.get(lang) or {}).get(name, "")).strip() for lang in TEMPLATE_LANGUAGES}
        label = placeholder_label(name)
        if not any(given.values()):
            errors[name] = _("Fill in “%(placeholder)s”.") % {"placeholder": label}
            continue
        for value in given.values():
            if len(value) > VALUE_MAX_LENGTH:
                errors[name] = _("“%(placeholder)s” is too long (at most %(limit)s characters).") % {
                    "placeholder": label,
                    "limit": VALUE_MAX_LENGTH,
                }
            elif CONTROL_CHARACTERS.search(value):
                errors[name] = _("“%(placeholder)s” may not contain control characters.") % {"placeholder": label}
        fallback = next(v for v in given.values() if v)
        for lang in TEMPLATE_LANGUAGES:
            resolved[lang][name] = given[lang] or fallback
    if errors:
        raise ValidationError(errors)
    texts = {lang: _substitute(getattr(template, f"text_{lang}"), resolved[lang]) for lang in TEMPLATE_LANGUAGES}
    order = [language, *(lang for lang in TEMPLATE_LANGUAGES if lang != language)]
    title = next(
        (
            _substitute(getattr(template, f"title_{lang}"), resolved[lang]).replace("\n", " ").strip()
            for lang in order
            if lang in TEMPLATE_LANGUAGES and getattr(template, f"title_{lang}").strip()
        ),
        template.name_for(language),
    )
    return FilledTemplate(title=title[:200], texts=texts)


def template_validate(fields: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {key: str(fields.get(key) or "").strip() for key in TEXT_FIELDS}
    errors: dict[str, str] = {}
    for key in ("name_fr", "name_nl", "text_fr", "text_nl"):
        if not cleaned[key]:
            errors[key] = _("This field is required.")
    for key in ("name_fr", "name_nl", "title_fr", "title_nl"):
        if CONTROL_CHARACTERS.search(cleaned[key]):
            errors.setdefault(key, _("This must be a single line without control characters."))
    for key in ("title_fr", "title_nl", "text_fr", "text_nl"):
        # A brace outside a placeholder is a typo ("{ place}", "{place"): it would go out as is.
        stray = PLACEHOLDER.sub("", cleaned[key])
        if "{" in stray or "}" in stray:
            errors.setdefault(
                key, _("A brace is not part of a placeholder: write placeholders as {place}, one word in braces.")
            )
    used = {
        lang: set(placeholders_in(cleaned[f"title_{lang}"], cleaned[f"text_{lang}"])) for lang in TEMPLATE_LANGUAGES
    }
    for lang, other in (TEMPLATE_LANGUAGES, TEMPLATE_LANGUAGES[::-1]):
        missing = sorted(used[other] - used[lang])
        if missing:
            errors.setdefault(
                f"text_{lang}",
                _("The French and Dutch versions must use the same placeholders; missing here: %(names)s.")
                % {"names": ", ".join(f"{{{name}}}" for name in missing)},
            )
    try:
        position = int(fields.get("position") or 0)
    except (TypeError, ValueError):
        errors["position"] = _("Enter a whole number.")
        position = 0
    if not 0 <= position <= 32767:
        errors["position"] = _("Enter a whole number from 0 to 32767.")
    if errors:
        raise ValidationError(errors)
    cleaned["slug"] = slugify(str(fields.get("slug") or ""))[:60] or slugify(cleaned["name_fr"])[:60] or "template"
    cleaned["active"] = bool(fields.get("active", True))
    cleaned["position"] = position
    return cleaned


def template_create(*, actor: User, **fields: Any) -> MessageTemplate:
    cleaned = template_validate(fields)
    with transaction.atomic():
        if MessageTemplate.objects.filter(slug=cleaned["slug"]).exists():
            raise ValidationError({"slug": _("Another template already has this code.")})
        template = MessageTemplate.objects.create(**cleaned)
        audit_record(actor=actor, verb="template.created", obj=template, summary={"title": str(template)})
    return template


def template_update(*, template: MessageTemplate, actor: User, **fields: Any) -> MessageTemplate:
    cleaned = template_validate(fields)
    with transaction.atomic():
        template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
        if MessageTemplate.objects.filter(slug=cleaned["slug"]).exclude(pk=template.pk).exists():
            raise ValidationError({"slug": _("Another template already has this code.")})
        changed = sorted(key for key, value in cleaned.items() if getattr(template, key) != value)
        for key, value in cleaned.items():
            setattr(template, key, value)
        template.save()
        audit_record(
            actor=actor, verb="template.updated", obj=template, summary={"title": str(template), "changed": changed}
        )
    return template


def template_delete(*, template: MessageTemplate, actor: User) -> None:
    """Messages started from it keep their texts: a template is only a starting point."""
    with transaction.atomic():
        audit_record(actor=actor, verb="template.deleted", obj=template, summary={"title": str(template)})
        MessageTemplate.objects.filter(pk=template.pk).delete()
