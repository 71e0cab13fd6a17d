import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from publisher.delivery.engagement import engagement_collect
from publisher.delivery.inbox import inbox_fetch_due, inbox_replies_due, inbox_reply_send
from publisher.workflow.inbox import inbox_prune


class Command(BaseCommand):
    help = (
        "Read new replies and mentions of every channel whose network allows it (from each channel's "
        "cursor, honouring rate limits), send answers whose retry time came, read the figures of posts "
        "at their checkpoints (1 h, 6 h, 24 h, 7 d after sending), and delete inbox items older than "
        "TANDEM_INBOX_RETENTION_DAYS. Once, or every N seconds with --every."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0.0, help="run again every N seconds (0: once)")

    def handle(self, *args: Any, **options: Any) -> None:
        every = options["every"]
        if every < 0:
            raise CommandError(_("--every must be 0 or more seconds."))
        while True:
            self.pass_once()
            if not every:
                return
            time.sleep(every)

    def pass_once(self) -> None:
        for result in inbox_fetch_due():
            if result.error:
                self.stderr.write(_("Channel %(id)s: %(error)s") % {"id": result.channel_id, "error": result.error})
            elif result.stored:
                self.stdout.write(
                    _("Channel %(id)s: %(count)s new items.") % {"id": result.channel_id, "count": result.stored}
                )
        for reply_id in inbox_replies_due():
            inbox_reply_send(reply_id=reply_id)
        engagement_collect()
        if settings.TANDEM_INBOX_RETENTION_DAYS:
            inbox_prune(days=settings.TANDEM_INBOX_RETENTION_DAYS)
