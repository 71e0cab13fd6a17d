"""Channel secrets, read at the moment they are needed: the channel's stored credential
first (connected from the admin, encrypted at rest: publisher/channels/credentials.py),
else the operator's alternative, the environment.

A stored credential's main secret is under the key "secret"; `part` names another key
("password" for part="PASSWORD").

`Channel.secret_ref` names an environment variable holding the secret (a token, an app
password, a `whsec_` key). Adapters needing several values use it as a prefix:
``<ref>_PASSWORD``, ``<ref>_USERNAME``. Nothing here
logs or returns it inside an error message. (The database holds secrets only encrypted.)

Only variables named ``TANDEM_SECRET_…`` can be referenced: a channel is configured by
administrators through the API and the admin, and the adapters send the secret to the
channel's own server, so any other name (SECRET_KEY, DATABASE_URL, REDIS_URL, ...) would
hand the service's own secrets to whoever sets up a channel. The catalogue services refuse
such a reference at save; `channel_secret` refuses it again at read time, for rows stored
before the rule.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import gettext as _

from publisher.channels.base import AuthError
from publisher.channels.credentials import credential_get

if TYPE_CHECKING:
    from publisher.models import Channel

SECRET_PREFIX = "TANDEM_SECRET_"  # noqa: S105 - a variable-name prefix, not a secret
_NAME = re.compile(r"^TANDEM_SECRET_[A-Z0-9_]*[A-Z0-9]$")
# The service's own secrets: never sent to a channel, even if a TANDEM_SECRET_ variable holds one.
_SERVICE_SECRETS = ("DATABASE_URL", "REDIS_URL")


class MissingSecret(AuthError):
    """The channel's secret is not configured: the channel needs (re)connecting."""


def secret_ref_problem(ref: str) -> str | None:
    """Why `ref` cannot be a channel's secret reference (translated), or None ("" = no secret)."""
    if ref and not _NAME.match(ref):
        return _(
            "Name an environment variable that starts with %(prefix)s, in capital letters, digits and "
            "underscores (e.g. %(prefix)sMASTODON_ELSENE)."
        ) % {"prefix": SECRET_PREFIX}
    return None


def channel_secret(channel: Channel, part: str = "", *, required: bool = True) -> str:
    """The stored credential's secret (key "secret", or `part` in lower case), else the one
    `secret_ref` (or `secret_ref_PART`) names; raises MissingSecret if unset or if the
    reference is not a TANDEM_SECRET_ name."""
    credential = credential_get(channel)
    if credential is not None:
        value = credential.secrets.get(part.lower() if part else "secret", "")
        if value or not required:
            return value
        raise MissingSecret(f"Channel {channel.pk}: its stored credential has no {part.lower() or 'secret'}.")
    ref = channel.secret_ref.strip()
    name = f"{ref}_{part.upper()}" if part else ref
    if not ref or not _NAME.match(name):
        if not required:
            return ""
        if ref:
            raise MissingSecret(
                f"Channel {channel.pk}: the secret reference must name an environment variable "
                f"starting with {SECRET_PREFIX}; reconnect the channel with such a variable."
            )
        raise MissingSecret(f"Channel {channel.pk} has no usable secret reference.")
    value = os.environ.get(name, "")
    if value and _is_service_secret(value):
        raise MissingSecret(f"The environment variable {name} holds one of the service's own secrets.")
    if not value and required:
        # The variable's name is not secret; its value is.
        raise MissingSecret(f"The environment variable {name} is not set.")
    return value


def _is_service_secret(value: str) -> bool:
    own = [settings.SECRET_KEY, *(os.environ.get(name, "") for name in _SERVICE_SECRETS)]
    return any(value == secret for secret in own if secret)


def redact(text: str, *secrets: str) -> str:
    """`text` with every secret replaced, for messages that quote URLs or server answers."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text
