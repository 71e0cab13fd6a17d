"""Writes on the objects administrators and authors keep for reuse: saved segments and channels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.models import User
from publisher.channels import netpolicy, registry
from publisher.channels.secrets import secret_ref_problem
from publisher.errors import ValidationError
from publisher.models import Channel, Language, Message, Municipality, Segment
from publisher.territory import selectors
from publisher.workflow import services
from publisher.workflow.services import audit_record


def _municipalities(codes: Iterable[str], field: str) -> list[Municipality]:
    wanted = list(dict.fromkeys(str(c) for c in codes))
    found = {m.pk: m for m in Municipality.objects.filter(pk__in=wanted)}
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise ValidationError({field: _("Unknown municipalities: %(codes)s.") % {"codes": ", ".join(unknown)}})
    return [found[c] for c in wanted]


def _check_segment(*, name_fr: str, name_nl: str) -> None:
    errors: dict[str, str] = {}
    if not name_fr.strip():
        errors["name_fr"] = _("Give the segment a French name.")
    if not name_nl.strip():
        errors["name_nl"] = _("Give the segment a Dutch name.")
    if errors:
        raise ValidationError(errors)


def segment_create(*, actor: User, name_fr: str, name_nl: str, municipalities: Iterable[str]) -> Segment:
    _check_segment(name_fr=name_fr, name_nl=name_nl)
    members = _municipalities(municipalities, "municipalities")
    if not members:
        raise ValidationError({"municipalities": _("A segment needs at least one municipality.")})
    with transaction.atomic():
        segment = Segment.objects.create(name_fr=name_fr.strip(), name_nl=name_nl.strip(), created_by=actor)
        segment.municipalities.set(members)
        audit_record(
            actor=actor, verb="segment.created", obj=segment, summary={"municipalities": [m.pk for m in members]}
        )
    return segment


def segment_update(
    *, segment: Segment, actor: User, name_fr: str, name_nl: str, municipalities: Iterable[str]
) -> Segment:
    """Rename a segment or change its municipalities (messages keep pointing at it).

    An approval binds the audience it saw, so changing the members of a segment that
    messages use is a change to those messages' audience (services.messages_audience_changed):
    a submitted, approved or scheduled message whose resolved audience changes returns to
    draft, its approval void and its pending deliveries cancelled, and its author is told by
    email after commit; the segment's editor counts as having changed it (so may not approve
    it); each message's audit trail records what was added and removed. A message already
    going out keeps the audience its approval bound. Renaming alone changes no message.
    """
    _check_segment(name_fr=name_fr, name_nl=name_nl)
    members = _municipalities(municipalities, "municipalities")
    if not members:
        raise ValidationError({"municipalities": _("A segment needs at least one municipality.")})
    with transaction.atomic():
        segment = Segment.objects.select_for_update().get(pk=segment.pk)
        users = list(
            Message.objects.select_for_update()
            .filter(pk__in=Message.audience_segments.through.objects.filter(segment=segment).values("message_id"))
            .filter(Q(state__in=services.EDITABLE_STATES) | (Q(state__in=services.LIVE_STATES) & ~Q(recurrence="")))
            .order_by("pk")
        )
        before = {message.pk: selectors.audience_nis_codes(message) for message in users}
        old_members = set(segment.municipalities.values_list("pk", flat=True))
        segment.name_fr, segment.name_nl = name_fr.strip(), name_nl.strip()
        segment.save(update_fields=["name_fr", "name_nl"])
        segment.municipalities.set(members)
        summary: dict[str, Any] = {"municipalities": [m.pk for m in members]}
        if old_members != {m.pk for m in members}:
            summary.update(
                services.messages_audience_changed(messages=users, before=before, actor=actor, segment=segment)
            )
        audit_record(actor=actor, verb="segment.updated", obj=segment, summary=summary)
    return segment


def _check_channel(*, kind: str | None, language: str | None, name: str | None) -> None:
    errors: dict[str, str] = {}
    if kind is not None and kind not in registry.kinds():
        errors["kind"] = _("Unknown channel kind “%(kind)s”: use one of %(kinds)s.") % {
            "kind": kind,
            "kinds": ", ".join(registry.kinds()),
        }
    if language is not None and language not in Language.values:
        errors["language"] = _("Unknown language “%(language)s”: use fr, nl or de.") % {"language": language}
    if name is not None and not name.strip():
        errors["name"] = _("Give the channel a name.")
    if errors:
        raise ValidationError(errors)


def channel_connection_check(*, kind: str, config: Mapping[str, Any] | None, secret_ref: str | None) -> None:
    """The channel's secret reference and where it connects, against the outgoing-request
    policy (netpolicy.py); a ValidationError names the field ("config.base_url"). Resolves
    host names: call it before any transaction. The admin form calls it to show the errors
    at their field; channel_create and channel_update call it again."""
    errors: dict[str, str] = {}
    if secret_ref is not None:
        problem = secret_ref_problem(secret_ref.strip())
        if problem:
            errors["secret_ref"] = problem
    adapter = registry.adapter_classes().get(kind)
    if adapter is not None and isinstance(config, Mapping):
        for field in adapter.url_fields:
            if config.get(field) not in (None, ""):
                problem = netpolicy.url_problem(config[field])
                if problem:
                    errors[f"config.{field}"] = problem
        for field, default in adapter.host_fields.items():
            # Where the adapter connects without the key (its default host) is checked too.
            host = config.get(field, default)
            problem = netpolicy.host_problem(host, 0) if isinstance(host, str) else _("Give a host name.")
            if problem:
                errors[f"config.{field}"] = problem
    if errors:
        raise ValidationError(errors)


def channel_create(
    *,
    actor: User,
    name: str,
    kind: str,
    language: str,
    covers_all: bool = False,
    municipalities: Iterable[str] = (),
    enabled: bool = True,
    config: Mapping[str, Any] | None = None,
    secret_ref: str = "",
) -> Channel:
    _check_channel(kind=kind, language=language, name=name)
    channel_connection_check(kind=kind, config=config or {}, secret_ref=secret_ref)
    coverage = _municipalities(municipalities, "municipalities")
    with transaction.atomic():
        channel = Channel.objects.create(
            name=name.strip(),
            kind=kind,
            language=language,
            covers_all=covers_all,
            enabled=enabled,
            config=dict(config or {}),
            secret_ref=secret_ref.strip(),
        )
        channel.municipalities.set(coverage)
        audit_record(
            actor=actor,
            verb="channel.created",
            obj=channel,
            summary={"kind": kind, "language": language, "covers_all": covers_all, "coverage": len(coverage)},
        )
    return channel


def channel_update(
    *,
    channel: Channel,
    actor: User,
    name: str | None = None,
    kind: str | None = None,
    language: str | None = None,
    covers_all: bool | None = None,
    municipalities: Iterable[str] | None = None,
    enabled: bool | None = None,
    config: Mapping[str, Any] | None = None,
    secret_ref: str | None = None,
) -> Channel:
    _check_channel(kind=kind, language=language, name=name)
    if kind is not None or config is not None or secret_ref is not None:
        # A new kind reads the stored config differently: check the pair as it will be.
        channel_connection_check(
            kind=kind if kind is not None else channel.kind,
            config=config if config is not None else channel.config,
            secret_ref=secret_ref,
        )
    coverage = _municipalities(municipalities, "municipalities") if municipalities is not None else None
    changes = {
        k: v
        for k, v in {
            "name": name.strip() if name is not None else None,
            "kind": kind,
            "language": language,
            "covers_all": covers_all,
            "enabled": enabled,
            "config": dict(config) if config is not None else None,
            "secret_ref": secret_ref.strip() if secret_ref is not None else None,
        }.items()
        if v is not None
    }
    with transaction.atomic():
        channel = Channel.objects.select_for_update().get(pk=channel.pk)
        for key, value in changes.items():
            setattr(channel, key, value)
        channel.save()
        if coverage is not None:
            channel.municipalities.set(coverage)
        # Never the secret reference's value in the audit trail: only that it changed.
        audit_record(
            actor=actor,
            verb="channel.updated",
            obj=channel,
            summary={"changed": sorted([*changes, *(["municipalities"] if coverage is not None else [])])},
        )
    return channel
