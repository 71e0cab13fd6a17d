"""Channels through the API: the secret reference and the outgoing-request policy are
checked at save, with a 400 naming the field."""

import pytest

from publisher.models import Channel
from tests.factories import ChannelFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(make_client, roles, settings):
    settings.TANDEM_CHANNEL_ALLOWED_NETWORKS = []
    return make_client(["read", "admin"], user=UserFactory(username="chanadmin", roles=["channel_admin"]))


def create(client, **fields):
    body = {"name": "Police FR", "kind": "outbox", "language": "fr", "covers_all": True, **fields}
    return client.post("/api/v1/channels/", body, format="json")


@pytest.mark.parametrize(
    "ref", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "HOME", "tandem_secret_x", "TANDEM_SECRET_"]
)
def test_a_secret_reference_outside_tandem_secret_names_is_refused(admin_client, ref):
    response = create(admin_client, secret_ref=ref)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert "TANDEM_SECRET_" in response.json()["errors"]["secret_ref"][0]
    assert not Channel.objects.exists()


def test_the_secret_reference_error_is_in_the_users_language(make_client, roles):
    client = make_client(["read", "admin"], user=UserFactory(roles=["channel_admin"]), language="nl")
    response = create(client, secret_ref="SECRET_KEY")
    assert response.status_code == 400
    assert response.json()["errors"]["secret_ref"][0].startswith("Geef de naam van een omgevingsvariabele")


def test_changing_the_secret_reference_is_checked_too(admin_client):
    channel = ChannelFactory(kind="outbox", secret_ref="TANDEM_SECRET_FR")
    response = admin_client.patch(f"/api/v1/channels/{channel.pk}/", {"secret_ref": "SECRET_KEY"}, format="json")
    assert response.status_code == 400
    assert "secret_ref" in response.json()["errors"]
    channel.refresh_from_db()
    assert channel.secret_ref == "TANDEM_SECRET_FR"
    ok = admin_client.patch(f"/api/v1/channels/{channel.pk}/", {"secret_ref": "TANDEM_SECRET_NL"}, format="json")
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("webhook", {"url": "http://127.0.0.1:6379/"}, "config.url"),
        ("webhook", {"url": "https://[::1]/hook"}, "config.url"),
        ("mastodon", {"base_url": "https://169.254.169.254"}, "config.base_url"),
        ("bluesky", {"pds_url": "https://10.0.0.5"}, "config.pds_url"),
        ("telegram", {"api_url": "https://192.168.1.1"}, "config.api_url"),
        ("facebook", {"graph_url": "https://[fd00::1]/v21.0"}, "config.graph_url"),
        ("instagram", {"graph_url": "https://localhost/v21.0"}, "config.graph_url"),
        ("x", {"api_url": "https://0.0.0.0"}, "config.api_url"),
        ("email", {"host": "10.1.1.1", "recipients": ["presse@zone.be"]}, "config.host"),
        ("email", {"recipients": ["presse@zone.be"]}, "config.host"),  # the default host, localhost
    ],
)
def test_a_channel_pointing_at_an_internal_address_is_refused_naming_the_field(admin_client, kind, config, field):
    response = create(admin_client, kind=kind, config=config, secret_ref="TANDEM_SECRET_FR")
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert list(errors) == [field]
    assert "is not a public address" in errors[field][0]
    assert not Channel.objects.exists()


def test_plain_http_is_refused_outside_debug(admin_client, settings):
    settings.TANDEM_CHANNEL_HTTP_ALLOWED = False
    response = create(admin_client, kind="webhook", config={"url": "http://93.184.216.34/hook"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"config.url": ["Use an https:// URL."]}


def test_changing_the_kind_checks_the_stored_config_as_the_new_kind_reads_it(admin_client):
    channel = ChannelFactory(kind="outbox", config={"url": "https://169.254.169.254/latest/meta-data/"})
    response = admin_client.patch(f"/api/v1/channels/{channel.pk}/", {"kind": "webhook"}, format="json")
    assert response.status_code == 400
    assert "config.url" in response.json()["errors"]
    assert Channel.objects.get(pk=channel.pk).kind == "outbox"


def test_a_public_destination_is_accepted(admin_client):
    response = create(
        admin_client, kind="webhook", config={"url": "https://93.184.216.34/hook"}, secret_ref="TANDEM_SECRET_HOOK"
    )
    assert response.status_code == 201, response.content
