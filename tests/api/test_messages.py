import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from publisher.models import AuditEvent, Channel, Delivery, Message, Segment
from publisher.workflow.checklist import checklist_all_ticked, checklist_validate
from tests.api.conftest import alert_body, message_body
from tests.factories import ChannelFactory, UserFactory

pytestmark = pytest.mark.django_db


def png_bytes(size=(800, 600)):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def author_client(make_client, author):
    return make_client(["read", "compose"], user=author)


@pytest.fixture
def approver_client(make_client, approver):
    return make_client(["read", "approve"], user=approver)


def test_full_workflow_through_the_api(author_client, approver_client, brussels_channels):
    created = author_client.post("/api/v1/messages/", message_body(), format="json")
    assert created.status_code == 201, created.content
    message = created.json()
    assert message["state"] == "draft"
    assert message["languages"] == ["fr", "nl"]
    assert message["variants"]["nl"] == {"text": "Sluit uw auto.", "link": ""}
    assert message["publish_at"].startswith("2031-03-03T09:00:00")

    submitted = author_client.post(f"/api/v1/messages/{message['id']}/submit/")
    assert submitted.json()["state"] == "submitted"
    approved = approver_client.post(
        f"/api/v1/messages/{message['id']}/approve/",
        {"comment": "Relu.", "checklist": checklist_all_ticked()},
        format="json",
    )
    assert approved.status_code == 200, approved.content
    assert approved.json()["state"] == "scheduled"
    event = AuditEvent.objects.get(verb="message.approved", object_id=str(message["id"]))
    assert event.summary["comment"] == "Relu."
    assert event.summary["checklist"] == checklist_validate(checklist_all_ticked())

    deliveries = approver_client.get(f"/api/v1/messages/{message['id']}/deliveries/").json()
    assert deliveries["count"] == 2
    assert {d["language"] for d in deliveries["results"]} == {"fr", "nl"}


def test_editing_an_approved_message_sends_it_back_to_draft(author_client, approver_client, brussels_channels):
    message = author_client.post("/api/v1/messages/", message_body(), format="json").json()
    author_client.post(f"/api/v1/messages/{message['id']}/submit/")
    approver_client.post(f"/api/v1/messages/{message['id']}/approve/", {}, format="json")
    edited = author_client.patch(
        f"/api/v1/messages/{message['id']}/",
        {"variants": {"fr": {"text": "Nouveau texte."}, "nl": {"text": "Nieuwe tekst."}}},
        format="json",
    )
    assert edited.status_code == 200, edited.content
    assert edited.json()["state"] == "draft"
    assert not Delivery.objects.filter(state="pending").exists()


def test_reject_needs_a_comment_and_cancel_stops(author_client, approver_client):
    message = author_client.post("/api/v1/messages/", message_body(), format="json").json()
    author_client.post(f"/api/v1/messages/{message['id']}/submit/")
    assert approver_client.post(f"/api/v1/messages/{message['id']}/reject/", {}, format="json").status_code == 400
    rejected = approver_client.post(
        f"/api/v1/messages/{message['id']}/reject/", {"comment": "Pas de nom de suspect."}, format="json"
    )
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["state_reason"] == "Pas de nom de suspect."
    cancelled = author_client.post(f"/api/v1/messages/{message['id']}/cancel/", {"reason": "obsolète"}, format="json")
    assert cancelled.json()["state"] == "cancelled"
    again = author_client.post(f"/api/v1/messages/{message['id']}/cancel/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["type"] == "/api/problems/conflict"


def test_submit_without_dutch_for_brussels_is_a_400(author_client):
    message = author_client.post(
        "/api/v1/messages/", message_body(variants={"fr": {"text": "Bonjour"}}), format="json"
    ).json()
    response = author_client.post(f"/api/v1/messages/{message['id']}/submit/")
    assert response.status_code == 400
    assert "Dutch" in response.json()["detail"]
    assert Message.objects.get(pk=message["id"]).state == "draft"


def test_recurrence_is_stored_with_its_start(author_client):
    response = author_client.post(
        "/api/v1/messages/",
        message_body(
            publish_at=None, recurrence={"rrule": "FREQ=WEEKLY;BYDAY=MO", "dtstart": "2031-03-03T09:00:00+01:00"}
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["recurrence"] == {"rrule": "FREQ=WEEKLY;BYDAY=MO", "dtstart": "2031-03-03T09:00:00+01:00"}


def test_retract(make_client, alert_client, brussels_channels, approver):
    alert = alert_client.post("/api/v1/alerts/", alert_body(), format="json").json()
    client = make_client(["approve", "read"], user=approver)
    response = client.post(f"/api/v1/messages/{alert['id']}/retract/", {"reason": "erreur"}, format="json")
    assert response.status_code == 200, response.content


def test_attachment_upload(author_client):
    message = author_client.post("/api/v1/messages/", message_body(), format="json").json()
    response = author_client.post(
        f"/api/v1/messages/{message['id']}/attachments/",
        {
            "image": SimpleUploadedFile("photo.png", png_bytes(), content_type="image/png"),
            "alt_fr": "Une voiture",
            "alt_nl": "Een auto",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["alt_nl"] == "Een auto"


def test_non_image_upload_is_a_400(author_client):
    message = author_client.post("/api/v1/messages/", message_body(), format="json").json()
    response = author_client.post(
        f"/api/v1/messages/{message['id']}/attachments/",
        {
            "image": SimpleUploadedFile("notes.png", b"not an image at all", content_type="image/png"),
            "alt_fr": "x",
            "alt_nl": "y",
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert not Message.objects.get(pk=message["id"]).attachments.exists()


def test_text_over_a_channel_limit_is_a_400(alert_client):
    ChannelFactory(kind="bluesky", language="fr", covers_all=True)
    ChannelFactory(kind="bluesky", language="nl", covers_all=True)
    response = alert_client.post(
        "/api/v1/alerts/",
        alert_body(variants={"fr": {"text": "x" * 400}, "nl": {"text": "Brand."}}),
        format="json",
    )
    assert response.status_code == 400, response.content
    assert not Message.objects.exists()


def test_segments_and_channels(make_client, roles):
    admin = UserFactory(username="chanadmin", roles=["author", "channel_admin"])
    client = make_client(["read", "compose", "admin"], user=admin)
    segment = client.post(
        "/api/v1/segments/",
        {"name_fr": "Centre", "name_nl": "Centrum", "municipalities": ["21004", "21009"]},
        format="json",
    )
    assert segment.status_code == 201, segment.content
    assert Segment.objects.get().municipalities.count() == 2
    assert client.get("/api/v1/segments/").json()["results"][0]["municipalities"] == ["21004", "21009"]

    created = client.post(
        "/api/v1/channels/",
        {
            "name": "Police FR",
            "kind": "outbox",
            "language": "fr",
            "municipalities": ["21004"],
            "secret_ref": "TANDEM_SECRET_FR",
            "config": {"folder": "fr"},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert "secret_ref" not in body
    assert body["has_secret"] is True
    assert Channel.objects.get().secret_ref == "TANDEM_SECRET_FR"
    patched = client.patch(f"/api/v1/channels/{body['id']}/", {"enabled": False}, format="json")
    assert patched.json()["enabled"] is False
    assert "TANDEM_SECRET_FR" not in str(AuditEvent.objects.filter(object_type="channel").values_list("summary"))
    unknown = client.post("/api/v1/channels/", {"name": "X", "kind": "pigeon", "language": "fr"}, format="json")
    assert unknown.status_code == 400
    assert "kind" in unknown.json()["errors"]


def test_a_title_with_a_carriage_return_is_a_400_naming_the_title(make_client):
    client = make_client(["compose", "read"])
    response = client.post("/api/v1/messages/", message_body(title="Prévention\rvols"), format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["title"]
    created = client.post("/api/v1/messages/", message_body(), format="json").json()
    response = client.patch(f"/api/v1/messages/{created['id']}/", {"title": "Vols\nde vélos"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["title"]
    assert client.get(f"/api/v1/messages/{created['id']}/").json()["title"] == "Prévention vols"
