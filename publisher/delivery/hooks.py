"""What the delivery layer asks of code it must not import: callbacks registered at start-up.

Imports point down (interfaces → workflow → delivery → channels → media / territory /
language → models; see the import-linter contracts in pyproject.toml). When delivery must
cause something owned higher up, the higher module registers a callback here from
``PublisherConfig.ready`` (publisher/apps.py), and delivery calls the slot:

- ``unapproved_expire``: the dispatcher's loop expires messages whose time came before an
  approval (the workflow owns message decisions; ``workflow.services.messages_expire_unapproved``);
- ``message_published``: a message whose last delivery went out tells its author (the
  workflow's notifications mail people; ``workflow.notifications.message_published_notify``);
- ``boosts_refresh``: a queued task reads paid promotions' status and results back from Meta
  (``workflow.boosts.boosts_refresh``); the dispatcher's loop queues it periodically;
- ``boosts_remote``: a queued task makes, starts or pauses promotions at Meta after the
  commit that decided it (``workflow.boosts.boosts_remote``), not in the web request;
- ``urgent_hand_over``: scheduling hands an urgent message's deliveries to the dispatcher
  right after the commit (``dispatch.deliveries_hand_over``; dispatch imports scheduling).

A slot nobody filled raises ImproperlyConfigured: a missed registration must not silently
stop expiring messages or slow urgent alerts down to the dispatcher's next pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured

F = TypeVar("F", bound=Callable[..., Any])


class Hook(Generic[F]):
    """One callback slot; the last registration wins (ready() may run again in tests)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._callback: F | None = None

    def register(self, callback: F) -> None:
        self._callback = callback

    @property
    def registered(self) -> bool:
        return self._callback is not None

    @property
    def call(self) -> F:
        if self._callback is None:
            raise ImproperlyConfigured(f"Nothing is registered for the delivery hook {self.name!r} (see apps.py).")
        return self._callback


unapproved_expire: Hook[Callable[..., Sequence[Any]]] = Hook("unapproved_expire")
urgent_hand_over: Hook[Callable[..., Any]] = Hook("urgent_hand_over")
message_published: Hook[Callable[..., Any]] = Hook("message_published")
boosts_refresh: Hook[Callable[..., int]] = Hook("boosts_refresh")
boosts_remote: Hook[Callable[..., Any]] = Hook("boosts_remote")


def unapproved_expire_register(callback: Callable[..., Sequence[Any]]) -> None:
    """callback(*, now: datetime) expires what is past its time unapproved."""
    unapproved_expire.register(callback)


def urgent_hand_over_register(callback: Callable[..., Any]) -> None:
    """callback(*, delivery_ids: Sequence[int], urgent: bool) claims the deliveries now if due."""
    urgent_hand_over.register(callback)


def message_published_register(callback: Callable[..., Any]) -> None:
    """callback(*, message_id: int), inside the transaction that recorded the state: what it
    sends, it sends after the commit."""
    message_published.register(callback)


def boosts_refresh_register(callback: Callable[..., int]) -> None:
    """callback() reads the promotions' status and results; returns how many it read."""
    boosts_refresh.register(callback)


def boosts_remote_register(callback: Callable[..., Any]) -> None:
    """callback(*, action: str, boost_ids: Sequence[int]) runs "create", "activate" or "pause" at Meta."""
    boosts_remote.register(callback)
