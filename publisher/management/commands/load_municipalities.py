from typing import Any

from django.core.management.base import BaseCommand

from publisher.territory.reference_data import municipalities_load


class Command(BaseCommand):
    help = "Load or refresh the 565 Belgian municipalities, police zones and provinces (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = municipalities_load()
        self.stdout.write(
            f"Reference data: {result.municipalities} municipalities, {result.zones} police zones, "
            f"{result.provinces} provinces (Statbel, CC BY 4.0)."
        )
