"""No credential in clear anywhere it could leak: the database (a full dump), the logs and
the API's answers, after a run that connects, publishes, renews, fails, rotates and
disconnects with every non-OAuth flow against the fake networks."""

import io
import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import TestCase

from publisher.channels.credentials import credential_get
from publisher.delivery import dispatch, publishing, renewal
from publisher.errors import ValidationError
from publisher.models import Channel, Delivery, DeliveryState
from publisher.workflow import connections
from tests.factories import UserFactory
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks
from tests.fakes.smtp import _free_port
from tests.publisher.dispatch_support import due_deliveries

pytestmark = pytest.mark.django_db

APP_PASSWORD = "scan-app-pass-7f3e"  # noqa: S105 - test values, each unique enough to find
BOT_TOKEN = "7000123:AAH-scan-bot-token-5b9d"  # noqa: S105
SMTP_PASSWORD = "scan-smtp-pass-c41a"  # noqa: S105
WRONG_PASSWORD = "scan-wrong-pass-93e0"  # noqa: S105


def test_no_credential_value_is_found_in_clear_in_the_database_the_logs_or_the_api(
    caplog,
    make_client,
    fake_bluesky,
    fake_telegram,
    fake_webhook,
    smtp_server,
    make_channel,
    author,
    django_capture_on_commit_callbacks,
):
    caplog.set_level(logging.DEBUG)
    admin = UserFactory(username="chanadmin", roles=["channel_admin"])
    secrets: set[str] = {APP_PASSWORD, BOT_TOKEN, SMTP_PASSWORD, WRONG_PASSWORD}

    # Bluesky: a refused login, a connection, a renewal, a publication, a disconnect.
    fake_bluesky.add_account("zone.bsky.social", APP_PASSWORD)
    bluesky = make_channel("bluesky", config={"pds_url": fake_bluesky.url})
    with pytest.raises(ValidationError):
        connections.bluesky_connect(
            channel=bluesky, handle="zone.bsky.social", app_password=WRONG_PASSWORD, actor=admin
        )
    connections.bluesky_connect(channel=bluesky, handle="zone.bsky.social", app_password=APP_PASSWORD, actor=admin)
    secrets |= set(fake_bluesky.access) | set(fake_bluesky.refresh)
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=1, minutes=50), tick=False):
        assert renewal.credentials_refresh(channel_ids=[bluesky.pk])["refreshed"] == [bluesky.pk]
    secrets |= set(fake_bluesky.access) | set(fake_bluesky.refresh)

    # Telegram: connected, then a delivery goes out through the publish task with the stored token.
    fake_telegram.add_bot(BOT_TOKEN, "scan_bot")
    fake_telegram.add_chat("@scan_chat", title="Scan")
    fake_telegram.make_admin("@scan_chat", BOT_TOKEN)
    ids = due_deliveries(author=author, count=1, kind="telegram", config={"api_url": fake_telegram.url})
    telegram = Channel.objects.get(deliveries__in=ids)
    connections.telegram_connect(channel=telegram, bot_token=BOT_TOKEN, chat_id="@scan_chat", actor=admin)
    dispatch.deliveries_claim(ids=ids)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert publishing.deliveries_publish(delivery_ids=ids) == {"sent": 1}
    assert Delivery.objects.get(pk=ids[0]).state == DeliveryState.SENT
    # The token is later refused (revoked at BotFather): the error is recorded and mailed.
    fake_telegram.expire_token()
    more = due_deliveries(author=author, count=1, kind="telegram", config={"api_url": fake_telegram.url})
    other = Channel.objects.get(deliveries__in=more)
    connections.connection_established(
        channel=other, secrets={"secret": BOT_TOKEN}, flow="bot_token", actor=admin, config={"chat_id": "@scan_chat"}
    )
    dispatch.deliveries_claim(ids=more)
    with django_capture_on_commit_callbacks(execute=True):
        publishing.deliveries_publish(delivery_ids=more)
    assert Channel.objects.get(pk=other.pk).needs_reconnect

    # Webhook: made, rotated, used.
    webhook = make_channel("webhook", config={"url": fake_webhook.endpoint})
    secrets.add(connections.webhook_secret_generate(channel=webhook, actor=admin))
    new, _until = connections.webhook_secret_rotate(channel=webhook, actor=admin)
    secrets.add(new)

    # Email: a refused password, an unreachable server, then a connection.
    smtp_server.users["tandem@zone.example.be"] = SMTP_PASSWORD
    email = make_channel("email", config={"recipients": ["pers@example.be"]})
    for password, port in ((WRONG_PASSWORD, smtp_server.port), (SMTP_PASSWORD, _free_port())):
        with pytest.raises(ValidationError):
            connections.smtp_connect(
                channel=email,
                host="127.0.0.1",
                port=port,
                security="none",
                username="tandem@zone.example.be",
                password=password,
                actor=admin,
            )
    connections.smtp_connect(
        channel=email,
        host="127.0.0.1",
        port=smtp_server.port,
        security="none",
        username="tandem@zone.example.be",
        password=SMTP_PASSWORD,
        actor=admin,
    )

    # The API says who is connected, and until when.
    client = make_client(["read", "admin"], user=admin)
    answers = [client.get("/api/v1/channels/?limit=200").content.decode()]
    for channel in (bluesky, telegram, webhook, email):
        answers.append(client.get(f"/api/v1/channels/{channel.pk}/").content.decode())
    listed = {c["id"]: c for c in client.get("/api/v1/channels/?limit=200").json()["results"]}
    assert listed[bluesky.pk]["connected"] is True
    assert listed[bluesky.pk]["connected_until"] is not None
    assert listed[telegram.pk]["connected"] is True
    assert listed[telegram.pk]["connected_until"] is None  # a bot token does not expire

    connections.channel_disconnect(channel=bluesky, actor=admin)
    assert credential_get(Channel.objects.get(pk=bluesky.pk)) is None
    answers.append(client.get(f"/api/v1/channels/{bluesky.pk}/").content.decode())

    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    places = {"database dump": dump.getvalue(), "logs": caplog.text, "API answers": "\n".join(answers)}
    # The scan can find: the dump holds the credentials, encrypted.
    assert '"ciphertext": "gAAAAA' in places["database dump"]
    assert len(secrets) > 8
    found = [(name, secret[:6]) for name, text in places.items() for secret in secrets if secret in text]
    assert found == []
