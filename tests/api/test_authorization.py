"""Every endpoint × every scope × token state: denied with the right status, allowed otherwise."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tokens import api_token_revoke, calendar_link_create
from publisher.models import Delivery, Message
from publisher.workflow import alerts, services
from publisher.workflow.checklist import checklist_all_ticked
from publisher.workflow.services import Audience, VariantInput
from tests.api.conftest import alert_body, message_body
from tests.factories import ChannelFactory, SegmentFactory, UserFactory, make_message

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
    # A routine message was approved by a person: only the approve scope withdraws it.
    ("post", "/api/v1/messages/{routine}/retract/", {}, {"approve"}),
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
    routine = make_message(author=other)
    services.message_submit(message=routine, actor=other)
    services.message_approve(
        message=routine, actor=UserFactory(username="reviewer", roles=["approver"]), checklist=checklist_all_ticked()
    )
    user = UserFactory(username="power", roles=["author", "approver", "channel_admin"])
    return {
        "channel": channel.pk,
        "message": message.pk,
        "submitted": submitted.pk,
        "alert": alert.pk,
        "routine": routine.pk,
        "user": user,
    }


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


# --- four eyes --------------------------------------------------------------------------------


def test_editor_then_approver_is_refused_through_the_api(make_client, world):
    """Someone who rewrote another author's draft may not approve it; another approver may."""
    client = make_client(["compose", "approve", "read"], user=world["user"], language="fr")
    url = f"/api/v1/messages/{world['message']}/"
    rewritten = {"variants": {"fr": {"text": "Texte réécrit."}, "nl": {"text": "Herschreven tekst."}}}
    assert client.patch(url, rewritten, format="json").status_code == 200
    assert client.post(f"{url}submit/").status_code == 200
    response = client.post(f"{url}approve/", {"comment": "ok"}, format="json")
    assert response.status_code == 403, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert "Vous avez modifié ce message" in response.json()["detail"]
    assert Message.objects.get(pk=world["message"]).state == "submitted"
    other_approver = make_client(["approve", "read"], user=UserFactory(username="second", roles=["approver"]))
    approved = other_approver.post(f"{url}approve/", {"checklist": checklist_all_ticked()}, format="json")
    assert approved.status_code == 200, approved.content


def test_segment_after_approval_voids_the_approval_and_binds_its_editor(make_client, client, roles):
    """Widening a segment (admin page) sends the approved message that uses it back to draft;
    whoever widened it may not approve the result, and its deliveries stay on the approved audience."""
    author = UserFactory(username="seg-author", roles=["author"])
    editor = UserFactory(username="seg-editor", roles=["author", "approver"])
    segment = SegmentFactory(name_fr="Centre", name_nl="Centrum", nis=["21004"])
    ChannelFactory(language="fr", coverage=["21004"])
    ChannelFactory(language="nl", coverage=["21004"])
    added = ChannelFactory(language="fr", coverage=["21009"])
    created = make_client(["compose", "read"], user=author).post(
        "/api/v1/messages/", message_body(audience={"segments": [segment.pk]}), format="json"
    )
    message = Message.objects.get(pk=created.json()["id"])
    services.message_submit(message=message, actor=author)
    reviewer = UserFactory(username="seg-reviewer", roles=["approver"])
    services.message_approve(message=message, actor=reviewer, checklist=checklist_all_ticked())
    client.force_login(editor)
    response = client.post(
        f"/admin/publisher/segment/{segment.pk}/change/",
        {"name_fr": "Centre", "name_nl": "Centrum", "municipalities": ["21004", "21009"]},
    )
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.state == "draft"
    assert not Delivery.objects.filter(channel=added).exists()
    services.message_submit(message=message, actor=author)
    api = make_client(["approve", "read"], user=editor)
    refused = api.post(f"/api/v1/messages/{message.pk}/approve/", {}, format="json")
    assert refused.status_code == 403
    again = make_client(["approve", "read"], user=reviewer).post(
        f"/api/v1/messages/{message.pk}/approve/", {"checklist": checklist_all_ticked()}, format="json"
    )
    assert again.status_code == 200, again.content
    assert Delivery.objects.filter(channel=added).exists()


def test_alert_token_retracts_only_alerts_in_its_own_area(make_client, api_user, world):
    """The alert scope withdraws urgent alerts in its area; a routine message needs the approve scope."""
    alert_only = make_client(["alert", "read"], user=api_user)
    refused = alert_only.post(f"/api/v1/messages/{world['routine']}/retract/", {"reason": "x"}, format="json")
    assert refused.status_code == 403, refused.content
    assert refused["Content-Type"] == "application/problem+json"
    assert Message.objects.get(pk=world["routine"]).state == "scheduled"
    elsewhere = make_client(["alert", "read"], user=api_user, zones=["5344"])
    outside = elsewhere.post(f"/api/v1/messages/{world['alert']}/retract/", {"reason": "x"}, format="json")
    assert outside.status_code in (403, 404)
    assert Message.objects.get(pk=world["alert"]).state != "retracted"
    own_zone = make_client(["alert", "read"], user=api_user, zones=["5339"])
    done = own_zone.post(f"/api/v1/messages/{world['alert']}/retract/", {"reason": "fin"}, format="json")
    assert done.status_code == 200, done.content
    assert Message.objects.get(pk=world["alert"]).state == "retracted"
    approver = make_client(["approve"], user=world["user"])
    assert approver.post(f"/api/v1/messages/{world['routine']}/retract/", {}, format="json").status_code == 200


def test_approve_scope_retracts_only_for_an_approver(make_client, world):
    author_only = make_client(["approve", "read"], user=UserFactory(username="writer", roles=["author"]))
    response = author_only.post(f"/api/v1/messages/{world['routine']}/retract/", {}, format="json")
    assert response.status_code == 403
    assert Message.objects.get(pk=world["routine"]).state == "scheduled"


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
