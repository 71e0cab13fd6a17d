from datetime import datetime
from typing import Any

from axes.admin import AccessAttemptAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessLog
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.fields.related import ManyToManyField
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.login_locks import (
    login_lock_release,
    login_lock_release_users,
    recent_failures_by_address,
    recent_failures_by_username,
)
from accounts.models import ApiScope, ApiToken, User
from accounts.second_factor import second_factor_reset
from accounts.tokens import api_token_create, api_token_revoke, calendar_link_revoke

# Devices change only through accounts.second_factor (audited); django-otp's own admin would also
# show TOTP keys and recovery-code digests to every administrator.
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)


class PasswordChangeForm(AdminPasswordChangeForm):
    """Django builds this help text once, at import, in English (a lazy string joined to a
    plain one): it is rebuilt per request here, both parts translated."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "usable_password" in self.fields:
            self.fields["usable_password"].help_text = format_html(
                '{}<ul id="id_unusable_warning" class="messagelist"><li class="warning">{}</li></ul>',
                _(
                    "Whether the user will be able to authenticate using a password or not. If disabled, they may "
                    "still be able to authenticate using other backends, such as Single Sign-On or LDAP."
                ),
                _("If disabled, the current password for this user will be lost."),
            )


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    change_password_form = PasswordChangeForm
    list_display = (
        "username",
        "email",
        "first_name",
        "last_name",
        "preferred_language",
        "is_staff",
        "is_active",
        "has_second_factor",
        "sign_in_locked",
    )
    actions = ("reset_second_factor", "unlock_sign_in", "revoke_calendar_links")
    list_filter = ("preferred_language", "is_staff", "is_superuser", "is_active", "groups")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Preferences"), {"fields": ("preferred_language",)}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("Preferences"), {"fields": ("email", "preferred_language", "groups")}),
    )

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

    def formfield_for_manytomany(self, db_field: ManyToManyField, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user_permissions":
            # A permission's label names its model (accounts.display.permission_label): one query, not one each.
            kwargs["queryset"] = Permission.objects.select_related("content_type")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        return (
            super()
            .get_queryset(request)
            .annotate(_has_second_factor=Exists(confirmed), _sign_in_failures=recent_failures_by_username())
        )

    @admin.display(description=_("second factor"), boolean=True)
    def has_second_factor(self, obj: User) -> bool:
        return bool(getattr(obj, "_has_second_factor", False))

    @admin.display(description=_("sign-in locked"), boolean=True)
    def sign_in_locked(self, obj: User) -> bool:
        return (getattr(obj, "_sign_in_failures", None) or 0) >= settings.AXES_FAILURE_LIMIT

    @admin.action(description=_("Reset the second factor of the selected users"), permissions=["change"])
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        done = 0
        for user in queryset:
            try:
                second_factor_reset(user=user, actor=request.user)  # type: ignore[arg-type]
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                _("Reset the second factor of %(count)d users: they set up a new one at their next sign-in.")
                % {"count": done},
                messages.SUCCESS,
            )

    @admin.action(description=_("Unlock sign-in for the selected users"), permissions=["change"])
    def unlock_sign_in(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        count = login_lock_release_users(users=queryset, actor=request.user)  # type: ignore[arg-type]
        self.message_user(request, _("Removed %(count)d failed sign-in records.") % {"count": count}, messages.SUCCESS)


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
        labels = dict(ApiScope.choices)
        return ", ".join(str(labels.get(scope, scope)) for scope in obj.scopes)

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


class RequestHeadersMixin:
    """axes stores "<unknown>" for what the request did not say: shown in words."""

    @admin.display(description=_("User Agent"))
    def browser(self, obj: Any) -> str:
        return str(_("unknown browser")) if obj.user_agent == "<unknown>" else obj.user_agent

    @admin.display(description=_("HTTP Accept"))
    def accept(self, obj: Any) -> str:
        return "—" if obj.http_accept == "<unknown>" else obj.http_accept

    @admin.display(description=_("Path"))
    def path(self, obj: Any) -> str:
        return "—" if obj.path_info == "<unknown>" else obj.path_info

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        names = {"user_agent": "browser", "http_accept": "accept", "path_info": "path"}
        return [
            (title, {**options, "fields": [names.get(f, f) for f in options["fields"]]})
            for title, options in super().get_fieldsets(request, obj)  # type: ignore[misc]
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), "browser", "accept", "path"]  # type: ignore[misc]


class LockedFilter(admin.SimpleListFilter):
    title = _("locked out")
    parameter_name = "locked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        locked = Q(_user_failures__gte=settings.AXES_FAILURE_LIMIT) | Q(
            _address_failures__gte=settings.AXES_FAILURE_LIMIT
        )
        if self.value() == "yes":
            return queryset.filter(locked)
        if self.value() == "no":
            return queryset.exclude(locked)
        return queryset


@admin.register(AccessAttempt)
class SignInAttemptAdmin(RequestHeadersMixin, AccessAttemptAdmin):
    """Failed sign-ins per user name and address; the lock column and filter say what is locked out now.

    A row is one (user name, address, browser); locks count failures per user name and per address
    across rows, which axes' own per-row status does not show.
    """

    list_display = ["attempt_time", "ip_address", "username", "browser", "failures_since_start", "lock"]
    list_filter = ["attempt_time", LockedFilter]
    actions = ["unlock"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessAttempt]:
        return (
            super()
            .get_queryset(request)
            .annotate(_user_failures=recent_failures_by_username(), _address_failures=recent_failures_by_address())
        )

    @admin.display(description=_("locked out"))
    def lock(self, obj: AccessAttempt) -> str:
        limit = settings.AXES_FAILURE_LIMIT
        parts = []
        if (getattr(obj, "_user_failures", None) or 0) >= limit:
            parts.append(str(_("user name")))
        if (getattr(obj, "_address_failures", None) or 0) >= limit:
            parts.append(str(_("address")))
        return ", ".join(parts) or "—"

    @admin.action(description=_("Unlock the user names and addresses of the selected attempts"), permissions=["delete"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        count = login_lock_release(attempts=queryset, actor=request.user)  # type: ignore[arg-type]
        self.message_user(request, _("Removed %(count)d failed sign-in records.") % {"count": count}, messages.SUCCESS)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Unlock instead: it removes every attempt counted against the name and the address, audited.
        return bool(request.user.has_perm("axes.delete_accessattempt")) and obj is None

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(AccessLog)
class SignInLogAdmin(RequestHeadersMixin, AccessLogAdmin):
    """Successful sign-ins and sign-outs, with address and browser."""

    list_display = ("attempt_time", "logout_time", "ip_address", "username", "browser", "path")
    # Not by path: every sign-in goes through the same few pages.
    list_filter = ["attempt_time", "logout_time"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
