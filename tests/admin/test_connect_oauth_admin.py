"""The OAuth connect pages of the channel admin: start, the network's consent page (a fake),
the callback, Meta's Page choice; in the user's language, never a 500, never a token shown."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Group

from accounts.models import Role
from publisher.channels.credentials import credential_get
from publisher.models import Channel, ChannelCredential
from tests.factories import ChannelFactory, UserFactory
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks
from tests.fakes.oauth import consent

CALLBACK = "/admin/publisher/channel/connect/oauth/callback/"


@pytest.fixture
def public_url(settings):
    settings.TANDEM_PUBLIC_URL = "https://tandem.zone.example.be"
    return settings.TANDEM_PUBLIC_URL


def _login(client, language):
    user = UserFactory(username=f"chanadmin-{language}", preferred_language=language)
    user.groups.add(Group.objects.get_or_create(name=Role.CHANNEL_ADMIN)[0])
    client.force_login(user)
    return user


def _callback(client, answer):
    return client.get(CALLBACK, answer)


def test_a_mastodon_channel_is_connected_from_its_page_in_french(client, fake_mastodon, public_url, db, roles):
    _login(client, "fr")
    channel = ChannelFactory(kind="mastodon", config={"base_url": fake_mastodon.url})
    page = client.get(f"/admin/publisher/channel/{channel.pk}/change/").content.decode()
    start = f"/admin/publisher/channel/{channel.pk}/connect/oauth/"
    assert start in page
    form = client.get(start)
    body = form.content.decode()
    assert "Serveur Mastodon" in body
    assert "Continuer vers Mastodon" in body
    assert "no-store" in form["Cache-Control"]
    response = client.post(start, {"base_url": fake_mastodon.url})
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{fake_mastodon.url}/oauth/authorize?")
    query = parse_qs(urlsplit(location).query)
    assert query["redirect_uri"] == [f"{public_url}{CALLBACK}"]
    assert query["lang"] == ["fr"]
    answer = consent(location)
    back = _callback(client, answer)
    assert back.status_code == 302
    assert back["Location"] == f"/admin/publisher/channel/{channel.pk}/change/"
    page = client.get(back["Location"]).content.decode()
    assert "est connecté" in page
    assert "@zone_bxl@" in page
    assert "Limites du serveur : 500 caractères par message, 4 images" in page
    token = credential_get(Channel.objects.get(pk=channel.pk)).secrets["secret"]  # type: ignore[union-attr]
    assert token not in page


def test_a_stale_or_replayed_callback_is_a_dutch_message_not_a_500(client, fake_mastodon, public_url, db, roles):
    _login(client, "nl")
    channel = ChannelFactory(kind="mastodon", config={"base_url": fake_mastodon.url})
    start = f"/admin/publisher/channel/{channel.pk}/connect/oauth/"
    answer = consent(client.post(start, {"base_url": fake_mastodon.url})["Location"])
    assert _callback(client, answer).status_code == 302
    ChannelCredential.objects.all().delete()
    replay = _callback(client, answer)
    assert replay.status_code == 302
    page = client.get(replay["Location"]).content.decode()
    assert "al gebruikt of ouder dan 10 minuten" in page
    assert not ChannelCredential.objects.exists()
    unknown = client.get(CALLBACK, {"state": "made-up", "code": "x"}, follow=True)
    assert unknown.status_code == 200
    assert "al gebruikt of ouder dan 10 minuten" in unknown.content.decode()


def test_a_denied_consent_comes_back_as_a_message_on_the_channel_page(client, fake_mastodon, public_url, db, roles):
    _login(client, "fr")
    channel = ChannelFactory(kind="mastodon", config={"base_url": fake_mastodon.url})
    location = client.post(f"/admin/publisher/channel/{channel.pk}/connect/oauth/", {"base_url": fake_mastodon.url})[
        "Location"
    ]
    back = _callback(client, consent(location, decision="deny"))
    assert back["Location"] == f"/admin/publisher/channel/{channel.pk}/change/"
    assert "La connexion a été annulée sur le réseau" in client.get(back["Location"]).content.decode()


def test_a_refused_instance_address_is_shown_at_its_field(client, public_url, db, roles):
    _login(client, "fr")
    channel = ChannelFactory(kind="mastodon", config={})
    response = client.post(f"/admin/publisher/channel/{channel.pk}/connect/oauth/", {"base_url": "http://10.0.0.7"})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()


def test_the_facebook_page_is_chosen_on_a_page_of_tandem(client, fake_facebook, settings, public_url, db, roles):
    settings.TANDEM_META_APP_ID, settings.TANDEM_META_APP_SECRET = "meta-app", "meta-secret"
    settings.TANDEM_META_DIALOG_URL = f"{fake_facebook.url}/v21.0/dialog/oauth"
    fake_facebook.set_app("meta-app", "meta-secret", f"{public_url}{CALLBACK}")
    _login(client, "fr")
    channel = ChannelFactory(kind="facebook", config={"graph_url": f"{fake_facebook.url}/v21.0"})
    start = f"/admin/publisher/channel/{channel.pk}/connect/oauth/"
    assert "Continuer vers Facebook" in client.get(start).content.decode()
    back = _callback(client, consent(client.post(start)["Location"]))
    assert "/connect/oauth/pages/" in back["Location"]
    choice = client.get(back["Location"]).content.decode()
    assert "Politie Brussel — Instagram @politie.brussel" in choice
    assert "(vous ne pouvez pas y publier)" in choice
    assert fake_facebook.token not in choice
    done = client.post(back["Location"], {"page": fake_facebook.page_id, "instagram": "new"})
    assert done.status_code == 302
    assert Channel.objects.filter(kind="instagram", config__ig_user_id="17841400000000001").exists()
    assert credential_get(Channel.objects.get(pk=channel.pk)).account == "Politie Brussel"  # type: ignore[union-attr]


def test_the_callback_needs_a_signed_in_channel_administrator(client, db, roles):
    response = client.get(CALLBACK, {"state": "s", "code": "c"})
    assert response.status_code == 302
    assert "/login/" in response["Location"]
    reader = UserFactory(is_staff=True)
    client.force_login(reader)
    assert client.get(CALLBACK, {"state": "s", "code": "c"}).status_code == 403
