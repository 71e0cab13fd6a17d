"""The legal checklist an approver ticks before approving a message.

Configurable through settings.TANDEM_APPROVAL_CHECKLIST: a list of items, each a mapping
with a `key`, a `label`, and optionally `reference_if` / `reference_label` for an item that
may apply (e.g. the message shows an identifiable person) and then needs a reference
(the prosecutor's written consent). Labels may be lazy translations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from publisher.errors import ValidationError


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    # When set, the approver says whether the item applies; if it does, a reference is required.
    reference_if: str = ""
    reference_label: str = ""


DEFAULT_CHECKLIST: list[dict[str, Any]] = [
    {"key": "presumption_of_innocence", "label": gettext_lazy("The presumption of innocence is respected.")},
    {
        "key": "investigation_secrecy",
        "label": gettext_lazy("Nothing in the message is covered by the secrecy of the investigation."),
    },
    {
        "key": "portrait_consent",
        "label": gettext_lazy("An identifiable person's portrait appears only with the prosecutor's written consent."),
        "reference_if": gettext_lazy("The message shows an identifiable person's portrait."),
        "reference_label": gettext_lazy("Reference of the prosecutor's written consent"),
    },
    {"key": "official_tone", "label": gettext_lazy("The tone is fit for an official voice.")},
]


def checklist_items() -> list[ChecklistItem]:
    configured = getattr(settings, "TANDEM_APPROVAL_CHECKLIST", None)
    raw = configured if configured is not None else DEFAULT_CHECKLIST
    return [
        ChecklistItem(
            key=str(item["key"]),
            label=str(item["label"]),
            reference_if=str(item.get("reference_if", "")),
            reference_label=str(item.get("reference_label", "")),
        )
        for item in raw
    ]


def checklist_validate(answers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check that every item is ticked (and referenced where it applies).

    `answers` maps each item key to True, plus `<key>_applies` (bool) and `<key>_reference`
    (text) for items with a reference. Returns what the audit trail keeps.
    """
    answers = answers or {}
    errors: dict[str, str] = {}
    record: dict[str, Any] = {}
    for item in checklist_items():
        if answers.get(item.key) is not True:
            errors[item.key] = _("Tick this item before approving: “%(item)s”") % {"item": item.label}
            continue
        entry: dict[str, Any] = {"ticked": True, "label": item.label}
        if item.reference_if:
            applies = answers.get(f"{item.key}_applies") is True
            reference = str(answers.get(f"{item.key}_reference") or "").strip()
            if applies and not reference:
                errors[f"{item.key}_reference"] = _("Enter the reference: %(what)s.") % {
                    "what": item.reference_label.lower()
                }
            entry["applies"] = applies
            entry["reference"] = reference if applies else ""
        record[item.key] = entry
    if errors:
        raise ValidationError(errors)
    return record


def checklist_all_ticked(**references: str) -> dict[str, Any]:
    """A complete answer (for callers and tests): every item ticked; pass key=reference where it applies."""
    answers: dict[str, Any] = {}
    for item in checklist_items():
        answers[item.key] = True
        if item.reference_if and item.key in references:
            answers[f"{item.key}_applies"] = True
            answers[f"{item.key}_reference"] = references[item.key]
    return answers
