"""Encrypt every stored channel credential again under the newest key of TANDEM_ENCRYPTION_KEYS.

Key rotation: put the new key first in TANDEM_ENCRYPTION_KEYS (keep the old ones after it),
restart, run this command, then remove the old keys and restart again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from publisher.channels.base import AuthError
from publisher.channels.credentials import credentials_reencrypt


class Command(BaseCommand):
    help = "Encrypt every stored channel credential again under the newest key of TANDEM_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = credentials_reencrypt()
        except AuthError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{count} credentials encrypted under the newest key.")
