from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class TandemBackend(ModelBackend):
    """The model backend, except that demo accounts only work in demo mode (DEBUG on)."""

    def user_can_authenticate(self, user: Any) -> bool:
        if getattr(user, "is_demo", False) and not settings.TANDEM_DEMO:
            return False
        return super().user_can_authenticate(user)
