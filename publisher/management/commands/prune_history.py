from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from publisher.workflow.retention import BATCH_SIZE, history_prune


class Command(BaseCommand):
    help = (
        "Delete finished deliveries older than N days, their attempts and emptied occurrences "
        "(TANDEM_RETENTION_DAYS unless --days is given). Messages, audit events, what the feeds show "
        "and everything still in progress stay. Safe to run again or to stop half-way."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="keep this many days (at least 1)")
        parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="deliveries per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.TANDEM_RETENTION_DAYS
        if options["days"] is None and not days:
            raise CommandError(_("Retention is off: give --days N or set TANDEM_RETENTION_DAYS."))
        if days < 1:
            raise CommandError(_("--days must be a whole number of days, 1 or more."))
        if options["batch_size"] < 1:
            raise CommandError(_("--batch-size must be 1 or more."))
        result = history_prune(days=days, dry_run=options["dry_run"], batch_size=options["batch_size"])
        values = {
            "deliveries": result.deliveries,
            "attempts": result.attempts,
            "occurrences": result.occurrences,
            "batches": result.batches,
            "cutoff": timezone.localtime(result.cutoff).strftime("%Y-%m-%d %H:%M"),
        }
        if result.dry_run:
            self.stdout.write(
                _("Would delete %(deliveries)s deliveries and %(attempts)s attempts older than %(cutoff)s.") % values
            )
        else:
            self.stdout.write(
                _(
                    "Deleted %(deliveries)s deliveries, %(attempts)s attempts and %(occurrences)s occurrences "
                    "older than %(cutoff)s in %(batches)s batches."
                )
                % values
            )
