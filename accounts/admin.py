from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiScope, ApiToken, User
from accounts.tokens import api_token_create, api_token_revoke, calendar_link_revoke


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "preferred_language", "is_staff", "is_active")
    list_filter = ("preferred_language", "is_staff", "is_superuser", "is_active", "groups")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Preferences"), {"fields": ("preferred_language",)}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("Preferences"), {"fields": ("email", "preferred_language", "groups")}),
    )
    actions = ("revoke_calendar_links",)

    @admin.action(description=_("Revoke the calendar links of the selected users"), permissions=["change"])
    def revoke_calendar_links(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        # Each user makes a new link from the calendar page: an administrator never sees one.
        for user in queryset:
            calendar_link_revoke(user=user, actor=request.user)  # type: ignore[arg-type]
        self.message_user(
            request,
            _("Revoked the calendar links of %(count)d users.") % {"count": len(queryset)},
            messages.SUCCESS,
        )


class ApiTokenCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"), choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple, required=True
    )

    class Meta:
        model = ApiToken
        fields = ("user", "name", "scopes", "municipalities", "zones", "expires_at")

    def clean_expires_at(self) -> datetime | None:
        value: datetime | None = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(_("The expiry date is in the past."))
        return value


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created and revoked through accounts.tokens; nothing else about one changes."""

    list_display = ("name", "user", "prefix", "scope_list", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    actions = ("revoke",)
    readonly_fields = (
        "user",
        "name",
        "prefix",
        "scope_list",
        "municipalities",
        "zones",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "created_at",
    )
    fields = readonly_fields
    autocomplete_fields = ()
    filter_horizontal = ("municipalities", "zones")

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: ApiToken) -> str:
        return ", ".join(obj.scopes)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiTokenCreateForm
            kwargs["fields"] = ApiTokenCreateForm.Meta.fields
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields if obj is not None else ApiTokenCreateForm.Meta.fields

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            return
        data = form.cleaned_data
        token, plaintext = api_token_create(
            user=data["user"],
            name=data["name"],
            scopes=data["scopes"],
            municipalities=[m.pk for m in data["municipalities"]],
            zones=[z.pk for z in data["zones"]],
            expires_at=data["expires_at"],
            actor=request.user,  # type: ignore[arg-type]
        )
        obj.pk = token.pk
        obj.prefix = token.prefix
        request._tandem_token_plaintext = plaintext  # type: ignore[attr-defined]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # api_token_create already stored the limits; the form must not write them a second time.
        return

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "token": obj,
            "plaintext": getattr(request, "_tandem_token_plaintext", ""),
            "list_url": reverse("admin:accounts_apitoken_changelist"),
            "opts": self.model._meta,
            "title": _("API token created"),
        }
        response = TemplateResponse(request, "admin/accounts/apitoken/created.html", context)
        # The page holds a secret: no cache may keep it.
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            api_token_revoke(token=token, actor=request.user)  # type: ignore[arg-type]
        self.message_user(request, _("Revoked %(count)d tokens.") % {"count": len(queryset)}, messages.SUCCESS)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoke instead: the audit trail refers to tokens by prefix.
        return False
