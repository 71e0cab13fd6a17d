"""No OAuth secret in clear in the database (a full dump, and every session decoded), the
logs, the admin pages or the API's answers, after connecting Mastodon, X and a Facebook
Page with its Instagram account through the admin, renewing, replaying a callback,
publishing and disconnecting, against the fake authorization servers."""

import io
import json
import logging

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command

from publisher.channels import registry
from publisher.channels.base import Post
from publisher.delivery import renewal
from publisher.models import Channel
from publisher.workflow import connections
from tests.factories import ChannelFactory, UserFactory
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks
from tests.fakes.oauth import consent

pytestmark = pytest.mark.django_db

CALLBACK = "/admin/publisher/channel/connect/oauth/callback/"
X_SECRET = "scan-x-client-secret-2b7c"  # noqa: S105 - test values, unique enough to find
META_SECRET = "scan-meta-app-secret-8d1f"  # noqa: S105


def test_no_oauth_secret_is_found_in_clear(
    caplog, client, make_client, fake_mastodon, fake_x, fake_facebook, settings, roles
):
    caplog.set_level(logging.DEBUG)
    public = "https://tandem.zone.example.be"
    settings.TANDEM_PUBLIC_URL = public
    settings.TANDEM_X_CLIENT_ID, settings.TANDEM_X_CLIENT_SECRET = "x-client", X_SECRET
    settings.TANDEM_X_AUTHORIZE_URL = f"{fake_x.url}/i/oauth2/authorize"
    settings.TANDEM_META_APP_ID, settings.TANDEM_META_APP_SECRET = "meta-app", META_SECRET
    settings.TANDEM_META_DIALOG_URL = f"{fake_facebook.url}/v21.0/dialog/oauth"
    fake_x.oauth.add_client("x-client", X_SECRET, [public + CALLBACK], set(fake_x.oauth.known_scopes or ()))
    fake_facebook.set_app("meta-app", META_SECRET, public + CALLBACK)
    fake_mastodon.oauth.token_lifetime = 600
    admin = UserFactory(username="chanadmin", roles=["channel_admin"])
    client.force_login(admin)
    pages = []

    def connect(channel, data=None):
        start = f"/admin/publisher/channel/{channel.pk}/connect/oauth/"
        answer = consent(client.post(start, data or {})["Location"])
        back = client.get(CALLBACK, answer)
        pages.append(client.get(back["Location"]).content.decode())
        return answer, back

    mastodon = ChannelFactory(kind="mastodon", config={"base_url": fake_mastodon.url})
    answer, _back = connect(mastodon, {"base_url": fake_mastodon.url})
    pages.append(client.get(CALLBACK, answer, follow=True).content.decode())  # a replayed callback
    assert renewal.credentials_refresh(channel_ids=[mastodon.pk])["refreshed"] == [mastodon.pk]
    registry.get_adapter(Channel.objects.select_related("credential").get(pk=mastodon.pk)).publish(
        Post(text="Scan", language="fr"), "scan-1"
    )

    x = ChannelFactory(kind="x", config={"api_url": fake_x.url})
    connect(x)
    assert renewal.credentials_refresh(channel_ids=[x.pk])["refreshed"] == [x.pk]

    facebook = ChannelFactory(kind="facebook", config={"graph_url": f"{fake_facebook.url}/v21.0"})
    _answer, back = connect(facebook)
    client.post(back["Location"], {"page": fake_facebook.page_id, "instagram": "new"})
    pages.append(client.get(f"/admin/publisher/channel/{facebook.pk}/change/").content.decode())
    instagram = Channel.objects.get(kind="instagram")
    pages.append(client.get(f"/admin/publisher/channel/{instagram.pk}/change/").content.decode())

    api = make_client(["read", "admin"], user=admin)
    answers = [api.get("/api/v1/channels/?limit=200").content.decode()]
    connections.channel_disconnect(channel=mastodon, actor=admin)
    connections.channel_disconnect(channel=x, actor=admin)

    secrets = {X_SECRET, META_SECRET}
    for fake in (fake_mastodon, fake_x):
        secrets |= set(fake.oauth.access) | set(fake.oauth.refresh)
        secrets |= {c.secret for c in fake.oauth.clients.values()}
        secrets |= {r.field("code_verifier") or "" for r in fake.requests_to(r"/oauth2?/token$")}
    secrets |= set(fake_facebook.user_tokens) | set(fake_facebook.page_tokens.values())
    secrets.discard("")
    assert len(secrets) > 12

    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    sessions = json.dumps([s.get_decoded() for s in Session.objects.all()])
    places = {
        "database dump": dump.getvalue(),
        "sessions": sessions,
        "logs": caplog.text,
        "admin pages": "\n".join(pages),
        "API answers": "\n".join(answers),
    }
    assert "tandem_oauth" in sessions  # the scan reads the decoded sessions
    found = [(name, secret[:6]) for name, text in places.items() for secret in secrets if secret in text]
    assert found == []
