"""The credential store: encrypted at rest, read back whole, rotated to a new key."""

from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from publisher.channels.credentials import (
    CredentialUnreadable,
    credential_delete,
    credential_get,
    credential_read,
    credential_save,
)
from publisher.channels.secrets import MissingSecret, channel_secret
from publisher.models import AuditEvent, Channel, ChannelCredential, ConnectFlow
from tests.factories import ChannelFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "tok-3f9a1c27-very-secret-value"  # noqa: S105 - a test value


def _fresh(channel: Channel) -> Channel:
    return Channel.objects.get(pk=channel.pk)


def test_a_saved_credential_is_encrypted_in_the_row_and_read_back_whole():
    channel = ChannelFactory(kind="telegram")
    admin = UserFactory()
    expiry = datetime(2027, 1, 1, tzinfo=UTC)
    credential_save(
        channel=channel,
        secrets={"secret": TOKEN, "refresh": "r-" + TOKEN},
        flow=ConnectFlow.BOT_TOKEN,
        actor=admin,
        expires_at=expiry,
        account="@zone_bot",
    )
    row = ChannelCredential.objects.get(channel=channel)
    assert TOKEN not in row.ciphertext
    assert row.ciphertext.startswith("gAAAAA")  # a Fernet token
    assert row.connected_by == admin
    credential = credential_get(_fresh(channel))
    assert credential is not None
    assert credential.secrets == {"secret": TOKEN, "refresh": "r-" + TOKEN}
    assert credential.account == "@zone_bot"
    assert credential.expires_at == expiry
    assert TOKEN not in repr(credential)
    assert credential_read(_fresh(channel)) == {"secret": TOKEN, "refresh": "r-" + TOKEN}
    event = AuditEvent.objects.get(verb="channel.connected")
    assert TOKEN not in str(event.summary)
    assert event.summary["account"] == "@zone_bot"


def test_the_stored_credential_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("TANDEM_SECRET_TG", "from-the-environment")
    channel = ChannelFactory(kind="telegram", secret_ref="TANDEM_SECRET_TG")
    assert channel_secret(channel) == "from-the-environment"
    credential_save(channel=channel, secrets={"secret": TOKEN}, flow=ConnectFlow.BOT_TOKEN, actor=None)
    assert channel_secret(_fresh(channel)) == TOKEN
    assert channel_secret(_fresh(channel), "PASSWORD", required=False) == ""
    with pytest.raises(MissingSecret):
        channel_secret(_fresh(channel), "PASSWORD")


def test_deleting_forgets_the_secret_and_falls_back_to_the_environment(monkeypatch):
    channel = ChannelFactory(kind="telegram")
    credential_save(channel=channel, secrets={"secret": TOKEN}, flow=ConnectFlow.BOT_TOKEN, actor=None)
    assert credential_delete(channel=_fresh(channel), actor=UserFactory()) is True
    assert credential_get(_fresh(channel)) is None
    assert credential_read(_fresh(channel)) == {}
    with pytest.raises(MissingSecret):
        channel_secret(_fresh(channel))
    assert credential_delete(channel=_fresh(channel), actor=None) is False
    assert AuditEvent.objects.filter(verb="channel.disconnected").count() == 1


def test_key_rotation_add_b_reencrypt_remove_a_everything_still_decrypts(settings):
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.TANDEM_ENCRYPTION_KEYS = [key_a]
    channels = [ChannelFactory(kind="telegram") for _ in range(3)]
    for index, channel in enumerate(channels):
        credential_save(channel=channel, secrets={"secret": f"{TOKEN}-{index}"}, flow=ConnectFlow.BOT_TOKEN, actor=None)
    before = dict(ChannelCredential.objects.values_list("channel_id", "ciphertext"))

    settings.TANDEM_ENCRYPTION_KEYS = [key_b, key_a]  # the new key in front
    assert credential_read(_fresh(channels[0])) == {"secret": f"{TOKEN}-0"}  # A still decrypts
    call_command("credentials_reencrypt", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = dict(ChannelCredential.objects.values_list("channel_id", "ciphertext"))
    assert all(after[pk] != before[pk] for pk in before)

    settings.TANDEM_ENCRYPTION_KEYS = [key_b]  # A removed
    for index, channel in enumerate(channels):
        assert credential_read(_fresh(channel)) == {"secret": f"{TOKEN}-{index}"}


def test_removing_a_key_before_reencrypting_says_which_channel_to_reconnect(settings):
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.TANDEM_ENCRYPTION_KEYS = [key_a]
    channel = ChannelFactory(kind="telegram")
    credential_save(channel=channel, secrets={"secret": TOKEN}, flow=ConnectFlow.BOT_TOKEN, actor=None)
    settings.TANDEM_ENCRYPTION_KEYS = [key_b]
    with pytest.raises(CredentialUnreadable, match=f"Channel {channel.pk}") as caught:
        credential_read(_fresh(channel))
    assert TOKEN not in str(caught.value)
    with pytest.raises(MissingSecret.__mro__[1]):  # an AuthError: the channel needs reconnecting
        channel_secret(_fresh(channel))
