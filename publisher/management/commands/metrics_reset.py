from typing import Any

from django.core.management.base import BaseCommand

from publisher import metrics


class Command(BaseCommand):
    help = (
        "Empty PROMETHEUS_MULTIPROC_DIR (the counters of the previous run). Run it once before the "
        "service's processes start, never while they run: their files would vanish under them."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        removed = metrics.multiprocess_dir_reset()
        if options["verbosity"]:
            self.stdout.write(f"Removed {removed} metrics files from {metrics.multiprocess_dir()}.")
