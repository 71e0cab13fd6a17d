"""FR/NL message templates: kept by administrators, filled in by authors.

A template's texts and titles hold placeholders, words in braces written in the text's own
language: ``{lieu}`` in French, ``{plaats}`` in Dutch (a reader never meets an English code).
Filling a template substitutes a value for each placeholder of each language (``Ixelles`` /
``Elsene``); a placeholder left empty is refused: a holding statement must never go out
saying "{lieu}".
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

from accounts.models import User
from publisher.audit import audit_record
from publisher.errors import ValidationError
from publisher.mail import CONTROL_CHARACTERS
from publisher.models import Language, MessageTemplate

# A placeholder is a word in braces: letters (accents allowed), digits, underscores.
PLACEHOLDER = re.compile(r"\{([^\W\d]\w{0,39})\}")
TEMPLATE_LANGUAGES: tuple[str, ...] = (Language.FR.value, Language.NL.value)
VALUE_MAX_LENGTH = 500
TEXT_FIELDS = ("name_fr", "name_nl", "title_fr", "title_nl", "text_fr", "text_nl")


def placeholders_in(*texts: str) -> list[str]:
    """The placeholder names in these texts, once each, in order of first appearance."""
    names: dict[str, None] = {}
    for text in texts:
        for match in PLACEHOLDER.finditer(text):
            names.setdefault(match.group(1), None)
    return list(names)


def placeholder_label(name: str) -> str:
    """A placeholder as a form label: it is already a word of its text's language."""
    words = name.replace("_", " ")
    return words[:1].upper() + words[1:]


def template_placeholders(template: MessageTemplate) -> dict[str, list[str]]:
    """Each language's placeholders, title first, in order of appearance."""
    return {
        lang: placeholders_in(getattr(template, f"title_{lang}"), getattr(template, f"text_{lang}"))
        for lang in TEMPLATE_LANGUAGES
    }


def template_preview(text: str) -> str:
    """The text as an author reads it before filling it in: each placeholder as [Label]."""
    return PLACEHOLDER.sub(lambda m: f"[{placeholder_label(m.group(1))}]", text)


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


def _value_problem(value: str, label: str) -> str:
    if not value:
        return _("Fill in “%(placeholder)s”.") % {"placeholder": label}
    if len(value) > VALUE_MAX_LENGTH:
        return _("“%(placeholder)s” is too long (at most %(limit)s characters).") % {
            "placeholder": label,
            "limit": VALUE_MAX_LENGTH,
        }
    if CONTROL_CHARACTERS.search(value):
        return _("“%(placeholder)s” may not contain control characters.") % {"placeholder": label}
    return ""


def template_fill(
    *, template: MessageTemplate, values: Mapping[str, Mapping[str, str]], language: str = Language.FR
) -> FilledTemplate:
    """The template's texts with each placeholder replaced. ``values`` maps a language to
    {placeholder: value}; every placeholder of every language needs one (errors are keyed
    "fr.lieu"). The title is the one in ``language`` (the author's interface), else the
    other's, else the template's name."""
    resolved: dict[str, dict[str, str]] = {}
    errors: dict[str, str] = {}
    for lang, names in template_placeholders(template).items():
        resolved[lang] = {}
        for name in names:
            value = str((values.get(lang) or {}).get(name, "")).strip()
            problem = _value_problem(value, placeholder_label(name))
            if problem:
                errors[f"{lang}.{name}"] = problem
            resolved[lang][name] = value
    if errors:
        raise ValidationError(errors)
    texts = {lang: _substitute(getattr(template, f"text_{lang}"), resolved[lang]) for lang in TEMPLATE_LANGUAGES}
    order = [language, *(lang for lang in TEMPLATE_LANGUAGES if lang != language)]
    title = next(
        (
            _substitute(getattr(template, f"title_{lang}"), resolved[lang]).strip()
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
