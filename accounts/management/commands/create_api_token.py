from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from accounts.models import User
from accounts.tokens import api_token_create


def _codes(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="Username the token acts as.")
        parser.add_argument("--scopes", required=True, help="Comma-separated: read, compose, approve, alert, admin.")
        limit = parser.add_mutually_exclusive_group()
        limit.add_argument("--municipalities", default="", help="Comma-separated NIS codes the token is limited to.")
        limit.add_argument("--zones", default="", help="Comma-separated police zone codes the token is limited to.")
        parser.add_argument("--name", default="", help="Who uses the token (defaults to the user name).")
        parser.add_argument("--expires", default="", help="Expiry, ISO 8601 with offset (e.g. 2027-01-01T00:00+01:00).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.get(username=options["user"])
        except User.DoesNotExist as exc:
            raise CommandError(f"No user named {options['user']!r}.") from exc
        expires_at: datetime | None = None
        if options["expires"]:
            expires_at = parse_datetime(options["expires"])
            if expires_at is None or expires_at.tzinfo is None:
                raise CommandError("--expires must be an ISO 8601 date and time with an offset.")
        try:
            token, plaintext = api_token_create(
                user=user,
                name=options["name"] or f"{user.get_username()} (command line)",
                scopes=_codes(options["scopes"]),
                municipalities=_codes(options["municipalities"]),
                zones=_codes(options["zones"]),
                expires_at=expires_at,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        self.stderr.write(
            f"Token {token.prefix}… created for {user.get_username()} with scopes {', '.join(token.scopes)}."
        )
        self.stderr.write("Copy it now: it is shown only once.")
        self.stdout.write(plaintext)
