import signal
from typing import Any

from django.core.management.base import BaseCommand

from publisher.delivery import dispatch


class Command(BaseCommand):
    help = "Run the dispatcher loop: the only process that decides when deliveries go out."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Run one pass and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            handled = dispatch.dispatch_once()
            self.stdout.write(f"Dispatched {handled} deliveries.")
            return
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("Dispatcher started.")
        # Supervisors (honcho, systemd, tests) read this line to know the loop is up.
        self.stdout.flush()
        dispatch.run(should_stop=lambda: stopping, log=self._log)
        self.stdout.write("Dispatcher stopped.")

    def _log(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
