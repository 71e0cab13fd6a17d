"""The OpenAPI contract: served, documented offline, and fuzzed in-process with no 5xx."""

import re

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error

from config.wsgi import application
from tests.factories import ChannelFactory, UserFactory

pytestmark = pytest.mark.django_db

# Bounded and seeded so CI stays fast and a failure reproduces.
MAX_EXAMPLES = 12
SEED = 20261127


def test_schema_is_served_and_names_the_contract(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in (
        "/api/v1/municipalities/",
        "/api/v1/municipalities/{nis_code}/",
        "/api/v1/segments/",
        "/api/v1/channels/",
        "/api/v1/channels/{id}/",
        "/api/v1/messages/",
        "/api/v1/messages/{id}/",
        "/api/v1/messages/{id}/submit/",
        "/api/v1/messages/{id}/approve/",
        "/api/v1/messages/{id}/reject/",
        "/api/v1/messages/{id}/cancel/",
        "/api/v1/messages/{id}/retract/",
        "/api/v1/messages/{id}/deliveries/",
        "/api/v1/messages/{id}/attachments/",
        "/api/v1/alerts/",
        "/api/v1/alerts/{id}/",
        "/api/v1/alerts/{id}/updates/",
        "/api/v1/alerts/{id}/cap.xml",
    ):
        assert path in paths, path
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A token created in the admin or with `manage.py create_api_token`.",
    }
    alert_post = paths["/api/v1/alerts/"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in alert_post["parameters"])
    assert "multipart/form-data" in alert_post["requestBody"]["content"]
    channel = schema["components"]["schemas"]["Channel"]["properties"]
    assert "secret_ref" not in channel  # write-only: only in the request component


def test_docs_work_without_internet(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs"):
        assert cdn not in html
    assert client.get("/api/redoc/").status_code == 200
    # The files the page loads are bundled with the project (drf-spectacular-sidecar).
    bundled = re.findall(r"/static/(drf_spectacular_sidecar/[^\"']+)", html)
    assert bundled
    for name in bundled:
        assert finders.find(name), name


@pytest.fixture
def fuzz_headers(make_client, roles):
    # The WSGI app runs in this test's transaction: Django must not close the connection per request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    user = UserFactory(username="fuzzer", roles=["author", "approver", "channel_admin"])
    client = make_client(["read", "compose", "approve", "alert", "admin"], user=user)
    ChannelFactory(language="fr", covers_all=True)
    ChannelFactory(language="nl", covers_all=True)
    yield {"Authorization": f"Bearer {client.plaintext}", "Accept-Language": "fr"}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# Loaded at import from the app itself (no server, no database needed to build the schema).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case, fuzz_headers, settings):
    # Bounded budget for the throttle too: hundreds of fuzzed requests must not be 429s.
    settings.TANDEM_API_RATE = "100000/minute"
    case.call_and_validate(headers=fuzz_headers, checks=[not_a_server_error])
