import signal
import time
from typing import Any

from django.core.management.base import BaseCommand

from publisher import dispatch


class Command(BaseCommand):
    help = "Run the dispatcher loop: the only process that decides when deliveries go out."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Run one pass and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("Dispatcher started.")
        while not stopping:
            dispatch.dispatch_once()
            if options["once"]:
                break
            time.sleep(1)
        self.stdout.write("Dispatcher stopped.")
