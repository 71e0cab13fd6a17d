"""OpenAPI generation: each operation says which token scope it needs."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema


class ScopedAutoSchema(AutoSchema):
    def get_description(self) -> str:  # type: ignore[override]
        description = super().get_description() or ""
        required: dict[str, tuple[str, ...]] = getattr(self.view, "required_scopes", {})
        action = getattr(self.view, "action", None) or self.method.lower()
        scopes = required.get(action) or required.get("*")
        if not scopes:
            return description
        needed = " or ".join(f"`{scope}`" for scope in scopes)
        return f"{description}\n\nToken scope: {needed}.".strip()
