"""Connecting a channel by signing in at the network (OAuth 2): Mastodon, X, Facebook Pages
and Instagram professional accounts.

`oauth_start` prepares a sign-in and returns where to send the browser; `oauth_finish` takes
the network's answer at the callback. Between the two, the pending sign-in (its `state`,
the PKCE verifier, the channel, who started it) lives in the Django session of the person
who started it, for TANDEM_OAUTH_STATE_SECONDS (10 minutes), and is taken out at the first
callback that names it: a state is single-use, bound to that session and that user, and
expires. Every refusal is a translated ValidationError; nothing is stored before the
network has given a token and said whose it is (network calls first, then one
`connection_established`).

Meta answers with the list of Pages the user manages, each with its own token: they wait
(encrypted, same session, same 10 minutes) for the user to choose one
(`meta_page_choose`); the Instagram account linked to the chosen Page can be connected as
its own channel at the same time.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from publisher.channels import credentials, mastodon, meta, netpolicy, oauth, x
from publisher.channels.base import AuthError, ChannelError, Credential, PermanentError
from publisher.channels.registry import get_adapter
from publisher.errors import ValidationError
from publisher.models import Channel, ConnectFlow, OAuthApp
from publisher.workflow.catalogue import channel_create
from publisher.workflow.connections import connection_established

logger = logging.getLogger(__name__)

SESSION_KEY = "tandem_oauth"
PAGES_KEY = "tandem_oauth_pages"
# Tabs left open: more pending sign-ins than this and the oldest is forgotten.
PENDING_MAX = 5
NETWORKS = ("mastodon", "x", "facebook", "instagram")


@dataclass(frozen=True)
class Finished:
    """A callback's outcome: the channel connected, or (Meta) Pages waiting for a choice."""

    channel: Channel
    pages_key: str = ""


@dataclass(frozen=True)
class PageChoice:
    """A Page as the choice form shows it: never its token."""

    id: str
    name: str
    may_post: bool
    instagram_id: str
    instagram_username: str


def _now() -> float:
    return time.time()


def _pending(session: MutableMapping[str, Any], key: str) -> dict[str, dict[str, Any]]:
    """The session's pending entries of one kind, the expired ones dropped."""
    entries = dict(session.get(key) or {})
    horizon = _now() - settings.TANDEM_OAUTH_STATE_SECONDS
    return {k: v for k, v in entries.items() if isinstance(v, dict) and v.get("created", 0) >= horizon}


def _remember(session: MutableMapping[str, Any], key: str, name: str, entry: dict[str, Any]) -> None:
    entries = _pending(session, key)
    entries[name] = {**entry, "created": _now()}
    while len(entries) > PENDING_MAX:
        entries.pop(min(entries, key=lambda k: entries[k]["created"]))
    session[key] = entries


def _take(session: MutableMapping[str, Any], key: str, name: str) -> dict[str, Any] | None:
    """The entry, removed from the session whether it is still valid or not (single use)."""
    entries = dict(session.get(key) or {})
    entry = entries.pop(name, None) if name else None
    session[key] = entries
    if not isinstance(entry, dict):
        return None
    if entry.get("created", 0) < _now() - settings.TANDEM_OAUTH_STATE_SECONDS:
        return None
    return entry


def _seal(verifier: str) -> str:
    # The session is stored in the database: the verifier is kept there encrypted, like a credential.
    return credentials.encrypt({"verifier": verifier})


def _unseal(sealed: str) -> str:
    return credentials.decrypt(sealed)["verifier"]


def _expired() -> ValidationError:
    return ValidationError(
        _(
            "This sign-in is unknown, already used or older than 10 minutes (or was started in another "
            "browser or by someone else). Nothing was saved: start the connection again from the channel page."
        )
    )


def _refused(exc: ChannelError) -> ValidationError:
    if isinstance(exc, AuthError):
        return ValidationError(
            _("The network refused the sign-in (%(error)s). Nothing was saved: start the connection again.")
            % {"error": exc.reader_text()}
        )
    return ValidationError(
        _("The network did not answer as expected (%(error)s). Nothing was saved: try again in a moment.")
        % {"error": exc.reader_text()}
    )


def _network(channel: Channel) -> str:
    if channel.kind not in NETWORKS:
        raise ValidationError(
            _("%(channel)s is not connected by signing in at its network.") % {"channel": channel.name}
        )
    return channel.kind


# --- Mastodon: Tandem's app on the instance ------------------------------------------------


def mastodon_server(value: str) -> str:
    """The instance's base URL from what a person typed ("mastodon.social", a profile URL, ...),
    if the outgoing-request policy lets Tandem call it."""
    value = value.strip()
    if value and "://" not in value:
        value = f"https://{value.lstrip('@').split('@')[-1]}"
    parts = urlsplit(value)
    server = f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""
    problem = netpolicy.url_problem(server) if server else _("Give the address of the Mastodon server.")
    if problem:
        raise ValidationError({"base_url": problem})
    return server


def mastodon_app(*, server: str, redirect_uri: str) -> tuple[OAuthApp, str]:
    """Tandem's registration on the instance (made once, then reused by every channel there)
    and its client secret. Registering is a network call: never inside a transaction."""
    found = OAuthApp.objects.filter(network="mastodon", server=server, redirect_uri=redirect_uri).first()
    if found is None:
        try:
            client_id, client_secret = mastodon.app_register(
                server, redirect_uri=redirect_uri, website=settings.TANDEM_PUBLIC_URL
            )
        except ChannelError as exc:
            raise ValidationError(
                {
                    "base_url": _("This server did not register Tandem as an application (%(error)s).")
                    % {"error": exc.reader_text()}
                }
            ) from None
        try:
            with transaction.atomic():
                found = OAuthApp.objects.create(
                    network="mastodon",
                    server=server,
                    redirect_uri=redirect_uri,
                    scopes=mastodon.SCOPES,
                    client_id=client_id,
                    client_secret_ciphertext=credentials.encrypt({"client_secret": client_secret}),
                )
        except IntegrityError:
            # Another connect registered at the same moment: use that one, forget ours.
            found = OAuthApp.objects.get(network="mastodon", server=server, redirect_uri=redirect_uri)
    secret = credentials.decrypt(found.client_secret_ciphertext)["client_secret"]
    return found, secret


# --- start and finish ------------------------------------------------------------------------


def oauth_start(
    *,
    channel: Channel,
    actor: User,
    session: MutableMapping[str, Any],
    redirect_uri: str,
    base_url: str = "",
    language: str = "",
) -> str:
    """Prepare a sign-in for `channel` and return the network's authorization URL."""
    network = _network(channel)
    state = oauth.oauth_state()
    entry: dict[str, Any] = {"channel": channel.pk, "user": actor.pk, "network": network, "redirect_uri": redirect_uri}
    if network == "mastodon":
        server = mastodon_server(base_url or str(channel.config.get("base_url", "")))
        app, _secret = mastodon_app(server=server, redirect_uri=redirect_uri)
        verifier = oauth.pkce_verifier()
        entry |= {"server": server, "app": app.pk, "verifier": _seal(verifier)}
        url = mastodon.authorize_url(
            server,
            client_id=app.client_id,
            redirect_uri=redirect_uri,
            state=state,
            challenge=oauth.pkce_challenge(verifier),
            language=language,
        )
    elif network == "x":
        if not settings.TANDEM_X_CLIENT_ID:
            raise ValidationError(_("Tandem has no X app yet: an operator must set TANDEM_X_CLIENT_ID first."))
        verifier = oauth.pkce_verifier()
        entry["verifier"] = _seal(verifier)
        url = x.authorize_url(redirect_uri=redirect_uri, state=state, challenge=oauth.pkce_challenge(verifier))
    else:
        if not settings.TANDEM_META_APP_ID:
            raise ValidationError(_("Tandem has no Meta app yet: an operator must set TANDEM_META_APP_ID first."))
        url = meta.dialog_url(redirect_uri=redirect_uri, state=state)
    _remember(session, SESSION_KEY, state, entry)
    return url


def oauth_finish(
    *,
    session: MutableMapping[str, Any],
    actor: User,
    state: str,
    code: str = "",
    error: str = "",
    error_description: str = "",
) -> Finished:
    """The network's answer at the callback: the token exchanged, checked and stored."""
    entry = _take(session, SESSION_KEY, state)
    if entry is None or entry.get("user") != actor.pk:
        raise _expired()
    channel = Channel.objects.filter(pk=entry["channel"]).first()
    if channel is None or channel.kind != entry["network"]:
        raise _expired()
    if error:
        if error == "access_denied":
            raise ValidationError(
                _("The sign-in was cancelled at the network: %(channel)s was not connected.")
                % {"channel": channel.name}
            )
        raise ValidationError(
            _("The network refused the sign-in (%(error)s). Nothing was saved: start the connection again.")
            % {"error": oauth_error_text(error, error_description)}
        )
    if not code:
        raise _expired()
    try:
        if entry["network"] == "mastodon":
            return Finished(_mastodon_finish(channel, entry, code, actor))
        if entry["network"] == "x":
            return Finished(_x_finish(channel, entry, code, actor))
        return Finished(channel, _meta_finish(session, channel, entry, code, actor))
    except ChannelError as exc:
        raise _refused(exc) from None


def oauth_error_text(error: str, description: str) -> str:
    """What the network said, cut short (it comes from the browser's address bar)."""
    text = f"{error}: {description}" if description else error
    return " ".join(text.split())[:200]


@contextmanager
def _revoked_on_failure(channel: Channel, secrets: dict[str, str], config: dict[str, Any]) -> Iterator[None]:
    """The network has issued a token but the connection fails after (the account cannot be
    read, the save is refused): nothing is kept in Tandem, so the grant is revoked at the
    network too rather than left live there. The revocation is best effort: its own failure
    is logged (never the token) and the first error is the one the user sees."""
    try:
        yield
    except Exception:
        issued = Credential(channel_id=channel.pk, flow=ConnectFlow.OAUTH, secrets=secrets)
        target = Channel(pk=channel.pk, kind=channel.kind, config={**(channel.config or {}), **config})
        try:
            get_adapter(target).revoke(issued)
        except Exception:  # noqa: BLE001 - the connection's own error matters more than this one
            logger.warning("Could not revoke the token issued for channel %s after a failed connection", channel.pk)
        raise


def _mastodon_finish(channel: Channel, entry: dict[str, Any], code: str, actor: User) -> Channel:
    app = OAuthApp.objects.filter(pk=entry["app"]).first()
    if app is None:
        raise _expired()
    client_secret = credentials.decrypt(app.client_secret_ciphertext)["client_secret"]
    server = entry["server"]
    try:
        tokens = mastodon.token_from_code(
            server,
            client_id=app.client_id,
            client_secret=client_secret,
            redirect_uri=entry["redirect_uri"],
            code=code,
            verifier=_unseal(entry["verifier"]),
        )
    except AuthError as exc:
        if "invalid_client" in exc.message:
            # The instance forgot Tandem's registration (an admin removed the app): the next
            # connect registers again instead of reusing a dead one.
            app.delete()
        raise
    secrets = {"secret": tokens.access, "client_id": app.client_id, "client_secret": client_secret}
    if tokens.refresh:
        secrets["refresh"] = tokens.refresh
    with _revoked_on_failure(channel, secrets, {"base_url": server}):
        account = mastodon.account_of(server, tokens.access)
        try:
            limits = mastodon.instance_limits(server)
        except PermanentError as exc:
            if isinstance(exc, AuthError):
                raise
            limits = {}  # an older server without /api/v2/instance: Tandem's defaults apply
        return connection_established(
            channel=channel,
            secrets=secrets,
            flow=ConnectFlow.OAUTH,
            actor=actor,
            account=account,
            expires_at=tokens.expires_at if tokens.refresh else None,
            config={"base_url": server, **limits},
        )


def _x_finish(channel: Channel, entry: dict[str, Any], code: str, actor: User) -> Channel:
    api = str(channel.config.get("api_url") or x.XAdapter.default_endpoint).rstrip("/")
    tokens = x.token_from_code(api, redirect_uri=entry["redirect_uri"], code=code, verifier=_unseal(entry["verifier"]))
    secrets = {"secret": tokens.access}
    if tokens.refresh:
        secrets["refresh"] = tokens.refresh
    with _revoked_on_failure(channel, secrets, {}):
        username = x.username_of(api, tokens.access)
        return connection_established(
            channel=channel,
            secrets=secrets,
            flow=ConnectFlow.OAUTH,
            actor=actor,
            account=f"@{username}",
            expires_at=tokens.expires_at,
            config={"username": username},
        )


# --- Meta: the user chooses among the Pages they manage ---------------------------------------


def _meta_finish(
    session: MutableMapping[str, Any], channel: Channel, entry: dict[str, Any], code: str, actor: User
) -> str:
    graph = meta.graph_url(channel.config)
    token = meta.user_token(graph, code=code, redirect_uri=entry["redirect_uri"])
    found = meta.pages(graph, token)
    if not found:
        raise ValidationError(_("This Facebook account manages no Page Tandem may use: nothing was connected."))
    key = oauth.oauth_state()
    sealed = credentials.encrypt({"pages": _json_pages(found)})
    _remember(session, PAGES_KEY, key, {"channel": channel.pk, "user": actor.pk, "sealed": sealed})
    return key


def _json_pages(pages: list[meta.Page]) -> str:
    return json.dumps([page.__dict__ for page in pages])


def _pages_of(entry: dict[str, Any]) -> list[meta.Page]:
    rows = json.loads(credentials.decrypt(entry["sealed"])["pages"])
    return [meta.Page(**row) for row in rows]


def _pages_entry(session: MutableMapping[str, Any], key: str, actor: User) -> tuple[Channel, dict[str, Any]]:
    entry = _pending(session, PAGES_KEY).get(key)
    if entry is None or entry.get("user") != actor.pk:
        raise _expired()
    channel = Channel.objects.filter(pk=entry["channel"]).first()
    if channel is None:
        raise _expired()
    return channel, entry


def meta_pages(*, session: MutableMapping[str, Any], key: str, actor: User) -> tuple[Channel, list[PageChoice]]:
    """The channel being connected and the Pages to choose from (no tokens)."""
    channel, entry = _pages_entry(session, key, actor)
    return channel, [
        PageChoice(p.id, p.name, p.may_post, p.instagram_id, p.instagram_username) for p in _pages_of(entry)
    ]


INSTAGRAM_NEW = "new"


def meta_page_choose(
    *,
    session: MutableMapping[str, Any],
    key: str,
    actor: User,
    page_id: str,
    instagram: str = "",
) -> list[Channel]:
    """Connect the chosen Page (a Facebook channel) or its Instagram account (an Instagram
    channel); from a Facebook channel, `instagram` also connects the Page's Instagram account:
    "new" makes an Instagram channel beside it, a channel id connects that Instagram channel.
    All or nothing; returns the channels connected."""
    channel, entry = _pages_entry(session, key, actor)
    page = next((p for p in _pages_of(entry) if p.id == page_id), None)
    if page is None:
        raise ValidationError({"page": _("Choose one of the Pages listed.")})
    if not page.may_post:
        raise ValidationError(
            {"page": _("You may not publish on this Page (Facebook gives you no content task there).")}
        )
    target_instagram: Channel | None = None
    if channel.kind == "instagram" or instagram:
        if not page.instagram_id:
            raise ValidationError({"page": _("No Instagram professional account is linked to this Page.")})
        if channel.kind == "instagram":
            target_instagram = channel
        elif instagram != INSTAGRAM_NEW:
            target_instagram = (
                Channel.objects.filter(pk=instagram, kind="instagram").first() if instagram.isdigit() else None
            )
            if target_instagram is None:
                raise ValidationError({"instagram": _("Choose an Instagram channel of the list.")})
    connected = []
    with transaction.atomic():
        if channel.kind == "facebook":
            connected.append(
                connection_established(
                    channel=channel,
                    secrets={"secret": page.token},
                    flow=ConnectFlow.OAUTH,
                    actor=actor,
                    account=page.name,
                    config={"page_id": page.id},
                )
            )
            if instagram == INSTAGRAM_NEW:
                target_instagram = channel_create(
                    actor=actor,
                    name=f"Instagram @{page.instagram_username or page.instagram_id}",
                    kind="instagram",
                    language=channel.language,
                    covers_all=channel.covers_all,
                    municipalities=channel.municipalities.values_list("pk", flat=True),
                    config={k: v for k, v in channel.config.items() if k == "graph_url"},
                )
        if target_instagram is not None:
            connected.append(
                connection_established(
                    channel=target_instagram,
                    secrets={"secret": page.token},
                    flow=ConnectFlow.OAUTH,
                    actor=actor,
                    account=f"@{page.instagram_username}" if page.instagram_username else page.instagram_id,
                    # The username lets the inbox leave the account's own answers out.
                    config={"ig_user_id": page.instagram_id, "page_id": page.id, "username": page.instagram_username},
                )
            )
    _take(session, PAGES_KEY, key)
    return connected
