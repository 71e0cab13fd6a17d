from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import roles_sync


class Command(BaseCommand):
    help = "Create or refresh the role groups (author, approver, channel administrator, API client)."

    def handle(self, *args: Any, **options: Any) -> None:
        groups = roles_sync()
        self.stdout.write("Roles: " + ", ".join(sorted(groups)))
