from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from publisher.workflow.inbox import inbox_prune


class Command(BaseCommand):
    help = "Delete inbox items (replies and mentions: personal data) fetched more than N days ago."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="keep this many days (TANDEM_INBOX_RETENTION_DAYS)")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.TANDEM_INBOX_RETENTION_DAYS
        if days < 1:
            raise CommandError(_("--days must be a whole number of days, 1 or more."))
        result = inbox_prune(days=days)
        self.stdout.write(
            _("Deleted %(items)s inbox items and %(replies)s answers fetched before %(cutoff)s.")
            % {
                "items": result.items,
                "replies": result.replies,
                "cutoff": timezone.localtime(result.cutoff).strftime("%Y-%m-%d %H:%M"),
            }
        )
