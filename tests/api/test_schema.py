"""The OpenAPI contract: served, documented offline, and fuzzed in-process with every check."""

import os
import re
import secrets
from collections import Counter
from datetime import timedelta

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core import signals
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, seed
from hypothesis import settings as hypothesis_settings
from schemathesis.config import SchemathesisConfig

from config.wsgi import application
from tests.factories import ChannelFactory, UserFactory

pytestmark = pytest.mark.django_db

# Bounded so CI stays within a few minutes; a new seed every run (printed), pinned with
# TANDEM_FUZZ_SEED to reproduce a failure.
MAX_EXAMPLES = int(os.environ.get("TANDEM_FUZZ_EXAMPLES", "12"))
STATEFUL_EXAMPLES = int(os.environ.get("TANDEM_FUZZ_STATEFUL_EXAMPLES", "20"))
STATEFUL_STEPS = 6
SEED = int(os.environ.get("TANDEM_FUZZ_SEED") or secrets.randbelow(2**32))


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


def test_errors_are_documented_as_problems_and_objects_link_to_their_actions(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert set(schema["components"]["schemas"]["Problem"]["required"]) == {"type", "title", "status", "detail"}
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = {"400", "401", "403", "404", "406", "429"} | ({"409", "413", "415"} if method != "get" else set())
            for code in codes:
                assert operation["responses"][code]["content"] == {"application/problem+json": problem}, (path, code)
    links = schema["paths"]["/api/v1/messages/"]["post"]["responses"]["201"]["links"]
    assert links["messages_submit_create"] == {
        "operationId": "messages_submit_create",
        "parameters": {"id": "$response.body#/id"},
    }
    assert "links" not in schema["paths"]["/api/v1/messages/{id}/attachments/"]["post"]["responses"]["201"]
    # Empty until published: not a "uri".
    assert "format" not in schema["components"]["schemas"]["Delivery"]["properties"]["remote_url"]


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
    FUZZ_TOKEN["plaintext"] = client.plaintext
    yield {"Accept-Language": "fr"}
    FUZZ_TOKEN.clear()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(scope="module", autouse=True)
def _announce_seed(pytestconfig):
    reporter = pytestconfig.pluginmanager.getplugin("terminalreporter")
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"schemathesis seed {SEED} (reproduce with TANDEM_FUZZ_SEED={SEED})")


# Every check runs. One adjustment: a request that fits the schema may still break a rule
# JSON Schema cannot state (a time between 2000 and ten years ahead, an audience that needs
# a Dutch text, a known municipality), and is then refused with a 400 problem naming the
# field; any other refusal of schema-valid data (406, 413, 415, 422, a 5xx) still fails.
ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
CONFIG = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}}})

# Loaded at import from the app itself (no server, no database needed to build the schema).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)

# The token of the test running now (each test has its own database).
FUZZ_TOKEN: dict[str, str] = {}


@schema.auth(refresh_interval=None, retry_on=[])
class FuzzerToken:
    """Auth that Schemathesis knows about, so its auth checks can take it away and try
    without it or with a wrong one (a header passed with the call would be sent anyway)."""

    def get(self, case, ctx):
        return FUZZ_TOKEN.get("plaintext", "")  # also asked while collecting, before any test runs

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


FUZZ_SETTINGS = {
    "deadline": None,
    "database": None,
    "derandomize": False,
    "suppress_health_check": list(HealthCheck),
}


@schema.parametrize()
@seed(SEED)
@hypothesis_settings(max_examples=MAX_EXAMPLES, **FUZZ_SETTINGS)
def test_api_conforms_to_its_schema(case, fuzz_headers, settings):
    """Every check (no 5xx, documented status and content type, response schema, negative
    data rejected, ...), on valid and on invalid requests."""
    # Bounded budget for the throttle too: hundreds of fuzzed requests must not be 429s.
    settings.TANDEM_API_RATE = "100000/minute"
    print(f"schemathesis seed {SEED}")  # noqa: T201 - shown with a failure, to reproduce it
    case.call_and_validate(headers=fuzz_headers)


# The stateful run walks the links from a created object to its actions; random bodies are
# almost never a valid message (a real municipality, both languages, a time to come), so
# there the create bodies keep their generated shape but get a real audience, texts and time.
# Valid requests only (invalid ones are the parametrized test's): the filled-in fields would
# otherwise turn an invalid request into a valid one.
STATEFUL_CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "positive"},
        "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
    }
)
stateful_schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=STATEFUL_CONFIG)
stateful_schema.auth(refresh_interval=None, retry_on=[])(FuzzerToken)


@stateful_schema.hook
def map_body(ctx, body):
    operation = ctx.operation
    if not isinstance(body, dict) or operation is None or operation.method.upper() != "POST":
        return body
    if operation.path in ("/api/v1/messages/", "/api/v1/alerts/"):
        body["audience"] = {"municipalities": ["21004"]}
        body["variants"] = {"fr": {"text": "Fermez votre voiture."}, "nl": {"text": "Sluit uw auto."}}
        body.pop("image", None)
    if operation.path == "/api/v1/messages/":
        body["publish_at"] = (timezone.now() + timedelta(days=30)).isoformat()
        body.pop("recurrence", None)
    if operation.path == "/api/v1/segments/":
        body["municipalities"] = ["21004", "21009"]
    return body


def test_stateful_workflows_conform(fuzz_headers, settings):
    """Chains of calls along the schema's links: create a message, then submit, approve,
    retract it...; an alert, then its updates and CAP document."""
    settings.TANDEM_API_RATE = "100000/minute"

    calls: Counter[str] = Counter()

    class Workflows(stateful_schema.as_state_machine()):  # type: ignore[misc]
        # Each scenario starts from the same database, so Hypothesis can replay and shrink one.
        def setup(self):
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def get_call_kwargs(self, case):
            return {"headers": fuzz_headers}

        def after_call(self, response, case):
            super().after_call(response, case)
            calls[f"{case.method} {case.path} {response.status_code // 100}xx"] += 1

    print(f"schemathesis seed {SEED}")  # noqa: T201 - shown with a failure, to reproduce it
    try:
        seed(SEED)(Workflows).run(
            settings=hypothesis_settings(
                max_examples=STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS, **FUZZ_SETTINGS
            )
        )
    finally:
        # Shown with a failure (or with -s): how far the scenarios got along the links.
        print("stateful calls:", dict(sorted(calls.items())))  # noqa: T201
