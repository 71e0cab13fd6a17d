from typing import Any

from django.core.management.base import BaseCommand

from publisher.management.demo import demo_load


class Command(BaseCommand):
    help = "Create the demo users, outbox channels, a segment and a message (demo mode only; idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = demo_load()
        self.stdout.write("Demo accounts (demo mode only):")
        for login in logins:
            self.stdout.write(f"  {login.username:<12} password {login.password:<24} interface {login.language}")
