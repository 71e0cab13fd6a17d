import pytest

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
            "secret_ref": "TANDEM_MASTODON_ELSENE",
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
    channel = ChannelFactory(language="fr", covers_all=True, needs_reconnect=True, needs_reconnect_reason="401")
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
