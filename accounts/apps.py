from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    # Two configs live here: this one is what "accounts" in INSTALLED_APPS means.
    default = True
    name = "accounts"
    verbose_name = _("Accounts")


class SignInAttemptsConfig(AxesAppConfig):
    """django-axes under a heading that says what it holds, in the user's language."""

    verbose_name = _("Sign-in attempts and lockouts")
