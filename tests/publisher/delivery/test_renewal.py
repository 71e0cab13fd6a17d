"""Credentials renewed before they expire; a refused renewal holds the channel and tells its admins."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail

from accounts.models import Role
from publisher.channels.base import AuthError, Credential, Post, Problem, Receipt, Refreshed, TransientError
from publisher.channels.credentials import credential_get, credential_save
from publisher.channels.outbox import OutboxAdapter
from publisher.delivery import dispatch, publishing, renewal
from publisher.models import Channel, ChannelCredential, ConnectFlow
from tests.factories import ChannelFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


class RenewingAdapter(OutboxAdapter):
    """A network whose grant is renewed: "revoked" is refused for good, "flaky" fails for now."""

    kind = "renewing"
    supports_refresh = True
    calls: list[int] = []

    def check(self, post: Post) -> list[Problem]:
        return []

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        return Receipt(remote_id=idempotency_key)

    def refresh(self, credential: Credential) -> Refreshed:
        RenewingAdapter.calls.append(credential.channel_id)
        if credential.secrets["refresh"] == "revoked":
            raise AuthError("HTTP 400: invalid_grant: the refresh token was revoked")
        if credential.secrets["refresh"] == "flaky":
            raise TransientError("HTTP 503: try later")
        n = int(credential.secrets["secret"].rsplit("-", 1)[-1]) + 1
        return Refreshed(
            secrets={"secret": f"access-{n}", "refresh": credential.secrets["refresh"]},
            expires_at=NOW + timedelta(hours=2),
        )


@pytest.fixture(autouse=True)
def renewing_kind(settings):
    settings.TANDEM_CHANNEL_ADAPTERS = {"renewing": f"{__name__}.RenewingAdapter"}
    settings.TANDEM_CREDENTIAL_REFRESH_MARGIN_SECONDS = 900
    RenewingAdapter.calls = []


def _connected(refresh: str, expires_in: timedelta) -> Channel:
    channel = ChannelFactory(kind="renewing")
    credential_save(
        channel=channel,
        secrets={"secret": "access-0", "refresh": refresh},
        flow=ConnectFlow.OAUTH,
        actor=None,
        expires_at=NOW + expires_in,
    )
    return channel


def _credential(channel: Channel) -> Credential:
    credential = credential_get(Channel.objects.get(pk=channel.pk))
    assert credential is not None
    return credential


@time_machine.travel(NOW, tick=False)
def test_a_credential_expiring_within_the_margin_is_refreshed_by_the_dispatchers_step():
    soon = _connected("r-1", timedelta(minutes=10))
    later = _connected("r-2", timedelta(hours=5))
    assert dispatch.credentials_refresh_hand_over() == [soon.pk]  # the test cluster runs the task inline
    assert RenewingAdapter.calls == [soon.pk]
    renewed = _credential(soon)
    assert renewed.secrets["secret"] == "access-1"
    assert renewed.expires_at == NOW + timedelta(hours=2)
    assert ChannelCredential.objects.get(channel=soon).refreshed_at == NOW
    assert _credential(later).secrets["secret"] == "access-0"
    assert dispatch.credentials_refresh_hand_over() == []  # nothing else is due


@time_machine.travel(NOW, tick=False)
def test_a_revoked_grant_holds_the_channel_with_the_networks_reason_and_mails_its_admins(
    django_capture_on_commit_callbacks,
):
    admin = UserFactory(email="admin@zone.example.be")
    admin.groups.add(Group.objects.get_or_create(name=Role.CHANNEL_ADMIN)[0])
    channel = _connected("revoked", timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        result = renewal.credentials_refresh(channel_ids=[channel.pk])
    assert result["refused"] == [channel.pk]
    channel.refresh_from_db()
    assert channel.needs_reconnect
    assert "invalid_grant" in channel.needs_reconnect_reason
    assert len(mail.outbox) == 1
    assert channel.name in mail.outbox[0].subject
    # Held: no further refresh is tried until a person reconnects it.
    assert renewal.credentials_due() == []
    publishing.channel_reconnected(channel=channel, actor=admin)
    assert renewal.credentials_due() == [channel.pk]


@time_machine.travel(NOW, tick=False)
def test_a_transient_failure_is_tried_again_on_a_later_pass_and_holds_nothing():
    channel = _connected("flaky", timedelta(minutes=1))
    assert renewal.credentials_refresh(channel_ids=[channel.pk])["failed"] == [channel.pk]
    channel.refresh_from_db()
    assert not channel.needs_reconnect
    assert renewal.credentials_due() == [channel.pk]


@time_machine.travel(NOW, tick=False)
def test_one_worker_refreshes_a_credential_at_a_time():
    channel = _connected("r-1", timedelta(minutes=1))
    ChannelCredential.objects.filter(channel=channel).update(refresh_lease_until=NOW + timedelta(seconds=30))
    assert renewal.credentials_due() == []
    assert renewal.credentials_refresh(channel_ids=[channel.pk])["skipped"] == [channel.pk]
    assert RenewingAdapter.calls == []


@pytest.mark.usefixtures("renewing_kind")
def test_the_dispatcher_loop_renews_credentials_without_anyone_acting(settings):
    settings.TANDEM_DISPATCH_POLL_SECONDS = 0.05
    channel = _connected("r-1", timedelta(minutes=1))
    passes = []

    def should_stop():
        passes.append(1)
        return len(passes) > 1

    dispatch.run(should_stop=should_stop, log=lambda line: None)
    assert RenewingAdapter.calls == [channel.pk]
    assert _credential(channel).secrets["secret"] == "access-1"
