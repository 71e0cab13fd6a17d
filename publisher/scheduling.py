"""Scheduling seam: turns an approved message into occurrences and deliveries.

The dispatch engine fills this in; until then an approved message stays approved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accounts.models import User
    from publisher.models import Message


def message_schedule(*, message: Message, actor: User | None) -> None:
    """Create the message's occurrences and deliveries (called inside the approval transaction)."""


def message_unschedule(*, message: Message, actor: User | None) -> None:
    """Cancel the message's pending deliveries (called inside the caller's transaction)."""
