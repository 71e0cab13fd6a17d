import socket

import pytest
from django.utils.timezone import now

from publisher.models import AuditEvent, Channel, Segment
from tests.factories import ChannelFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, roles):
    client.force_login(UserFactory(username="chanadmin", is_superuser=True))
    return client


def test_adding_a_channel_goes_through_the_service_and_is_audited(admin_client):
    response = admin_client.post(
        "/admin/publisher/channel/add/",
        {
            "name": "Politie Elsene (Mastodon)",
            "kind": "mastodon",
            "language": "nl",
            "municipalities": ["21004", "21009"],
            "enabled": "on",
            "config": '{"base_url": "https://social.example"}',
            "secret_ref": "TANDEM_SECRET_MASTODON_ELSENE",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.get()
    assert set(channel.municipalities.values_list("pk", flat=True)) == {"21004", "21009"}
    assert AuditEvent.objects.filter(verb="channel.created", object_id=str(channel.pk)).exists()


def test_a_kind_without_an_adapter_is_refused_at_its_field(admin_client):
    response = admin_client.post(
        "/admin/publisher/channel/add/", {"name": "X", "kind": "myspace", "language": "fr", "config": "{}"}
    )
    assert response.status_code == 200
    assert "kind" in response.context["adminform"].form.errors
    assert not Channel.objects.exists()


def test_changing_a_channel_and_reconnecting_it(admin_client):
    channel = ChannelFactory(
        language="fr", covers_all=True, needs_reconnect=True, needs_reconnect_reason="401", needs_reconnect_since=now()
    )
    response = admin_client.post(
        f"/admin/publisher/channel/{channel.pk}/change/",
        {"name": "Renamed", "kind": "outbox", "language": "fr", "covers_all": "on", "enabled": "on", "config": "{}"},
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(verb="channel.updated", object_id=str(channel.pk)).exists()
    admin_client.post("/admin/publisher/channel/", {"action": "mark_reconnected", "_selected_action": [channel.pk]})
    channel.refresh_from_db()
    assert channel.name == "Renamed"
    assert not channel.needs_reconnect
    assert channel.needs_reconnect_since is None


def test_segments_are_saved_through_the_service(admin_client):
    response = admin_client.post(
        "/admin/publisher/segment/add/",
        {"name_fr": "Centre", "name_nl": "Centrum", "municipalities": ["21004"]},
    )
    assert response.status_code == 302
    segment = Segment.objects.get()
    response = admin_client.post(
        f"/admin/publisher/segment/{segment.pk}/change/",
        {"name_fr": "Centre-ville", "name_nl": "Centrum", "municipalities": ["21004", "21009"]},
    )
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.name_fr == "Centre-ville"
    assert segment.municipalities.count() == 2
    assert list(AuditEvent.objects.filter(object_type="segment").values_list("verb", flat=True).order_by("id")) == [
        "segment.created",
        "segment.updated",
    ]


def channel_form(**fields):
    return {
        "name": "Politie Elsene",
        "kind": "mastodon",
        "language": "nl",
        "covers_all": "on",
        "enabled": "on",
        **fields,
    }


@pytest.mark.parametrize("ref", ["SECRET_KEY", "DATABASE_URL", "HOME"])
def test_a_secret_reference_outside_tandem_secret_names_is_a_form_error(admin_client, ref):
    response = admin_client.post(
        "/admin/publisher/channel/add/",
        channel_form(config='{"base_url": "https://93.184.216.34"}', secret_ref=ref),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "TANDEM_SECRET_" in errors["secret_ref"][0]
    assert not Channel.objects.exists()


def test_a_channel_url_to_the_metadata_service_is_a_form_error(admin_client, settings):
    settings.TANDEM_CHANNEL_ALLOWED_NETWORKS = []
    response = admin_client.post(
        "/admin/publisher/channel/add/",
        channel_form(config='{"base_url": "http://169.254.169.254/latest"}', secret_ref="TANDEM_SECRET_ELSENE"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    # In the user's language (French for the factory's users).
    assert errors["config"][0].startswith("base_url: 169.254.169.254 n’est pas une adresse publique (lien local)")
    assert not Channel.objects.exists()


def test_changing_a_channel_to_an_internal_smtp_host_is_a_form_error(admin_client, settings):
    settings.TANDEM_CHANNEL_ALLOWED_NETWORKS = []
    channel = ChannelFactory(kind="email", language="fr", config={"host": "93.184.216.34"})
    response = admin_client.post(
        f"/admin/publisher/channel/{channel.pk}/change/",
        channel_form(kind="email", language="fr", config='{"host": "localhost", "port": 25}'),
    )
    assert response.status_code == 200
    assert "host: localhost correspond à 127.0.0.1" in response.context["adminform"].form.errors["config"][0]
    channel.refresh_from_db()
    assert channel.config == {"host": "93.184.216.34"}


def test_reading_the_limits_of_a_disabled_channel_is_refused_without_a_request(admin_client, monkeypatch):
    from publisher.channels.mastodon import MastodonAdapter

    calls = []
    monkeypatch.setattr(MastodonAdapter, "server_limits", lambda self: calls.append(self) or {})
    channel = ChannelFactory(kind="mastodon", enabled=False, config={"base_url": "https://93.184.216.34"})
    response = admin_client.post(
        "/admin/publisher/channel/", {"action": "refresh_limits", "_selected_action": [channel.pk]}, follow=True
    )
    assert calls == []
    assert any("est désactivé" in str(m) for m in response.context["messages"])


@pytest.mark.django_db(transaction=True)
def test_saving_a_channel_resolves_its_host_outside_any_transaction(client, roles, monkeypatch):
    """No network call inside a transaction: the admin's own one around a save included."""
    from django.db import connection

    from publisher.channels import netpolicy

    client.force_login(UserFactory(username="chanadmin2", is_superuser=True))
    seen = []

    def resolve(host, port):
        seen.append(connection.in_atomic_block)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(netpolicy, "resolve", resolve)
    response = client.post(
        "/admin/publisher/channel/add/",
        channel_form(config='{"base_url": "https://social.example.be"}', secret_ref="TANDEM_SECRET_ELSENE"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Channel.objects.get().config == {"base_url": "https://social.example.be"}
    assert seen
    assert not any(seen)
