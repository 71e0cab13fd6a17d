"""Channel secrets: only TANDEM_SECRET_ variables, never the service's own secrets."""

import pytest

from publisher.channels.base import Post
from publisher.channels.mastodon import _INSTANCE_CACHE, MastodonAdapter
from publisher.channels.secrets import MissingSecret, channel_secret
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("ref", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "HOME", "PATH", "TANDEM_SECRET_"])
def test_a_reference_stored_before_the_rule_is_refused_at_read_time(ref, monkeypatch):
    monkeypatch.setenv(ref, "a-value-that-must-stay-here")
    channel = ChannelFactory(kind="mastodon", secret_ref=ref)
    with pytest.raises(MissingSecret, match="TANDEM_SECRET_"):
        channel_secret(channel)


def test_a_tandem_secret_variable_holding_the_services_own_secret_is_refused(monkeypatch, settings):
    monkeypatch.setenv("TANDEM_SECRET_SNEAKY", settings.SECRET_KEY)
    with pytest.raises(MissingSecret, match="the service's own secrets"):
        channel_secret(ChannelFactory(kind="mastodon", secret_ref="TANDEM_SECRET_SNEAKY"))
    monkeypatch.setenv("DATABASE_URL", "postgres://tandem:pw@db.internal/tandem")
    monkeypatch.setenv("TANDEM_SECRET_SNEAKY", "postgres://tandem:pw@db.internal/tandem")
    with pytest.raises(MissingSecret):
        channel_secret(ChannelFactory(kind="mastodon", secret_ref="TANDEM_SECRET_SNEAKY"))


def test_the_mastodon_adapter_never_sends_secret_key_as_its_token(fake_mastodon, settings, monkeypatch):
    """The reported exfiltration: secret_ref=SECRET_KEY, base_url = a server the attacker reads."""
    _INSTANCE_CACHE.clear()
    monkeypatch.setenv("SECRET_KEY", settings.SECRET_KEY)  # as in production, where it comes from the environment
    channel = ChannelFactory(kind="mastodon", secret_ref="SECRET_KEY", config={"base_url": fake_mastodon.url})
    with pytest.raises(MissingSecret):
        MastodonAdapter(channel).publish(Post(text="Bonjour", language="fr"), idempotency_key="k-1")
    with pytest.raises(MissingSecret):
        MastodonAdapter(channel).server_limits()
    assert fake_mastodon.requests == []
