from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import User


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
