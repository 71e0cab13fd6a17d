"""`Authorization: Bearer <token>` for machines; the session for people using the browsable API."""

from __future__ import annotations

from typing import Any, NoReturn

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken, User
from accounts.tokens import api_token_authenticate
from publisher.api.throttling import token_failure_record


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            self._refuse(request, _("The Authorization header must be “Bearer <token>”."))
        try:
            plaintext = header[1].decode("ascii")
        except UnicodeDecodeError:
            self._refuse(request, _("This token is not valid."))
        token = api_token_authenticate(plaintext)
        if token is None:
            # One answer for unknown, revoked and expired tokens: a guesser learns nothing.
            self._refuse(request, _("This token is not valid, has expired or was revoked."))
        return token.user, token

    def _refuse(self, request: Request, detail: Any) -> NoReturn:
        """401, or 429 once the address has spent its budget of failed attempts."""
        wait = token_failure_record(request)
        if wait is not None:
            raise exceptions.Throttled(wait, detail=str(_("Too many failed token attempts from this address.")))
        raise exceptions.AuthenticationFailed(detail)

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "publisher.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token created in the admin or with `manage.py create_api_token`.",
        }
