"""Channel secrets, read from the environment at the moment they are needed.

`Channel.secret_ref` names an environment variable holding the secret (a token, an app
password, a `whsec_` key). Adapters needing several values use it as a prefix:
``<ref>_PASSWORD``, ``<ref>_USERNAME``. The database never holds a secret; nothing here
logs or returns it inside an error message.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from publisher.channels.base import AuthError

if TYPE_CHECKING:
    from publisher.models import Channel

_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class MissingSecret(AuthError):
    """The channel's secret is not configured: the channel needs (re)connecting."""


def channel_secret(channel: Channel, part: str = "", *, required: bool = True) -> str:
    """The secret `secret_ref` (or `secret_ref_PART`) names; raises MissingSecret if unset."""
    ref = channel.secret_ref.strip()
    name = f"{ref}_{part.upper()}" if part else ref
    if not ref or not _NAME.match(name):
        if not required:
            return ""
        raise MissingSecret(f"Channel {channel.pk} has no usable secret reference.")
    value = os.environ.get(name, "")
    if not value and required:
        # The variable's name is not secret; its value is.
        raise MissingSecret(f"The environment variable {name} is not set.")
    return value


def redact(text: str, *secrets: str) -> str:
    """`text` with every secret replaced, for messages that quote URLs or server answers."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text
