"""API tokens: creation, revocation, authentication and the area a token may target; and
the secret of each user's calendar feed link.

A token reads `tdm_<prefix>_<secret>`. Only the prefix is stored in clear (to find the row
and recognise the token in lists); the whole token is stored as a sha256 digest, compared
in constant time. The plaintext exists once, in the return value of api_token_create.

A calendar link's secret is stored only as its sha256 digest and looked up by it: the
plaintext exists once, in the return value of calendar_link_create.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import account_audit
from accounts.models import ApiScope, ApiToken, User, new_calendar_token

if TYPE_CHECKING:
    from publisher.workflow.services import Audience

TOKEN_PREFIX = "tdm_"  # noqa: S105 - a public marker, not a secret
# Writing last_used_at on every request would add a write to every alert; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _audit(*, actor: User | None, verb: str, token: ApiToken, summary: dict[str, object]) -> None:
    _record(actor=actor, verb=verb, obj=token, summary={"prefix": token.prefix, **summary})


def _record(*, actor: User | None, verb: str, obj: ApiToken | User, summary: dict[str, object]) -> None:
    # Through the recorder publisher registers (accounts/audit.py): accounts never imports publisher's trail.
    account_audit(actor=actor, verb=verb, obj=obj, summary=summary)


def api_token_create(
    *,
    user: User,
    name: str,
    scopes: Iterable[str],
    municipalities: Iterable[str] = (),
    zones: Iterable[str] = (),
    expires_at: datetime | None = None,
    actor: User | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns it with its plaintext, which is never stored and cannot be shown again."""
    from publisher.models import Municipality, PoliceZone

    scopes = list(dict.fromkeys(scopes))
    errors: dict[str, str] = {}
    unknown_scopes = [s for s in scopes if s not in ApiScope.values]
    if not scopes:
        errors["scopes"] = _("Give the token at least one scope.")
    elif unknown_scopes:
        errors["scopes"] = _("Unknown scopes: %(scopes)s. Use %(known)s.") % {
            "scopes": ", ".join(unknown_scopes),
            "known": ", ".join(ApiScope.values),
        }
    if not name.strip():
        errors["name"] = _("Give the token a name that says who uses it.")
    nis = list(dict.fromkeys(str(m) for m in municipalities))
    found_nis = list(Municipality.objects.filter(pk__in=nis))
    if len(found_nis) != len(nis):
        known = {m.pk for m in found_nis}
        errors["municipalities"] = _("Unknown municipalities: %(codes)s.") % {
            "codes": ", ".join(n for n in nis if n not in known)
        }
    codes = list(dict.fromkeys(str(z) for z in zones))
    found_zones = list(PoliceZone.objects.filter(pk__in=codes))
    if len(found_zones) != len(codes):
        known = {z.pk for z in found_zones}
        errors["zones"] = _("Unknown police zones: %(codes)s.") % {
            "codes": ", ".join(c for c in codes if c not in known)
        }
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = _("The expiry date is in the past.")
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        while True:
            prefix = secrets.token_hex(4)
            if not ApiToken.objects.filter(prefix=prefix).exists():
                break
        plaintext = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        token = ApiToken.objects.create(
            user=user,
            name=name.strip(),
            prefix=prefix,
            key_hash=_digest(plaintext),
            scopes=scopes,
            expires_at=expires_at,
        )
        token.municipalities.set(found_nis)
        token.zones.set(found_zones)
        _audit(
            actor=actor,
            verb="api_token.created",
            token=token,
            summary={"user": user.get_username(), "scopes": scopes, "municipalities": nis, "zones": codes},
        )
    return token, plaintext


def api_token_revoke(*, token: ApiToken, actor: User | None = None) -> ApiToken:
    """Revoke a token at once; revoking twice keeps the first date."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            _audit(actor=actor, verb="api_token.revoked", token=token, summary={})
    return token


def api_token_authenticate(plaintext: str) -> ApiToken | None:
    """The live token for this plaintext, or None (unknown, wrong secret, revoked, expired, user inactive)."""
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    prefix, sep, _secret = plaintext[len(TOKEN_PREFIX) :].partition("_")
    if not sep or not prefix:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.key_hash, _digest(plaintext)):
        return None
    now = timezone.now()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    if not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def calendar_link_create(*, user: User, actor: User | None = None) -> str:
    """A new secret for the user's calendar feed link, replacing (and so revoking) the previous one.
    Returns the plaintext, which is never stored and cannot be shown again."""
    plaintext = new_calendar_token()
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(calendar_token_hash=_digest(plaintext))
        user.calendar_token_hash = _digest(plaintext)
        _record(actor=actor, verb="calendar_link.created", obj=user, summary={"user": user.get_username()})
    return plaintext


def calendar_link_revoke(*, user: User, actor: User | None = None) -> None:
    """The user's calendar link stops working at once; they can create a new one."""
    with transaction.atomic():
        if User.objects.filter(pk=user.pk).exclude(calendar_token_hash=None).update(calendar_token_hash=None):
            _record(actor=actor, verb="calendar_link.revoked", obj=user, summary={"user": user.get_username()})
        user.calendar_token_hash = None


def calendar_link_user(plaintext: str) -> User | None:
    """The active user whose calendar link holds this secret, or None."""
    if not plaintext:
        return None
    return User.objects.filter(calendar_token_hash=_digest(plaintext), is_active=True).first()


@dataclass(frozen=True)
class TokenArea:
    """Where a limited token may act: NIS codes, or None for all of Belgium."""

    nis_codes: frozenset[str] | None

    @property
    def limited(self) -> bool:
        return self.nis_codes is not None


def api_token_area(token: ApiToken | None) -> TokenArea:
    """The municipalities a token may target: its own plus those of its zones (unlimited when both are empty)."""
    from publisher.models import Municipality

    if token is None:
        return TokenArea(None)
    cached: TokenArea | None = getattr(token, "_area", None)
    if cached is not None:
        return cached
    nis = set(token.municipalities.values_list("pk", flat=True))
    zones = list(token.zones.values_list("pk", flat=True))
    if zones:
        nis |= set(Municipality.objects.filter(police_zone__in=zones).values_list("pk", flat=True))
    area = TokenArea(frozenset(nis) if (nis or zones) else None)
    token._area = area  # type: ignore[attr-defined]
    return area


def audience_outside_area(*, area: TokenArea, audience: Audience) -> list[str]:
    """NIS codes of the audience that lie outside the area (["*"] for all of Belgium); empty when allowed.

    Unknown parts of the audience are left to the message services, which name them in a 400.
    """
    from publisher.models import Municipality, Segment

    if not area.limited:
        return []
    assert area.nis_codes is not None
    if audience.all:
        return ["*"]
    wanted = set(map(str, audience.municipalities))
    if audience.zones:
        wanted |= set(Municipality.objects.filter(police_zone__in=audience.zones).values_list("pk", flat=True))
    if audience.provinces:
        wanted |= set(Municipality.objects.filter(province__in=audience.provinces).values_list("pk", flat=True))
    if audience.segments:
        segment_ids = [s for s in audience.segments if str(s).isdigit()]
        wanted |= set(
            Segment.municipalities.through.objects.filter(segment_id__in=segment_ids).values_list(
                "municipality_id", flat=True
            )
        )
    known = set(Municipality.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    return sorted(known - area.nis_codes)
