"""Start a message from a template: pick one, fill in its placeholders per language, then the
compose page opens with the texts filled in (the service substitutes; nothing is saved until
the author saves the message)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from publisher.errors import ValidationError
from publisher.models import Language, Message, MessageTemplate
from publisher.workflow import message_templates

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

# Where the filled texts wait between the placeholder form and the compose page (one
# redirect: a reload of the form's answer never posts it twice).
SESSION_KEY = "tandem_template_start"
LANGUAGE_LABELS: dict[str, Any] = {Language.FR.value: Language.FR.label, Language.NL.value: Language.NL.label}


class TemplateFillForm(forms.Form):
    """One field per placeholder of each language (named by position: a placeholder is any
    word, accents included)."""

    def __init__(self, *args: Any, template: MessageTemplate, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.template = template
        self.placeholders = message_templates.template_placeholders(template)
        for language, names in self.placeholders.items():
            for index, name in enumerate(names):
                self.fields[f"{language}__{index}"] = forms.CharField(
                    label=message_templates.placeholder_label(name),
                    required=False,
                    max_length=message_templates.VALUE_MAX_LENGTH,
                    widget=forms.TextInput({"data-placeholder": name, "lang": language}),
                )

    def field_name(self, language: str, name: str) -> str:
        return f"{language}__{self.placeholders[language].index(name)}"

    def columns(self) -> list[dict[str, Any]]:
        return [
            {
                "language": language,
                "label": LANGUAGE_LABELS[language],
                "fields": [self[f"{language}__{index}"] for index in range(len(names))],
            }
            for language, names in self.placeholders.items()
        ]

    def has_placeholders(self) -> bool:
        return any(self.placeholders.values())

    def values(self) -> dict[str, dict[str, str]]:
        return {
            language: {name: self.cleaned_data.get(f"{language}__{index}", "") for index, name in enumerate(names)}
            for language, names in self.placeholders.items()
        }


def _template_or_404(template_id: str) -> MessageTemplate:
    try:
        return message_templates.templates_offered().get(pk=int(template_id))
    except (MessageTemplate.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def template_choose_view(model_admin: ModelAdmin[Message], request: HttpRequest) -> HttpResponse:
    """The compose page's template picker (a GET form) lands here: on to that template's page."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    template = _template_or_404(request.GET.get("template", ""))
    return HttpResponseRedirect(reverse("admin:publisher_message_template_start", args=[template.pk]))


def template_start_view(model_admin: ModelAdmin[Message], request: HttpRequest, template_id: str) -> HttpResponse:
    """GET: the placeholder form; POST: fill the template and open the compose page with it."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    template = _template_or_404(template_id)
    language = (get_language() or Language.FR)[:2]
    form = TemplateFillForm(request.POST if request.method == "POST" else None, template=template)
    if request.method == "POST" and form.is_valid():
        try:
            filled = message_templates.template_fill(template=template, values=form.values(), language=language)
        except ValidationError as exc:
            for key, errors in exc.message_dict.items():
                text_language, _dot, name = key.partition(".")
                known = name in form.placeholders.get(text_language, [])
                form.add_error(form.field_name(text_language, name) if known else None, errors)
        else:
            request.session[SESSION_KEY] = {
                "template": template.pk,
                "title": filled.title,
                **{f"text_{lang}": text for lang, text in filled.texts.items()},
            }
            flash.info(
                request,
                _("The texts of “%(template)s” are filled in: check them, choose the audience, then save.")
                % {"template": template.name_for(language)},
            )
            return HttpResponseRedirect(reverse("admin:publisher_message_add") + f"?template={template.pk}")
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Message._meta,
        "title": _("Start from a template: %(template)s") % {"template": template.name_for(language)},
        "template": template,
        "template_name": template.name_for(language),
        "form": form,
        "previews": [
            (
                LANGUAGE_LABELS[lang],
                message_templates.template_preview(getattr(template, f"title_{lang}")),
                message_templates.template_preview(getattr(template, f"text_{lang}")),
            )
            for lang in message_templates.TEMPLATE_LANGUAGES
        ],
    }
    return TemplateResponse(request, "admin/publisher/message/template_start.html", context)


def template_initial(request: HttpRequest) -> dict[str, str] | None:
    """The compose form's starting values after a template was filled (taken once)."""
    if "template" not in request.GET:
        return None
    data = request.session.pop(SESSION_KEY, None)
    if not isinstance(data, dict) or str(data.get("template")) != request.GET["template"]:
        return None
    return {key: str(data.get(key, "")) for key in ("title", "text_fr", "text_nl")}


def templates_for_compose(request: HttpRequest) -> list[tuple[int, str]]:
    """The templates offered on an empty compose page, named in the reader's language."""
    language = (get_language() or Language.FR)[:2]
    return [(t.pk, t.name_for(language)) for t in message_templates.templates_offered()]
