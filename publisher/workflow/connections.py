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
from publisher.channels.base import AuthError, ChannelError, Credential
from publisher.channels.bluesky import BlueskyAdapter
from publisher.channels.email import EmailAdapter
from publisher.channels.telegram import TelegramAdapter
from publisher.delivery import publishing
from publisher.errors import ValidationError
from publisher.models import Channel, ConnectFlow
from publisher.workflow.catalogue import channel_connection_check

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
        return exc.reader_text()
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


# --- Bluesky: handle + app password → a session --------------------------------------

SMTP_SECURITY = ("none", "starttls", "ssl")


def _kind(channel: Channel, kind: str) -> None:
    if channel.kind != kind:
        raise ValidationError(
            _("%(channel)s is a %(kind)s channel: this connection is for another network.")
            % {"channel": channel.name, "kind": channel.kind}
        )


def _config_checked(channel: Channel, config: Mapping[str, Any]) -> Channel:
    """The channel with `config` merged in memory (not saved), where the outgoing-request
    policy allows it to connect (a ValidationError names the field otherwise)."""
    merged = {**(channel.config or {}), **config}
    channel_connection_check(kind=channel.kind, config=merged, secret_ref=None)
    return Channel(pk=channel.pk, kind=channel.kind, name=channel.name, config=merged)


def _unreachable(exc: ChannelError) -> ValidationError:
    return ValidationError(
        _("The server did not answer as expected; try again later (%(error)s).") % {"error": exc.reader_text()}
    )


def bluesky_connect(*, channel: Channel, handle: str, app_password: str, actor: User, pds_url: str = "") -> Channel:
    """Log in at the PDS with the handle and an app password (never the account password:
    Bluesky → Settings → App passwords) and store the session it answers (access + refresh
    JWT). The password itself is not stored: renewing the session needs only the refresh JWT."""
    _kind(channel, "bluesky")
    handle = handle.strip().lstrip("@")
    errors = {}
    if not handle:
        errors["handle"] = _("Give the account's handle, e.g. politie.brussel.bsky.social.")
    if not app_password.strip():
        errors["app_password"] = _("Give an app password made for Tandem in the account's settings.")
    if errors:
        raise ValidationError(errors)
    config: dict[str, Any] = {"identifier": handle}
    if pds_url.strip():
        config["pds_url"] = pds_url.strip().rstrip("/")
    probe = _config_checked(channel, config)
    adapter = BlueskyAdapter(probe)
    try:
        session, account = adapter.session_open(handle, app_password.strip())
    except AuthError as exc:
        raise ValidationError(
            {
                "app_password": _("Bluesky refused this handle and app password (%(error)s).")
                % {"error": exc.reader_text()}
            }
        ) from None
    except ChannelError as exc:
        raise _unreachable(exc) from None
    return connection_established(
        channel=channel,
        secrets=session.secrets,
        flow=ConnectFlow.APP_PASSWORD,
        actor=actor,
        account=f"@{account}",
        expires_at=session.expires_at,
        refresh_expires_at=session.refresh_expires_at,
        config=config,
    )


# --- Telegram: bot token + chat, checked before saving ----------------------------------


def telegram_connect(*, channel: Channel, bot_token: str, chat_id: str, actor: User) -> Channel:
    """Check with Telegram that the token is a bot's, that the chat exists and that the bot
    may post there (an administrator of a channel with the right to post), then store it."""
    _kind(channel, "telegram")
    bot_token, chat_id = bot_token.strip(), chat_id.strip()
    errors = {}
    if not bot_token:
        errors["bot_token"] = _("Give the bot's token (from @BotFather).")
    if not chat_id:
        errors["chat_id"] = _("Give the channel's @name or its numeric id.")
    if errors:
        raise ValidationError(errors)
    probe = _config_checked(channel, {"chat_id": chat_id})
    try:
        found = TelegramAdapter(probe).bot_check(bot_token, chat_id)
    except AuthError as exc:
        raise ValidationError(
            {"bot_token": _("Telegram refused this bot token (%(error)s).") % {"error": exc.reader_text()}}
        ) from None
    except ChannelError as exc:
        if exc.status == 400:
            raise ValidationError(
                {
                    "chat_id": _("Telegram does not know this chat for this bot (%(error)s).")
                    % {"error": exc.reader_text()}
                }
            ) from None
        raise _unreachable(exc) from None
    if not found.may_post:
        raise ValidationError(
            {
                "chat_id": _(
                    "The bot @%(bot)s is not an administrator allowed to post in “%(chat)s” (its status there: "
                    "%(status)s). Add it as an administrator with the right to post messages, then connect again."
                )
                % {"bot": found.bot_username, "chat": found.chat_title, "status": found.member_status}
            }
        )
    config = {"chat_id": chat_id}
    if found.chat_username:
        config["chat_username"] = found.chat_username
    return connection_established(
        channel=channel,
        secrets={"secret": bot_token},
        flow=ConnectFlow.BOT_TOKEN,
        actor=actor,
        account=f"@{found.bot_username} → {found.chat_title}",
        config=config,
    )


# --- Email: an SMTP account, checked with a test connection ---------------------------------


def smtp_connect(
    *,
    channel: Channel,
    host: str,
    port: int,
    security: str,
    username: str,
    password: str,
    actor: User,
) -> Channel:
    """Connect, secure and sign in to the SMTP server as a send would (nothing is sent),
    then store the password encrypted and the rest in the channel's settings."""
    _kind(channel, "email")
    host, username = host.strip(), username.strip()
    errors = {}
    if not host:
        errors["host"] = _("Give the SMTP server's host name.")
    if not 0 < port < 65536:
        errors["port"] = _("Give a port between 1 and 65535 (587 for STARTTLS, 465 for TLS).")
    if security not in SMTP_SECURITY:
        errors["security"] = _("Choose none, STARTTLS or TLS.")
    if username and not password:
        errors["password"] = _("Give the password of this SMTP user.")
    if errors:
        raise ValidationError(errors)
    config = {"host": host, "port": port, "security": security, "username": username}
    probe = _config_checked(channel, config)
    try:
        EmailAdapter(probe).login_check(host=host, port=port, security=security, username=username, password=password)
    except AuthError as exc:
        raise ValidationError(
            {
                "password": _("The SMTP server refused this user and password (%(error)s).")
                % {"error": exc.reader_text()}
            }
        ) from None
    except ChannelError as exc:
        raise ValidationError(
            {"host": _("Could not connect to this SMTP server (%(error)s).") % {"error": exc.reader_text()}}
        ) from None
    return connection_established(
        channel=channel,
        # A server without sign-in still gets a row: the channel then says it is connected.
        secrets={"secret": password, "username": username},
        flow=ConnectFlow.SMTP,
        actor=actor,
        account=f"{username}@{host}:{port}" if username else f"{host}:{port}",
        config=config,
    )
