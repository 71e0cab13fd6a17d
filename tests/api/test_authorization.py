"""Every endpoint × every scope × token state: denied with the right status, allowed otherwise."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tokens import api_token_revoke, calendar_link_create
from publisher import alerts, services
from publisher.models import Message
from publisher.services import Audience, VariantInput
from tests.api.conftest import alert_body, message_body
from tests.factories import ChannelFactory, UserFactory, make_message

pytestmark = pytest.mark.django_db

SCOPES = ["read", "compose", "approve", "alert", "admin"]

# (method, path template, body, scopes of which one is enough, runs in this build)
ENDPOINTS = [
    ("get", "/api/v1/municipalities/", None, {"read"}),
    ("get", "/api/v1/municipalities/21004/", None, {"read"}),
    ("get", "/api/v1/segments/", None, {"read"}),
    (
        "post",
        "/api/v1/segments/",
        {"name_fr": "Centre", "name_nl": "Centrum", "municipalities": ["21004"]},
        {"compose"},
    ),
    ("get", "/api/v1/channels/", None, {"admin"}),
    (
        "post",
        "/api/v1/channels/",
        {"name": "FR", "kind": "outbox", "language": "fr", "covers_all": True},
        {"admin"},
    ),
    ("patch", "/api/v1/channels/{channel}/", {"enabled": False}, {"admin"}),
    ("get", "/api/v1/messages/", None, {"read"}),
    ("post", "/api/v1/messages/", message_body(), {"compose"}),
    ("get", "/api/v1/messages/{message}/", None, {"read"}),
    ("patch", "/api/v1/messages/{message}/", {"title": "Nouveau titre"}, {"compose"}),
    ("post", "/api/v1/messages/{message}/submit/", {}, {"compose"}),
    ("post", "/api/v1/messages/{submitted}/approve/", {"comment": "ok"}, {"approve"}),
    ("post", "/api/v1/messages/{submitted}/reject/", {"comment": "no"}, {"approve"}),
    ("post", "/api/v1/messages/{message}/cancel/", {}, {"compose", "approve"}),
    ("post", "/api/v1/messages/{alert}/retract/", {}, {"approve", "alert"}),
    ("get", "/api/v1/messages/{message}/deliveries/", None, {"read"}),
    ("post", "/api/v1/messages/{message}/attachments/", None, {"compose"}),
    ("post", "/api/v1/alerts/", alert_body(), {"alert"}),
    ("get", "/api/v1/alerts/{alert}/", None, {"read"}),
    (
        "post",
        "/api/v1/alerts/{alert}/updates/",
        {"msg_type": "Cancel", "variants": {"fr": {"text": "Fin."}, "nl": {"text": "Einde."}}},
        {"alert"},
    ),
    ("get", "/api/v1/alerts/{alert}/cap.xml", None, {"read"}),
]
IDS = [f"{m.upper()} {p}" for m, p, *_ in ENDPOINTS]


@pytest.fixture
def world(roles):
    """A draft and a submitted message by someone else, an alert, a channel; the token's user may do everything."""
    other = UserFactory(username="other-author", roles=["author"])
    channel = ChannelFactory(language="fr", covers_all=True)
    ChannelFactory(language="nl", covers_all=True)
    message = make_message(author=other)
    submitted = make_message(author=other)
    services.message_submit(message=submitted, actor=other)
    alert = alerts.alert_create(
        token_or_actor=other,
        audience=Audience(municipalities=["21004"]),
        variants={"fr": VariantInput("Alerte"), "nl": VariantInput("Alarm")},
        cap={"event": "Test"},
    )
    user = UserFactory(username="power", roles=["author", "approver", "channel_admin"])
    return {"channel": channel.pk, "message": message.pk, "submitted": submitted.pk, "alert": alert.pk, "user": user}


def call(client, method, path, body, world):
    url = path.format(**world)
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ENDPOINTS, ids=IDS)
@pytest.mark.parametrize("scope", SCOPES)
def test_scope_matrix(make_client, world, scope, method, path, body, allowed):
    client = make_client([scope], user=world["user"])
    response = call(client, method, path, body, world)
    if scope in allowed:
        assert response.status_code not in (401, 403), response.content
        assert response.status_code < 500
    else:
        assert response.status_code == 403, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert scope not in response.json()["detail"] or "needs the scope" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ENDPOINTS, ids=IDS)
@pytest.mark.parametrize("state", ["none", "garbage", "revoked", "expired"])
def test_missing_or_dead_token_is_401(make_client, world, state, method, path, body, allowed):
    client = make_client(SCOPES, user=world["user"], expires_at=timezone.now() + timedelta(hours=1))
    if state == "none":
        client = APIClient()
    elif state == "garbage":
        client.credentials(HTTP_AUTHORIZATION="Bearer tdm_nothing_here")
    elif state == "revoked":
        api_token_revoke(token=client.token)
    before = Message.objects.count()
    with time_machine.travel(timezone.now() + timedelta(hours=2 if state == "expired" else 0)):
        response = call(client, method, path, body, world)
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response["Content-Type"] == "application/problem+json"
    assert Message.objects.count() == before


def test_author_cannot_approve_own_message_through_the_api(make_client, roles):
    both = UserFactory(username="both", roles=["author", "approver"])
    client = make_client(["compose", "approve", "read"], user=both)
    created = client.post("/api/v1/messages/", message_body(), format="json").json()
    assert client.post(f"/api/v1/messages/{created['id']}/submit/").status_code == 200
    response = client.post(f"/api/v1/messages/{created['id']}/approve/", {"comment": "self"}, format="json")
    assert response.status_code == 403
    assert "own message" in response.json()["detail"]
    assert Message.objects.get(pk=created["id"]).state == "submitted"


def test_compose_scope_needs_a_user_who_may_compose(make_client, roles):
    reader = UserFactory(username="reader", roles=["api_client"])
    client = make_client(["compose", "read"], user=reader)
    assert client.post("/api/v1/messages/", message_body(), format="json").status_code == 403
    assert not Message.objects.exists()


def test_approve_scope_needs_an_approver(make_client, world):
    author_only = UserFactory(username="author-only", roles=["author"])
    client = make_client(["approve"], user=author_only)
    response = client.post(f"/api/v1/messages/{world['submitted']}/approve/", {}, format="json")
    assert response.status_code == 403


def test_zone_token_cannot_alert_another_zone(make_client, api_user, brussels_channels):
    client = make_client(["alert", "read"], user=api_user, zones=["5339"])
    # 11002 Antwerpen is not in zone 5339 (Brussels-Capital/Ixelles).
    response = client.post(
        "/api/v1/alerts/",
        alert_body(
            audience={"municipalities": ["21004", "11002"]}, variants={"fr": {"text": "a"}, "nl": {"text": "b"}}
        ),
        format="json",
    )
    assert response.status_code == 403
    assert "11002" in response.json()["detail"]
    assert not Message.objects.exists()
    everywhere = client.post("/api/v1/alerts/", alert_body(audience={"all": True}), format="json")
    assert everywhere.status_code == 403
    by_zone = client.post("/api/v1/alerts/", alert_body(audience={"zones": ["5344"]}), format="json")
    assert by_zone.status_code == 403
    own = client.post("/api/v1/alerts/", alert_body(audience={"municipalities": ["21004"]}), format="json")
    assert own.status_code == 201, own.content


def test_municipality_token_cannot_write_outside_or_see_outside(make_client, world):
    client = make_client(["compose", "approve", "read"], user=world["user"], municipalities=["11002"])
    # The world's messages target 21004: invisible to this token.
    assert client.get(f"/api/v1/messages/{world['message']}/").status_code == 404
    assert client.post(f"/api/v1/messages/{world['submitted']}/approve/", {}, format="json").status_code == 404
    assert client.get("/api/v1/messages/").json()["count"] == 0
    response = client.post("/api/v1/messages/", message_body(), format="json")
    assert response.status_code == 403
    segment = client.post(
        "/api/v1/segments/", {"name_fr": "x", "name_nl": "x", "municipalities": ["21004"]}, format="json"
    )
    assert segment.status_code == 403
    mine = client.post(
        "/api/v1/messages/",
        message_body(variants={"nl": {"text": "Sluit uw auto."}}, audience={"municipalities": ["11002"]}),
        format="json",
    )
    assert mine.status_code == 201
    moved = client.patch(f"/api/v1/messages/{mine.json()['id']}/", {"audience": {"all": True}}, format="json")
    assert moved.status_code == 403
    assert client.get("/api/v1/messages/").json()["count"] == 1


def test_session_user_uses_the_browsable_api_with_role_scopes(client, roles):
    author = UserFactory(username="session-author", roles=["author"])
    client.force_login(author)
    assert client.get("/api/v1/messages/", HTTP_ACCEPT="text/html").status_code == 200
    assert client.get("/api/v1/municipalities/21004/").json()["languages"] == ["fr", "nl"]
    # An author is no channel administrator and pushes no alert.
    assert client.get("/api/v1/channels/").status_code == 403
    assert client.post("/api/v1/alerts/", alert_body(), content_type="application/json").status_code == 403


def test_browsable_api_renders_every_list_and_detail_for_a_superuser(client, roles, brussels_channels):
    client.force_login(UserFactory(username="root", is_superuser=True))
    created = client.post("/api/v1/alerts/", alert_body(), content_type="application/json")
    assert created.status_code == 201, created.content
    alert_id = created.json()["id"]
    for url in (
        "/api/v1/",
        f"/api/v1/alerts/{alert_id}/",
        "/api/v1/messages/",
        f"/api/v1/messages/{alert_id}/",
        f"/api/v1/messages/{alert_id}/deliveries/",
        "/api/v1/channels/",
        "/api/v1/segments/",
        "/api/v1/municipalities/?q=ixelles",
    ):
        page = client.get(url, HTTP_ACCEPT="text/html")
        assert page.status_code == 200, url
        assert b"<html" in page.content


# --- Signed-in people: exactly the scopes their permissions imply ----------------------------

# (roles, may list messages, may list channels)
SESSION_READ = [
    (["channel_admin"], False, True),
    (["author"], True, False),
    (["approver"], True, False),
    (["api_client"], True, False),
    ([], False, False),
]


@pytest.mark.parametrize(("user_roles", "reads_messages", "lists_channels"), SESSION_READ)
def test_session_gets_only_the_scopes_its_permissions_imply(client, world, user_roles, reads_messages, lists_channels):
    person = UserFactory(username="session-person", roles=user_roles)
    client.force_login(person)
    for url in ("/api/v1/messages/", f"/api/v1/messages/{world['message']}/", f"/api/v1/alerts/{world['alert']}/"):
        response = client.get(url)
        assert response.status_code == (200 if reads_messages else 403), (url, response.content)
    assert client.get("/api/v1/channels/").status_code == (200 if lists_channels else 403)


def test_token_read_scope_needs_a_user_who_may_read_messages(make_client, world):
    channel_admin = UserFactory(username="channels-only", roles=["channel_admin"])
    client = make_client(["read", "admin"], user=channel_admin)
    assert client.get("/api/v1/messages/").status_code == 403
    assert client.get("/api/v1/channels/").status_code == 200


# --- The personal calendar feed: only for who may read the admin's message list --------------

# (roles, is_staff, feed answers)
CALENDAR_FEED = [
    (["author"], True, 200),
    (["approver"], True, 200),
    (["channel_admin"], True, 404),
    (["api_client"], False, 404),
    (["author"], False, 404),
    ([], True, 404),
]


@pytest.mark.parametrize(("user_roles", "is_staff", "expected"), CALENDAR_FEED)
def test_calendar_feed_answers_only_who_may_read_the_message_list(client, world, user_roles, is_staff, expected):
    person = UserFactory(username="feed-owner", roles=user_roles, is_staff=is_staff)
    response = client.get(reverse("admin:publisher_message_ical", args=[calendar_link_create(user=person)]))
    assert response.status_code == expected
