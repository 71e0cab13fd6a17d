import pytest

from publisher.models import AuditEvent, Delivery, Message, MessageKind, MessageState
from tests.api.conftest import alert_body
from tests.factories import ChannelFactory, make_message

pytestmark = pytest.mark.django_db


def test_alert_is_published_now_by_policy(alert_client, brussels_channels):
    ChannelFactory(name="NL Antwerpen", language="nl", coverage=["11002"])  # outside the audience
    response = alert_client.post("/api/v1/alerts/", alert_body(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "scheduled"
    assert body["urgency"] == "urgent"
    assert body["approved_by_policy"] is True
    assert body["languages"] == ["fr", "nl"]
    assert body["cap_url"] == f"http://testserver/api/v1/alerts/{body['id']}/cap.xml"
    assert body["cap"]["category"] == "Fire"
    deliveries = {(d["channel_name"], d["language"], d["state"]) for d in body["deliveries"]}
    assert deliveries == {("FR Bruxelles", "fr", "pending"), ("NL Brussel", "nl", "pending")}
    assert set(body["deliveries"][0]) >= {"id", "channel", "language", "state", "remote_url"}
    assert all(d.urgent for d in Delivery.objects.all())

    message = Message.objects.get(pk=body["id"])
    assert message.approved_by_policy
    assert message.approved_by is None
    assert message.approved_hash == message.content_hash
    event = AuditEvent.objects.get(verb="message.approved_by_policy", object_id=str(message.pk))
    assert event.actor_label == "policy:urgent-alert"
    assert event.summary["token"] == alert_client.token.prefix
    assert event.actor == alert_client.user


def test_exercise_runs_the_same_flow(alert_client, brussels_channels):
    response = alert_client.post("/api/v1/alerts/", alert_body(status="exercise"), format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "exercise"
    assert Delivery.objects.count() == 2


def test_alert_missing_dutch_is_a_clear_400_and_stores_nothing(alert_client, brussels_channels):
    response = alert_client.post("/api/v1/alerts/", alert_body(variants={"fr": {"text": "Incendie"}}), format="json")
    assert response.status_code == 400
    problem = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert problem["errors"]["variants.nl"] == [
        "The audience includes Brussels-Capital (Bruxelles / Brussel): French and Dutch are required. "
        "Add the Dutch text."
    ]
    assert not Message.objects.exists()
    assert not AuditEvent.objects.filter(object_type="message").exists()


def test_flemish_alert_needs_no_french(alert_client):
    ChannelFactory(language="nl", coverage=["11002"])
    response = alert_client.post(
        "/api/v1/alerts/",
        alert_body(audience={"municipalities": ["11002"]}, variants={"nl": {"text": "Brand"}}),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["languages"] == ["nl"]


def test_update_and_all_clear_follow_the_alert_on_the_same_channels(alert_client, brussels_channels):
    alert = alert_client.post("/api/v1/alerts/", alert_body(), format="json").json()
    update = alert_client.post(
        f"/api/v1/alerts/{alert['id']}/updates/",
        {
            "msg_type": "Update",
            "variants": {"fr": {"text": "Feu maîtrisé."}, "nl": {"text": "Brand onder controle."}},
            "severity": "Moderate",
        },
        format="json",
    )
    assert update.status_code == 201, update.content
    body = update.json()
    assert body["kind"] == "Update"
    assert body["follows"] == alert["id"]
    assert body["approved_by_policy"] is True
    assert body["cap"]["severity"] == "Moderate"
    assert body["cap"]["event"] == "Incendie / Brand"
    assert {d["channel"] for d in body["deliveries"]} == {d["channel"] for d in alert["deliveries"]}
    clear = alert_client.post(
        f"/api/v1/alerts/{alert['id']}/updates/",
        {"msg_type": "Cancel", "variants": {"fr": {"text": "Fin de l'alerte."}, "nl": {"text": "Einde alarm."}}},
        format="json",
    )
    assert clear.status_code == 201
    assert Message.objects.get(pk=clear.json()["id"]).kind == MessageKind.CANCEL
    assert AuditEvent.objects.filter(verb="message.approved_by_policy").count() == 3


def test_follow_up_needs_every_language_too(alert_client, brussels_channels):
    alert = alert_client.post("/api/v1/alerts/", alert_body(), format="json").json()
    response = alert_client.post(
        f"/api/v1/alerts/{alert['id']}/updates/",
        {"msg_type": "Update", "variants": {"fr": {"text": "Seulement en français."}}},
        format="json",
    )
    assert response.status_code == 400
    assert Message.objects.count() == 1


def test_only_alerts_can_be_followed_up(alert_client, author):
    routine = make_message(author=author)
    response = alert_client.post(
        f"/api/v1/alerts/{routine.pk}/updates/",
        {"msg_type": "Update", "variants": {"fr": {"text": "a"}, "nl": {"text": "b"}}},
        format="json",
    )
    assert response.status_code == 404


def test_cancelled_alert_cannot_be_followed_up(alert_client, brussels_channels):
    alert = alert_client.post("/api/v1/alerts/", alert_body(), format="json").json()
    Message.objects.filter(pk=alert["id"]).update(state=MessageState.CANCELLED)
    response = alert_client.post(
        f"/api/v1/alerts/{alert['id']}/updates/",
        {"msg_type": "Update", "variants": {"fr": {"text": "a"}, "nl": {"text": "b"}}},
        format="json",
    )
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"


def test_get_alert_shows_delivery_status(alert_client, brussels_channels):
    alert = alert_client.post("/api/v1/alerts/", alert_body(), format="json").json()
    Delivery.objects.filter(language="fr").update(state="sent", remote_url="https://example.test/1")
    body = alert_client.get(f"/api/v1/alerts/{alert['id']}/").json()
    fr = next(d for d in body["deliveries"] if d["language"] == "fr")
    assert (fr["state"], fr["remote_url"]) == ("sent", "https://example.test/1")


def test_cap_document(alert_client, brussels_channels):
    alert = alert_client.post("/api/v1/alerts/", alert_body(), format="json").json()
    response = alert_client.get(f"/api/v1/alerts/{alert['id']}/cap.xml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    assert b"urn:oasis:names:tc:emergency:cap:1.2" in response.content
    assert b"<info>" in response.content or b"<info " in response.content


def test_alert_with_an_image(alert_client, brussels_channels):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.api.test_messages import png_bytes

    body = alert_body()
    response = alert_client.post(
        "/api/v1/alerts/",
        {
            **{k: v for k, v in body.items() if k not in ("audience", "variants")},
            "audience": '{"municipalities": ["21004"]}',
            "variants": '{"fr": {"text": "Incendie"}, "nl": {"text": "Brand"}}',
            "image": SimpleUploadedFile("fire.png", png_bytes(), content_type="image/png"),
            "alt_fr": "Fumée au-dessus du centre",
            "alt_nl": "Rook boven het centrum",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert Message.objects.get(pk=response.json()["id"]).attachments.count() == 1


def test_alert_service_rolls_back_when_a_language_is_missing(api_user):
    from django.core.exceptions import ValidationError

    from publisher.workflow import alerts
    from publisher.workflow.services import Audience, VariantInput

    with pytest.raises(ValidationError):
        alerts.alert_create(
            token_or_actor=api_user,
            audience=Audience(municipalities=["21004"]),
            variants={"fr": VariantInput("Incendie")},
            cap={"event": "Fire"},
        )
    assert not Message.objects.exists()
    assert not AuditEvent.objects.filter(object_type="message").exists()


class _UnreachableCache:
    """The throttle's cache while Redis is down."""

    def get(self, *args, **kwargs):
        import redis

        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    set = get


def test_alert_is_accepted_and_delivered_later_while_the_cache_and_broker_are_down(
    alert_client, brussels_channels, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from publisher.api.throttling import TokenRateThrottle
    from publisher.delivery import dispatch, enqueue

    monkeypatch.setattr(TokenRateThrottle, "cache", _UnreachableCache())
    real_enqueue = enqueue.enqueue_publish
    monkeypatch.setattr(enqueue, "enqueue_publish", _UnreachableCache().get)
    with django_capture_on_commit_callbacks(execute=True):
        response = alert_client.post("/api/v1/alerts/", alert_body(), format="json")
    assert response.status_code == 201, response.content
    assert "Request budget unavailable" in caplog.text
    assert "Hand-over of 2 deliveries to the broker failed" in caplog.text
    deliveries = Delivery.objects.filter(occurrence__message_id=response.json()["id"])
    assert deliveries.count() == 2
    assert {d.state for d in deliveries} == {"queued"}

    # The broker is back: the dispatcher's next claim, a second later, hands them over.
    monkeypatch.setattr(enqueue, "enqueue_publish", real_enqueue)
    with time_machine.travel(timezone.now() + timedelta(seconds=1.5)):
        with django_capture_on_commit_callbacks(execute=True):
            assert dispatch.dispatch_once() == 2
    assert {d.state for d in deliveries.all()} == {"sent"}


def _sent(alert):
    """The alert's posts went out (what the publish task records)."""
    for delivery in Delivery.objects.filter(occurrence__message_id=alert["id"]):
        Delivery.objects.filter(pk=delivery.pk).update(state="sent", remote_id=f"post-{delivery.pk}")
    Message.objects.filter(pk=alert["id"]).update(state=MessageState.PUBLISHED)


def test_a_correction_by_policy_goes_where_the_text_changed(alert_client, brussels_channels):
    alert = alert_client.post("/api/v1/alerts/", alert_body(), format="json").json()
    _sent(alert)
    fixed = {
        "fr": {"text": "Incendie rue Neuve: évitez le quartier."},
        "nl": {"text": "Brand Nieuwstraat: vermijd de buurt."},
    }

    response = alert_client.post(
        f"/api/v1/alerts/{alert['id']}/updates/",
        {"msg_type": "Update", "correction": True, "variants": fixed},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["is_correction"] is True
    assert body["approved_by_policy"] is True
    assert [(d["channel_name"], d["language"]) for d in body["deliveries"]] == [("NL Brussel", "nl")]
    correction = Delivery.objects.get(pk=body["deliveries"][0]["id"])
    assert correction.reply_to.occurrence.message_id == alert["id"]
    assert AuditEvent.objects.filter(verb="message.approved_by_policy", object_id=str(body["id"])).exists()


def test_a_correction_must_change_the_text_and_be_an_update(alert_client, brussels_channels):
    alert = alert_client.post("/api/v1/alerts/", alert_body(), format="json").json()
    _sent(alert)
    same = alert_body()["variants"]
    url = f"/api/v1/alerts/{alert['id']}/updates/"

    unchanged = alert_client.post(url, {"msg_type": "Update", "correction": True, "variants": same}, format="json")
    cancel = alert_client.post(url, {"msg_type": "Cancel", "correction": True, "variants": same}, format="json")

    assert unchanged.status_code == 400
    assert "changes nothing" in unchanged.content.decode()
    assert cancel.status_code == 400
    assert cancel.json()["errors"]["correction"] == ["A correction is an Update: it replaces the alert's text."]
    assert Message.objects.count() == 1
