"""The channel page's connection box and connect forms: in the user's language, checked
against the network, never showing a stored secret back."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import translation

from accounts.models import Role
from publisher.channels.credentials import credential_get
from publisher.models import Channel
from tests.factories import ChannelFactory, UserFactory
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks

BOT_TOKEN = "7000000:AAH-admin-test-token"  # noqa: S105 - a test value
APP_PASSWORD = "wxyz-abcd-efgh-ijkl"  # noqa: S105 - a test value


@pytest.fixture
def channel_admin_client(client, roles):
    user = UserFactory(username="chanadmin", preferred_language="fr")
    user.groups.add(Group.objects.get(name=Role.CHANNEL_ADMIN))
    client.force_login(user)
    return client


@pytest.fixture
def telegram(fake_telegram, db):
    fake_telegram.add_bot(BOT_TOKEN, "zone_bxl_bot")
    fake_telegram.add_chat("@politie_bxl", title="Politie Brussel")
    fake_telegram.make_admin("@politie_bxl", BOT_TOKEN)
    return ChannelFactory(kind="telegram", config={"api_url": fake_telegram.url})


def _page(client, channel):
    response = client.get(f"/admin/publisher/channel/{channel.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_telegram_channel_is_connected_from_its_page_in_french_and_the_token_never_comes_back(
    channel_admin_client, telegram, fake_telegram
):
    page = _page(channel_admin_client, telegram)
    assert "Non connecté" in page
    connect = f"/admin/publisher/channel/{telegram.pk}/connect/bot_token/"
    assert connect in page
    form = channel_admin_client.get(connect)
    assert form.status_code == 200
    assert "no-store" in form["Cache-Control"]
    assert "Jeton du bot" in form.content.decode()
    response = channel_admin_client.post(connect, {"bot_token": BOT_TOKEN, "chat_id": "@politie_bxl"})
    assert response.status_code == 302, response.content.decode()
    assert credential_get(Channel.objects.get(pk=telegram.pk)).secrets["secret"] == BOT_TOKEN  # type: ignore[union-attr]
    page = _page(channel_admin_client, telegram)
    assert "Connecté en tant que" in page
    assert "@zone_bxl_bot" in page
    assert BOT_TOKEN not in page
    assert BOT_TOKEN not in channel_admin_client.get(connect).content.decode()  # the form starts empty


def test_a_refused_connection_is_shown_at_its_field_in_dutch(client, telegram, fake_telegram, db):
    user = UserFactory(username="kanaalbeheer", preferred_language="nl", is_superuser=True, is_staff=True)
    client.force_login(user)
    fake_telegram.admins.clear()
    connect = f"/admin/publisher/channel/{telegram.pk}/connect/bot_token/"
    with translation.override("nl"):
        response = client.post(connect, {"bot_token": BOT_TOKEN, "chat_id": "@politie_bxl"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "is geen beheerder die mag posten" in body
    assert BOT_TOKEN not in body
    translation.deactivate()


def test_a_webhook_secret_is_shown_once_and_rotation_shows_the_overlap(channel_admin_client, fake_webhook, db):
    channel = ChannelFactory(kind="webhook", config={"url": fake_webhook.endpoint})
    response = channel_admin_client.post(f"/admin/publisher/channel/{channel.pk}/connect/webhook_secret/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = credential_get(Channel.objects.get(pk=channel.pk)).secrets["secret"]  # type: ignore[union-attr]
    assert secret in response.content.decode()
    page = _page(channel_admin_client, channel)
    assert secret not in page
    assert "Renouveler le secret" in page
    rotated = channel_admin_client.post(f"/admin/publisher/channel/{channel.pk}/rotate/")
    assert rotated.status_code == 200
    assert "chaque événement est signé avec le nouveau et l’ancien secret" in rotated.content.decode()
    assert secret not in rotated.content.decode()
    assert channel_admin_client.get(f"/admin/publisher/channel/{channel.pk}/rotate/").status_code == 405


def test_disconnect_is_a_post_that_holds_the_channel(channel_admin_client, telegram, fake_telegram):
    channel_admin_client.post(
        f"/admin/publisher/channel/{telegram.pk}/connect/bot_token/",
        {"bot_token": BOT_TOKEN, "chat_id": "@politie_bxl"},
    )
    disconnect = f"/admin/publisher/channel/{telegram.pk}/disconnect/"
    assert channel_admin_client.get(disconnect).status_code == 405
    assert channel_admin_client.post(disconnect).status_code == 302
    channel = Channel.objects.get(pk=telegram.pk)
    assert channel.needs_reconnect
    assert credential_get(channel) is None
    assert "Reconnecter" in _page(channel_admin_client, telegram)


def test_a_flow_of_another_kind_is_not_found_and_a_reader_cannot_connect(client, telegram, db):
    reader = UserFactory(username="lecteur", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_channel"))
    client.force_login(reader)
    assert client.get(f"/admin/publisher/channel/{telegram.pk}/connect/bot_token/").status_code == 403
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(admin)
    assert client.get(f"/admin/publisher/channel/{telegram.pk}/connect/smtp/").status_code == 404
