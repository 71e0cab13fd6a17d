from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.apps import DefaultConfig as OtpStaticConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as OtpTotpConfig


class AccountsConfig(AppConfig):
    # Several configs live here: this one is what "accounts" in INSTALLED_APPS means.
    default = True
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        # Imported here: this module loads before the models can (Django's app loading).
        from accounts.display import third_party_names_translate

        third_party_names_translate()


class SignInAttemptsConfig(AxesAppConfig):
    """django-axes under a heading that says what it holds, in the user's language."""

    verbose_name = _("Sign-in attempts and lockouts")


class AuthenticatorAppsConfig(OtpTotpConfig):
    """django-otp's TOTP devices (their permissions are listed by app) under a translated name."""

    verbose_name = _("Second factor: authenticator apps")


class RecoveryCodesConfig(OtpStaticConfig):
    verbose_name = _("Second factor: recovery codes")
