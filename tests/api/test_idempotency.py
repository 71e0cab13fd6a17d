import json
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from accounts.models import IdempotencyRecord
from publisher.api.idempotency import idempotency_records_purge
from publisher.models import Delivery, Message
from tests.api.conftest import alert_body, message_body
from tests.factories import ChannelFactory


def post(client, path, body, key, **extra):
    return client.post(path, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key, **extra)


@pytest.mark.django_db
def test_same_key_same_body_returns_the_first_response(alert_client, brussels_channels):
    first = post(alert_client, "/api/v1/alerts/", alert_body(), "k-1")
    second = post(alert_client, "/api/v1/alerts/", alert_body(), "k-1")
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert second["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1
    assert Delivery.objects.count() == 2


@pytest.mark.django_db
def test_same_json_with_other_spacing_and_key_order_is_the_same_request(alert_client, brussels_channels):
    body = alert_body()
    first = alert_client.post(
        "/api/v1/alerts/", json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    second = alert_client.post("/api/v1/alerts/", reordered, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_same_key_other_body_is_a_409(alert_client, brussels_channels):
    assert post(alert_client, "/api/v1/alerts/", alert_body(), "k-2").status_code == 201
    other = post(alert_client, "/api/v1/alerts/", alert_body(event="Autre"), "k-2")
    assert other.status_code == 409
    assert other["Content-Type"] == "application/problem+json"
    assert "different request" in other.json()["detail"]
    # The same key on another endpoint is another request too.
    assert post(alert_client, "/api/v1/messages/", message_body(), "k-2").status_code in (403, 409)
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_token(make_client, api_user, brussels_channels):
    one = make_client(["alert", "read"], user=api_user)
    two = make_client(["alert", "read"], user=api_user)
    assert post(one, "/api/v1/alerts/", alert_body(), "shared").status_code == 201
    assert post(two, "/api/v1/alerts/", alert_body(), "shared").status_code == 201
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_a_failed_request_keeps_nothing_and_can_be_retried(alert_client, brussels_channels):
    bad = post(alert_client, "/api/v1/alerts/", alert_body(variants={"fr": {"text": "Feu"}}), "k-3")
    assert bad.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    # The client fixes its body and retries with the same key: the first success is what counts.
    good = post(alert_client, "/api/v1/alerts/", alert_body(), "k-3")
    assert good.status_code == 201
    assert post(alert_client, "/api/v1/alerts/", alert_body(), "k-3").json()["id"] == good.json()["id"]


@pytest.mark.django_db
def test_message_actions_are_idempotent_too(make_client, author, brussels_channels):
    client = make_client(["compose", "read"], user=author)
    first = post(client, "/api/v1/messages/", message_body(), "create-1")
    again = post(client, "/api/v1/messages/", message_body(), "create-1")
    assert again.json()["id"] == first.json()["id"]
    submit = post(client, f"/api/v1/messages/{first.json()['id']}/submit/", {}, "submit-1")
    # Without the key a second submit would be a 409 (already submitted); with it, the first answer.
    replay = post(client, f"/api/v1/messages/{first.json()['id']}/submit/", {}, "submit-1")
    assert submit.status_code == replay.status_code == 200
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_overlong_key_is_a_400(alert_client):
    response = post(alert_client, "/api/v1/alerts/", alert_body(), "k" * 300)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]


@pytest.mark.django_db
def test_records_are_kept_a_day_then_purged(alert_client, brussels_channels):
    post(alert_client, "/api/v1/alerts/", alert_body(), "old")
    with time_machine.travel(timezone.now() + timedelta(hours=23)):
        assert idempotency_records_purge() == 0
        assert post(alert_client, "/api/v1/alerts/", alert_body(), "old")["Idempotent-Replayed"] == "true"
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        assert idempotency_records_purge() == 1
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_one_message(make_client, api_user):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memorydb"):
        pytest.skip("in-memory SQLite shares one connection across threads; run on a file or PostgreSQL")
    ChannelFactory(language="fr", coverage=["21004"])
    ChannelFactory(language="nl", coverage=["21004"])
    client = make_client(["alert", "read"], user=api_user)
    plaintext = client.plaintext
    barrier = threading.Barrier(4)
    results = []

    def worker():
        from django.db import connection as thread_connection
        from rest_framework.test import APIClient

        own = APIClient()
        own.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        barrier.wait()
        try:
            response = post(own, "/api/v1/alerts/", alert_body(), "race")
            results.append((response.status_code, response.content))
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 4
    assert {status for status, _ in results} == {201}
    assert len({content for _, content in results}) == 1
    assert Message.objects.count() == 1
    assert Delivery.objects.count() == 2


@pytest.mark.django_db
def test_a_token_posting_again_forgets_its_keys_older_than_two_days(alert_client, brussels_channels):
    post(alert_client, "/api/v1/alerts/", alert_body(), "ancient")
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        post(alert_client, "/api/v1/alerts/", alert_body(event="Autre"), "fresh")
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
