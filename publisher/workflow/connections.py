"""Connecting a channel's account from the admin, and disconnecting it.

Each connect checks what the person typed against the network first (network calls, outside
any transaction), then stores the credential encrypted in one short transaction
(`connection_established`), which also resumes the deliveries held while the channel waited
for reconnection. What the network answered wrongly becomes a translated ValidationError on
the field concerned; a secret is never part of a message, a log line or an audit entry.

The OAuth flows (Mastodon, X, Meta) end with `connection_established` too.
"""

from __future__ import annotations

import base64
import logging
import secrets as random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from publisher.audit import audit_record
from publisher.channels import credentials, registry
from publisher.channels.base import ChannelError, Credential
from publisher.delivery import publishing
from publisher.models import Channel, ConnectFlow

logger = logging.getLogger(__name__)


def connection_established(
    *,
    channel: Channel,
    secrets: Mapping[str, str],
    flow: str,
    actor: User | None,
    account: str = "",
    expires_at: datetime | None = None,
    refresh_expires_at: datetime | None = None,
    config: Mapping[str, Any] | None = None,
) -> Channel:
    """Store a channel's new credential (and the non-secret settings that go with it) and
    resume its held deliveries. Call it after the network accepted the credential."""
    with transaction.atomic():
        channel = Channel.objects.select_for_update().get(pk=channel.pk)
        if config:
            channel.config = {**(channel.config or {}), **config}
            channel.save(update_fields=["config", "updated_at"])
        credentials.credential_save(
            channel=channel,
            secrets=secrets,
            flow=flow,
            actor=actor,
            account=account,
            expires_at=expires_at,
            refresh_expires_at=refresh_expires_at,
        )
        if channel.needs_reconnect:
            channel = publishing.channel_reconnected(channel=channel, actor=actor)
    return channel


def channel_disconnect(*, channel: Channel, actor: User) -> str:
    """Revoke the credential at the network where it offers that, forget it, and hold the
    channel's pending deliveries (the channel waits for reconnection, with a reason saying
    who disconnected it). Returns the network's refusal of the revocation ("" if none):
    the credential is forgotten anyway."""
    channel = Channel.objects.select_related("credential").get(pk=channel.pk)
    try:
        credential = credentials.credential_get(channel)
    except ChannelError:  # undecryptable: nothing to revoke with
        credential = None
    refusal = ""
    if credential is not None:
        refusal = _revoke(channel, credential)
    reason = _("Disconnected by %(user)s on %(date)s: connect the account again to publish.") % {
        "user": actor.get_username(),
        "date": timezone.localtime().strftime("%d/%m/%Y %H:%M"),
    }
    with transaction.atomic():
        credentials.credential_delete(channel=channel, actor=actor)
        publishing.channel_reconnect_needed(channel_id=channel.pk, reason=reason, notify=False)
    return refusal


def _revoke(channel: Channel, credential: Credential) -> str:
    try:
        registry.get_adapter(channel).revoke(credential)
    except ChannelError as exc:
        logger.warning("Channel %s: the network did not revoke the credential: %s", channel.pk, exc.message)
        return exc.message
    return ""


# --- webhook: a signing secret made by Tandem -----------------------------------------


def _whsec() -> str:
    # Standard Webhooks: 24–64 random bytes, base64, prefixed whsec_.
    return "whsec_" + base64.b64encode(random.token_bytes(32)).decode("ascii")


def webhook_secret_generate(*, channel: Channel, actor: User) -> str:
    """A new signing secret for a webhook channel, replacing any other at once. Returned
    once, to be shown once: it is stored encrypted and never shown again."""
    secret = _whsec()
    connection_established(channel=channel, secrets={"secret": secret}, flow=ConnectFlow.WEBHOOK_SECRET, actor=actor)
    return secret


def webhook_secret_rotate(*, channel: Channel, actor: User, now: datetime | None = None) -> tuple[str, datetime]:
    """A new signing secret; the former one keeps signing beside it (the header carries
    both signatures) for TANDEM_WEBHOOK_ROTATION_OVERLAP_HOURS, so the receiver can switch
    without losing an event. Returns the new secret (shown once) and the end of the overlap."""
    channel = Channel.objects.select_related("credential").get(pk=channel.pk)
    current = credentials.credential_get(channel)
    now = now or timezone.now()
    until = now + timedelta(hours=settings.TANDEM_WEBHOOK_ROTATION_OVERLAP_HOURS)
    secret = _whsec()
    stored = {"secret": secret}
    if current is not None and current.secrets.get("secret"):
        stored |= {"previous": current.secrets["secret"], "previous_until": until.isoformat()}
    connection_established(channel=channel, secrets=stored, flow=ConnectFlow.WEBHOOK_SECRET, actor=actor)
    audit_record(actor=actor, verb="channel.secret_rotated", obj=channel, summary={"overlap_until": until.isoformat()})
    return secret, until
