"""Connecting accounts without OAuth: Bluesky app password, Telegram bot, webhook secret,
SMTP account; each checked against a fake of the network before anything is stored."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail

from accounts.models import Role
from publisher.channels.base import Post, TransientError
from publisher.channels.bluesky import BlueskyAdapter
from publisher.channels.credentials import credential_get
from publisher.channels.webhook import WebhookAdapter
from publisher.delivery import dispatch, publishing, renewal
from publisher.errors import ValidationError
from publisher.models import AuditEvent, Channel, ChannelCredential, ConnectFlow, Delivery, DeliveryState
from publisher.workflow import connections
from tests.factories import UserFactory
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks
from tests.fakes.smtp import _free_port as free_port
from tests.publisher.dispatch_support import due_deliveries

pytestmark = pytest.mark.django_db

APP_PASSWORD = "abcd-efgh-ijkl-mnop"  # noqa: S105 - a test value
BOT_TOKEN = "7000000:AAH-test-token-of-the-zone-bot"  # noqa: S105 - a test value


def _fresh(channel: Channel) -> Channel:
    return Channel.objects.select_related("credential").get(pk=channel.pk)


@pytest.fixture
def admin_user():
    user = UserFactory(email="channels@zone.example.be")
    user.groups.add(Group.objects.get_or_create(name=Role.CHANNEL_ADMIN)[0])
    return user


# --- Bluesky ---------------------------------------------------------------------------------


@pytest.fixture
def bluesky(fake_bluesky, make_channel):
    fake_bluesky.add_account("politie.brussel.bsky.social", APP_PASSWORD)
    return make_channel("bluesky", config={"pds_url": fake_bluesky.url})


def test_bluesky_connects_with_an_app_password_and_stores_the_session_not_the_password(
    bluesky, fake_bluesky, admin_user
):
    connections.bluesky_connect(
        channel=bluesky, handle="@politie.brussel.bsky.social", app_password=APP_PASSWORD, actor=admin_user
    )
    credential = credential_get(_fresh(bluesky))
    assert credential is not None
    assert credential.flow == ConnectFlow.APP_PASSWORD
    assert credential.account == "@politie.brussel.bsky.social"
    assert set(credential.secrets) == {"access", "refresh", "did", "handle"}
    assert APP_PASSWORD not in credential.secrets.values()
    # The access JWT lives 2 hours, the refresh JWT 90 days (read from their exp claims).
    assert credential.expires_at is not None
    assert credential.refresh_expires_at is not None
    assert timedelta(hours=1) < credential.expires_at - datetime.now(UTC) <= timedelta(hours=2)
    assert credential.refresh_expires_at - credential.expires_at > timedelta(days=80)
    assert _fresh(bluesky).config["identifier"] == "politie.brussel.bsky.social"
    # Publishing uses the stored session: no new login.
    logins = fake_bluesky.sessions_created
    BlueskyAdapter(_fresh(bluesky)).publish(Post(text="Bonjour Bruxelles", language="fr"), idempotency_key="k-1")
    assert fake_bluesky.sessions_created == logins
    assert len(fake_bluesky.records) == 1


def test_a_wrong_app_password_is_a_field_error_and_stores_nothing(bluesky, admin_user):
    with pytest.raises(ValidationError) as caught:
        connections.bluesky_connect(
            channel=bluesky, handle="politie.brussel.bsky.social", app_password="wrong-pass-word", actor=admin_user
        )
    assert "app_password" in caught.value.message_dict
    assert "wrong-pass-word" not in str(caught.value.message_dict)
    assert not ChannelCredential.objects.exists()


def test_the_bluesky_session_is_refreshed_before_it_expires_and_publishing_goes_on(bluesky, fake_bluesky, admin_user):
    start = datetime.now(UTC)
    connections.bluesky_connect(
        channel=bluesky, handle="politie.brussel.bsky.social", app_password=APP_PASSWORD, actor=admin_user
    )
    before = credential_get(_fresh(bluesky))
    assert before is not None
    with time_machine.travel(start + timedelta(hours=1, minutes=50), tick=False):
        assert dispatch.credentials_refresh_hand_over() == [bluesky.pk]
        after = credential_get(_fresh(bluesky))
        assert after is not None
        assert fake_bluesky.sessions_refreshed == 1
        assert after.secrets["refresh"] != before.secrets["refresh"]  # rotated by the PDS
        assert after.expires_at is not None
        assert after.expires_at > start + timedelta(hours=3)
    with time_machine.travel(start + timedelta(hours=2, minutes=30), tick=False):
        # Past the first access token's life: the renewed one publishes.
        BlueskyAdapter(_fresh(bluesky)).publish(Post(text="Toujours là", language="fr"), idempotency_key="k-2")
        assert len(fake_bluesky.records) == 1


def test_a_revoked_app_password_holds_the_channel_and_tells_its_admins(
    bluesky, fake_bluesky, admin_user, django_capture_on_commit_callbacks
):
    connections.bluesky_connect(
        channel=bluesky, handle="politie.brussel.bsky.social", app_password=APP_PASSWORD, actor=admin_user
    )
    fake_bluesky.revoke_sessions()
    with (
        time_machine.travel(datetime.now(UTC) + timedelta(hours=1, minutes=55), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = renewal.credentials_refresh(channel_ids=[bluesky.pk])
    assert result["refused"] == [bluesky.pk]
    channel = _fresh(bluesky)
    assert channel.needs_reconnect
    assert "InvalidToken" in channel.needs_reconnect_reason or "revoked" in channel.needs_reconnect_reason
    assert any(bluesky.name in m.subject for m in mail.outbox)
    # Reconnecting runs the same flow and clears the hold.
    fake_bluesky.add_account("politie.brussel.bsky.social", APP_PASSWORD)
    connections.bluesky_connect(
        channel=channel, handle="politie.brussel.bsky.social", app_password=APP_PASSWORD, actor=admin_user
    )
    assert not _fresh(bluesky).needs_reconnect


def test_disconnecting_bluesky_deletes_the_session_at_the_pds_and_holds_the_channel(bluesky, fake_bluesky, admin_user):
    connections.bluesky_connect(
        channel=bluesky, handle="politie.brussel.bsky.social", app_password=APP_PASSWORD, actor=admin_user
    )
    refresh = credential_get(_fresh(bluesky)).secrets["refresh"]  # type: ignore[union-attr]
    mail.outbox.clear()
    assert connections.channel_disconnect(channel=bluesky, actor=admin_user) == ""
    assert refresh in fake_bluesky.revoked
    channel = _fresh(bluesky)
    assert credential_get(channel) is None
    assert channel.needs_reconnect
    assert admin_user.get_username() in channel.needs_reconnect_reason
    assert mail.outbox == []  # a person chose this: nobody is alarmed
    assert AuditEvent.objects.filter(verb="channel.disconnected", object_id=str(bluesky.pk)).exists()


# --- Telegram --------------------------------------------------------------------------------


@pytest.fixture
def telegram(fake_telegram, make_channel):
    fake_telegram.add_bot(BOT_TOKEN, "zone_bxl_bot")
    fake_telegram.add_chat("@politie_bxl", title="Politie Brussel")
    return make_channel("telegram", config={"api_url": fake_telegram.url})


def test_telegram_connects_a_bot_that_administers_the_channel(telegram, fake_telegram, admin_user):
    fake_telegram.make_admin("@politie_bxl", BOT_TOKEN)
    connections.telegram_connect(channel=telegram, bot_token=BOT_TOKEN, chat_id="@politie_bxl", actor=admin_user)
    channel = _fresh(telegram)
    credential = credential_get(channel)
    assert credential is not None
    assert credential.secrets == {"secret": BOT_TOKEN}
    assert credential.account == "@zone_bxl_bot → Politie Brussel"
    assert channel.config["chat_id"] == "@politie_bxl"
    assert channel.config["chat_username"] == "politie_bxl"
    methods = [r.path.rsplit("/", 1)[-1] for r in fake_telegram.requests]
    assert methods == ["getMe", "getChat", "getChatMember"]


@pytest.mark.parametrize("can_post", [None, False])
def test_a_bot_that_may_not_post_in_the_channel_is_refused(telegram, fake_telegram, admin_user, can_post):
    if can_post is not None:
        fake_telegram.make_admin("@politie_bxl", BOT_TOKEN, can_post_messages=can_post)
    with pytest.raises(ValidationError) as caught:
        connections.telegram_connect(channel=telegram, bot_token=BOT_TOKEN, chat_id="@politie_bxl", actor=admin_user)
    assert "administrator" in caught.value.message_dict["chat_id"][0]
    assert not ChannelCredential.objects.exists()


def test_a_refused_token_and_an_unknown_chat_are_field_errors_without_the_token(telegram, admin_user):
    with pytest.raises(ValidationError) as caught:
        connections.telegram_connect(
            channel=telegram, bot_token="123:not-a-bot-token", chat_id="@politie_bxl", actor=admin_user
        )
    assert "bot_token" in caught.value.message_dict
    assert "not-a-bot-token" not in str(caught.value.message_dict)
    with pytest.raises(ValidationError) as caught:
        connections.telegram_connect(channel=telegram, bot_token=BOT_TOKEN, chat_id="@nowhere", actor=admin_user)
    assert "chat not found" in caught.value.message_dict["chat_id"][0]
    assert BOT_TOKEN not in str(caught.value.message_dict)


# --- Webhook ---------------------------------------------------------------------------------


def test_a_webhook_secret_is_made_by_tandem_and_signs_what_goes_out(fake_webhook, make_channel, admin_user):
    channel = make_channel("webhook", config={"url": fake_webhook.endpoint})
    secret = connections.webhook_secret_generate(channel=channel, actor=admin_user)
    assert secret.startswith("whsec_")
    fake_webhook.secret = secret
    WebhookAdapter(_fresh(channel)).publish(Post(text="Test", language="fr"), idempotency_key="d-1")
    assert len(fake_webhook.events) == 1
    assert fake_webhook.rejected == []


def test_rotating_keeps_the_old_secret_signing_during_the_overlap_only(
    fake_webhook, make_channel, admin_user, settings
):
    settings.TANDEM_WEBHOOK_ROTATION_OVERLAP_HOURS = 24
    channel = make_channel("webhook", config={"url": fake_webhook.endpoint})
    old = connections.webhook_secret_generate(channel=channel, actor=admin_user)
    start = datetime.now(UTC)
    new, until = connections.webhook_secret_rotate(channel=channel, actor=admin_user, now=start)
    assert new != old
    assert until == start + timedelta(hours=24)
    fake_webhook.secret = old  # the receiver has not switched yet
    WebhookAdapter(_fresh(channel)).publish(Post(text="Pendant", language="fr"), idempotency_key="d-1")
    fake_webhook.secret = new  # it switched
    WebhookAdapter(_fresh(channel)).publish(Post(text="Tijdens", language="nl"), idempotency_key="d-2")
    assert fake_webhook.rejected == []
    with time_machine.travel(until + timedelta(minutes=1), tick=False):
        assert WebhookAdapter(_fresh(channel)).signing_secrets() == [new]
        fake_webhook.secret = old
        with pytest.raises(Exception, match="400"):
            WebhookAdapter(_fresh(channel)).publish(Post(text="Après", language="fr"), idempotency_key="d-3")
    assert AuditEvent.objects.filter(verb="channel.secret_rotated").count() == 1
    assert old not in str(list(AuditEvent.objects.values_list("summary", flat=True)))


# --- Email -----------------------------------------------------------------------------------


def test_smtp_connects_after_a_test_sign_in_and_sends_nothing(smtp_server, make_channel, admin_user):
    smtp_server.users["tandem@zone.example.be"] = "smtp-pass-1234"
    channel = make_channel("email", config={"recipients": ["pers@example.be"]})
    connections.smtp_connect(
        channel=channel,
        host="127.0.0.1",
        port=smtp_server.port,
        security="none",
        username="tandem@zone.example.be",
        password="smtp-pass-1234",
        actor=admin_user,
    )
    fresh = _fresh(channel)
    assert fresh.config["host"] == "127.0.0.1"
    assert fresh.config["port"] == smtp_server.port
    assert credential_get(fresh).secrets["secret"] == "smtp-pass-1234"  # type: ignore[union-attr]
    assert smtp_server.messages == []
    assert "smtp-pass-1234" not in str(fresh.config)


def test_a_refused_smtp_password_or_a_dead_server_is_a_field_error(smtp_server, make_channel, admin_user):
    smtp_server.users["tandem@zone.example.be"] = "smtp-pass-1234"
    channel = make_channel("email", config={})
    with pytest.raises(ValidationError) as caught:
        connections.smtp_connect(
            channel=channel,
            host="127.0.0.1",
            port=smtp_server.port,
            security="none",
            username="tandem@zone.example.be",
            password="wrong",
            actor=admin_user,
        )
    assert "password" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        connections.smtp_connect(
            channel=channel,
            host="127.0.0.1",
            port=free_port(),  # nothing listens there
            security="none",
            username="",
            password="",
            actor=admin_user,
        )
    assert "host" in caught.value.message_dict
    assert not ChannelCredential.objects.exists()


def test_a_connection_for_another_kind_is_refused(make_channel, admin_user):
    channel = make_channel("outbox", config={})
    with pytest.raises(ValidationError):
        connections.telegram_connect(channel=channel, bot_token=BOT_TOKEN, chat_id="@x", actor=admin_user)


def test_a_disconnected_channel_holds_its_deliveries_and_reconnecting_sends_them(
    fake_telegram, author, admin_user, django_capture_on_commit_callbacks
):
    fake_telegram.add_bot(BOT_TOKEN, "zone_bxl_bot")
    fake_telegram.add_chat("@politie_bxl", title="Politie Brussel")
    fake_telegram.make_admin("@politie_bxl", BOT_TOKEN)
    ids = due_deliveries(author=author, count=1, kind="telegram", config={"api_url": fake_telegram.url})
    channel = Channel.objects.get(deliveries__in=ids)
    connections.telegram_connect(channel=channel, bot_token=BOT_TOKEN, chat_id="@politie_bxl", actor=admin_user)
    connections.channel_disconnect(channel=channel, actor=admin_user)
    assert dispatch.deliveries_claim(ids=ids).handled == 0  # held, not failed
    assert Delivery.objects.get(pk=ids[0]).state == DeliveryState.PENDING
    connections.telegram_connect(channel=channel, bot_token=BOT_TOKEN, chat_id="@politie_bxl", actor=admin_user)
    assert not Channel.objects.get(pk=channel.pk).needs_reconnect
    assert dispatch.deliveries_claim(ids=ids).handled == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert publishing.deliveries_publish(delivery_ids=ids) == {"sent": 1}
    assert Delivery.objects.get(pk=ids[0]).state == DeliveryState.SENT
    assert AuditEvent.objects.filter(verb="channel.reconnected", object_id=str(channel.pk)).exists()


def test_an_expired_stored_session_is_transient_for_publishing_and_left_to_the_renewal(
    bluesky, fake_bluesky, admin_user
):
    connections.bluesky_connect(
        channel=bluesky, handle="politie.brussel.bsky.social", app_password=APP_PASSWORD, actor=admin_user
    )
    fake_bluesky.expire_sessions()
    with pytest.raises(TransientError, match="renews"):
        BlueskyAdapter(_fresh(bluesky)).publish(Post(text="Bonjour", language="fr"), idempotency_key="k-9")
    assert fake_bluesky.sessions_refreshed == 0  # only the renewal rotates the refresh JWT
    assert not _fresh(bluesky).needs_reconnect
    assert renewal.credentials_refresh(channel_ids=[bluesky.pk])["refreshed"] == [bluesky.pk]
    BlueskyAdapter(_fresh(bluesky)).publish(Post(text="Bonjour", language="fr"), idempotency_key="k-9")
    assert len(fake_bluesky.records) == 1
