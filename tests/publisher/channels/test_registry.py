import pytest
from django.core.exceptions import ImproperlyConfigured

from publisher.channels import registry
from publisher.channels.base import ChannelAdapter, Post, Problem, Receipt
from tests.factories import ChannelFactory

KINDS = ["atom", "bluesky", "cap", "email", "facebook", "instagram", "mastodon", "outbox", "telegram", "webhook", "x"]


class EchoAdapter(ChannelAdapter):
    kind = "echo"

    def check(self, post: Post) -> list[Problem]:
        return []

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        return Receipt(remote_id=idempotency_key)


def test_every_builtin_kind_is_registered_with_its_capabilities(db):
    assert registry.kinds() == KINDS
    for kind in KINDS:
        adapter = registry.get_adapter(ChannelFactory.build(kind=kind))
        assert adapter.kind == kind
        assert adapter.label


def test_settings_add_and_replace_kinds(db, settings):
    settings.TANDEM_CHANNEL_ADAPTERS = {"echo": f"{__name__}.EchoAdapter", "x": f"{__name__}.EchoAdapter"}
    assert isinstance(registry.get_adapter(ChannelFactory.build(kind="echo")), EchoAdapter)
    assert isinstance(registry.get_adapter(ChannelFactory.build(kind="x")), EchoAdapter)
    settings.TANDEM_CHANNEL_ADAPTERS = {"broken": "nowhere.Adapter"}
    with pytest.raises(ImproperlyConfigured, match="broken"):
        registry.kinds()
