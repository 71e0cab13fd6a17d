import pytest

from publisher.channels.base import Gone, PermanentError, Post, RateLimited, TransientError
from publisher.channels.services import channel_disable
from publisher.channels.webhook import WebhookAdapter
from publisher.models import AuditEvent


@pytest.fixture
def webhook(fake_webhook, make_channel):
    channel = make_channel("webhook", config={"url": fake_webhook.endpoint}, secret=fake_webhook.secret)
    return fake_webhook, WebhookAdapter(channel)


def test_signed_delivery_verifies_with_the_reference_library(webhook, stored_image):
    fake, adapter = webhook
    post = Post(text="Alerte", language="fr", message_id=3, delivery_id=9, images=(stored_image(alt="Carte"),))
    receipt = adapter.publish(post, "tandem-delivery-9")
    assert fake.rejected == []
    event = fake.events["tandem-delivery-9"]
    assert event["type"] == "message.published"
    assert event["data"]["text"] == "Alerte"
    assert event["data"]["images"][0]["alt"] == "Carte"
    assert event["data"]["images"][0]["url"].startswith("http")
    assert receipt.remote_id == "tandem-delivery-9"


def test_webhook_id_is_constant_across_retries(webhook):
    fake, adapter = webhook
    fake.fail_next(503)
    post = Post(text="Alerte", language="fr")
    with pytest.raises(TransientError):
        adapter.publish(post, "tandem-delivery-5")
    adapter.publish(post, "tandem-delivery-5")
    adapter.publish(post, "tandem-delivery-5")
    ids = [r.headers["webhook-id"] for r in fake.requests]
    assert ids == ["tandem-delivery-5"] * 3
    assert fake.duplicates == 1
    assert list(fake.events) == ["tandem-delivery-5"]


def test_wrong_secret_is_rejected_by_the_receiver(webhook, make_channel):
    fake, _ = webhook
    channel = make_channel("webhook", config={"url": fake.endpoint}, secret="whsec_" + "QUJD" * 8)
    with pytest.raises(PermanentError, match="400"):
        WebhookAdapter(channel).publish(Post(text="x", language="fr"), "k")
    assert fake.rejected == ["No matching signature found"]


def test_gone_disables_the_channel(webhook):
    fake, adapter = webhook
    fake.fail_next(410)
    with pytest.raises(Gone) as caught:
        adapter.publish(Post(text="x", language="fr"), "k")
    channel_disable(channel=adapter.channel, reason=caught.value.message)
    adapter.channel.refresh_from_db()
    assert adapter.channel.enabled is False
    assert AuditEvent.objects.filter(verb="channel.disabled", object_id=str(adapter.channel.pk)).exists()


def test_429_honours_retry_after_and_redirect_is_not_followed(webhook):
    fake, adapter = webhook
    fake.fail_next(429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as caught:
        adapter.publish(Post(text="x", language="fr"), "k")
    assert caught.value.retry_after == 120
    fake.fail_next(301, headers={"Location": "http://127.0.0.1:9/elsewhere"})
    with pytest.raises(PermanentError, match="redirected"):
        adapter.publish(Post(text="x", language="fr"), "k")
    assert len(fake.requests) == 2


def test_exercise_sends_nothing(webhook):
    fake, adapter = webhook
    receipt = adapter.publish(Post(text="Exercice", language="fr", exercise=True), "k")
    assert receipt.extra["exercise"] is True
    assert receipt.extra["payload"]["data"]["exercise"] is True
    assert fake.requests == []


def test_edit_sends_a_signed_update_event_naming_the_original(webhook):
    fake, adapter = webhook
    original = adapter.publish(Post(text="Alerte", language="fr", message_id=3, delivery_id=9), "tandem-delivery-9")
    correction = Post(text="Alerte levée à 14 h", language="fr", message_id=4, delivery_id=12, correction=True)

    edited = adapter.edit(original, correction, "tandem-delivery-12")
    adapter.edit(original, correction, "tandem-delivery-12")  # a retry: the receiver de-duplicates

    assert fake.rejected == []
    event = fake.events["tandem-delivery-12"]
    assert event["type"] == "message.updated"
    assert event["data"]["updates"] == "tandem-delivery-9"
    assert event["data"]["text"] == "Alerte levée à 14 h"
    assert fake.duplicates == 1
    assert edited.remote_id == original.remote_id
