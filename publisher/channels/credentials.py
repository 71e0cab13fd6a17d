"""The credential store: each channel's secrets, encrypted at rest.

The secrets of a channel (tokens, app-password sessions, a `whsec_` key, an SMTP password)
are one JSON object, encrypted with Fernet under the keys of ``TANDEM_ENCRYPTION_KEYS``
(newest first): MultiFernet encrypts with the newest and decrypts with any, so a new key is
added in front, ``manage.py credentials_reencrypt`` moves every row to it, then the old key
can go. Under DEBUG without keys, settings derive one from SECRET_KEY.

Nothing here logs, audits or raises a secret: audit entries get the flow, the account label
and the expiry only; an undecryptable row raises CredentialUnreadable naming the channel.

Writes are services (`credential_save`, `credential_refreshed`, `credential_delete`); they
open their own short transaction and never call a network. Reads: `credential_get` (the
decrypted Credential or None) and `credential_read` (just the secrets, {} if none).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from publisher.audit import audit_record
from publisher.channels.base import AuthError, Credential
from publisher.models import Channel, ChannelCredential

if TYPE_CHECKING:
    from accounts.models import User


class CredentialUnreadable(AuthError):
    """No configured key decrypts the stored credential (a key was removed too early):
    the channel needs connecting again."""


@cache
def _fernet() -> MultiFernet:
    keys = [key.strip() for key in settings.TANDEM_ENCRYPTION_KEYS if key.strip()]
    if not keys:
        raise ImproperlyConfigured("TANDEM_ENCRYPTION_KEYS is empty: channel credentials cannot be encrypted.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        # The message names the position, never the key.
        raise ImproperlyConfigured(
            "TANDEM_ENCRYPTION_KEYS: every key must be 32 url-safe base64-encoded bytes (Fernet.generate_key())."
        ) from exc


@receiver(setting_changed)
def _keys_changed(*, setting: str, **kwargs: object) -> None:
    # Cache invalidation for override_settings (key rotation tests); decides nothing.
    if setting == "TANDEM_ENCRYPTION_KEYS":
        _fernet.cache_clear()


def encrypt(secrets: Mapping[str, str]) -> str:
    return _fernet().encrypt(json.dumps(dict(secrets), sort_keys=True).encode()).decode("ascii")


def decrypt(ciphertext: str, *, channel_id: int | None = None) -> dict[str, str]:
    try:
        data = _fernet().decrypt(ciphertext.encode("ascii"))
    except InvalidToken:
        raise CredentialUnreadable(
            f"Channel {channel_id}: no key of TANDEM_ENCRYPTION_KEYS decrypts its credential; connect it again."
        ) from None
    secrets: dict[str, str] = json.loads(data)
    return secrets


def _decoded(row: ChannelCredential) -> Credential:
    return Credential(
        channel_id=row.channel_id,
        flow=row.flow,
        secrets=decrypt(row.ciphertext, channel_id=row.channel_id),
        account=row.account,
        expires_at=row.expires_at,
        refresh_expires_at=row.refresh_expires_at,
    )


def credential_row(channel: Channel) -> ChannelCredential | None:
    """The stored row, from the channel's cache when the caller selected it
    (select_related("credential"): publishing does, so adapters in pool threads never query)."""
    try:
        return channel.credential
    except ChannelCredential.DoesNotExist:
        return None


def credential_get(channel: Channel) -> Credential | None:
    """The channel's decrypted credential, or None if none is stored."""
    row = credential_row(channel)
    return _decoded(row) if row is not None else None


def credential_read(channel: Channel) -> dict[str, str]:
    """The channel's secrets ({} if none is stored). Never log or return them."""
    credential = credential_get(channel)
    return dict(credential.secrets) if credential else {}


def credential_save(
    *,
    channel: Channel,
    secrets: Mapping[str, str],
    flow: str,
    actor: User | None,
    expires_at: datetime | None = None,
    refresh_expires_at: datetime | None = None,
    account: str = "",
) -> ChannelCredential:
    """Store (or replace) a channel's credential after a person connected it. Audited with
    the flow, account and expiry, never the secrets. Resuming the channel's held deliveries
    is the caller's (workflow.connections.connection_established does both)."""
    if not secrets or not all(isinstance(k, str) and isinstance(v, str) for k, v in secrets.items()):
        raise ValueError("A credential is a non-empty mapping of strings.")
    now = timezone.now()
    with transaction.atomic():
        row, _created = ChannelCredential.objects.update_or_create(
            channel=channel,
            defaults={
                "flow": flow,
                "ciphertext": encrypt(secrets),
                "account": account[:300],
                "expires_at": expires_at,
                "refresh_expires_at": refresh_expires_at,
                "connected_at": now,
                "connected_by": actor,
                "refreshed_at": None,
                "refresh_lease_until": None,
            },
        )
        audit_record(
            actor=actor,
            actor_label="" if actor else "system",
            verb="channel.connected",
            obj=channel,
            summary={
                "flow": flow,
                "account": account[:300],
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    # The channel's cached relation now matches the row (callers keep using `channel`).
    channel.credential = row
    return row


def credential_refreshed(
    *,
    channel_id: int,
    secrets: Mapping[str, str],
    expires_at: datetime | None,
    refresh_expires_at: datetime | None = None,
) -> bool:
    """Write back what a refresh gave (no person acted: not audited, `refreshed_at` says it).
    False if the credential was deleted meanwhile (a disconnect wins over a refresh)."""
    now = timezone.now()
    fields: dict[str, object] = {
        "ciphertext": encrypt(secrets),
        "expires_at": expires_at,
        "refreshed_at": now,
        "refresh_lease_until": None,
    }
    if refresh_expires_at is not None:
        fields["refresh_expires_at"] = refresh_expires_at
    with transaction.atomic():
        return bool(ChannelCredential.objects.filter(channel_id=channel_id).update(**fields))


def credential_delete(*, channel: Channel, actor: User | None) -> bool:
    """Forget a channel's credential (audited). True if one was stored."""
    with transaction.atomic():
        row = ChannelCredential.objects.filter(channel=channel).only("pk", "flow", "account").first()
        if row is None:
            return False
        row.delete()
        audit_record(
            actor=actor,
            actor_label="" if actor else "system",
            verb="channel.disconnected",
            obj=channel,
            summary={"flow": row.flow, "account": row.account},
        )
    if hasattr(channel, "_state") and "credential" in channel._state.fields_cache:
        del channel._state.fields_cache["credential"]
    return True


def credentials_reencrypt(*, batch: int = 200) -> int:
    """Encrypt every stored credential again under the newest key (after adding a key in
    front of TANDEM_ENCRYPTION_KEYS, before removing an old one). Returns the rows rewritten;
    raises CredentialUnreadable if a row decrypts with no configured key."""
    fernet = _fernet()
    done = 0
    last = 0
    while True:
        with transaction.atomic():
            rows = list(
                ChannelCredential.objects.select_for_update()
                .filter(pk__gt=last)
                .order_by("pk")
                .only("pk", "channel_id", "ciphertext")[:batch]
            )
            if not rows:
                return done
            for row in rows:
                try:
                    row.ciphertext = fernet.rotate(row.ciphertext.encode("ascii")).decode("ascii")
                except InvalidToken:
                    raise CredentialUnreadable(
                        f"Channel {row.channel_id}: no key of TANDEM_ENCRYPTION_KEYS decrypts its credential."
                    ) from None
            ChannelCredential.objects.bulk_update(rows, ["ciphertext"])
            done += len(rows)
            last = rows[-1].pk


def credentials_due_for_refresh(*, now: datetime, margin_seconds: float, kinds: list[str]) -> list[int]:
    """Channel ids whose credential expires within the margin, of kinds that refresh, not
    being refreshed by another worker, on enabled channels not already waiting for a person."""
    horizon = now + timedelta(seconds=margin_seconds)
    return list(
        ChannelCredential.objects.filter(
            expires_at__lte=horizon,
            channel__kind__in=kinds,
            channel__enabled=True,
            channel__needs_reconnect=False,
        )
        .exclude(refresh_lease_until__gt=now)
        .order_by("expires_at")
        .values_list("channel_id", flat=True)
    )


def credential_refresh_claim(*, channel_id: int, now: datetime, lease_seconds: float) -> Credential | None:
    """Take the refresh of one channel's credential for `lease_seconds` (one worker at a
    time: a refresh token is often single-use). None if another worker holds it or it is gone."""
    until = now + timedelta(seconds=lease_seconds)
    with transaction.atomic():
        taken = (
            ChannelCredential.objects.filter(channel_id=channel_id)
            .exclude(refresh_lease_until__gt=now)
            .update(refresh_lease_until=until)
        )
        if not taken:
            return None
        row = ChannelCredential.objects.get(channel_id=channel_id)
    return _decoded(row)


def credential_refresh_release(*, channel_id: int) -> None:
    """Give a refresh claim back after a failed attempt (the next pass tries again)."""
    ChannelCredential.objects.filter(channel_id=channel_id).update(refresh_lease_until=None)
