"""Domain errors. Messages are translatable; field errors use Django's ValidationError."""

from django.core.exceptions import PermissionDenied, ValidationError

__all__ = ["InvalidTransition", "NotAllowed", "ValidationError"]


class NotAllowed(PermissionDenied):
    """The actor may not do this (e.g. approve their own message)."""


class InvalidTransition(ValidationError):
    """The message is not in a state that allows this action."""
