"""A correction's delivery is an edit of the original post: recorded like any delivery, and a
retry after a timeout does not change or duplicate anything (Telegram has no idempotency
key; the edit itself is repeatable, and "message is not modified" means done)."""

import pytest
from django.test import TestCase
from django.utils import timezone

from publisher.delivery import dispatch, publishing
from publisher.models import Delivery, DeliveryAttempt, DeliveryState, MessageState
from publisher.workflow import followups, services
from publisher.workflow.checklist import checklist_all_ticked
from tests.factories import UserFactory, make_message
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks

pytestmark = pytest.mark.django_db

TOKEN = "123456:ABC-secret-bot-token"


def publish(ids):
    dispatch.deliveries_claim(ids=ids)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return publishing.deliveries_publish(delivery_ids=ids)


def pending():
    return list(Delivery.objects.filter(state=DeliveryState.PENDING).values_list("pk", flat=True))


@pytest.fixture
def telegram(fake_telegram, make_channel):
    fake_telegram.tokens.add(TOKEN)
    fake_telegram.chats.add("@politie_zone")
    make_channel("telegram", config={"api_url": fake_telegram.url, "chat_id": "@politie_zone"}, secret=TOKEN)
    return fake_telegram


@pytest.fixture
def correction(telegram, author, approver):
    original = make_message(author=author, variants={"fr": "Route fermée jusqu'à 14 h."}, municipalities=["52011"])
    services.message_submit(message=original, actor=author)
    services.message_approve(message=original, actor=approver, checklist=checklist_all_ticked())
    assert publish(pending()) == {"sent": 1}
    original.refresh_from_db()
    corrector = UserFactory(username="corrector", roles=["author"])
    draft = followups.message_follow_up_draft(original=original, actor=corrector, kind=followups.FollowUp.CORRECT)
    draft = services.message_update(
        message=draft, actor=corrector, variants={"fr": services.VariantInput("Route fermée jusqu'à 16 h.")}
    )
    services.message_submit(message=draft, actor=corrector)
    services.message_approve(message=draft, actor=approver, checklist=checklist_all_ticked())
    return draft


def test_an_edit_that_timed_out_is_retried_and_done_once(telegram, correction):
    (delivery_id,) = pending()
    (original_post,) = telegram.messages
    telegram.slow_next(1.5, path=r".*/editMessageText$")  # applied, but the answer comes too late

    assert publish([delivery_id]) == {"transient": 1}
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.state == DeliveryState.RETRY_WAIT
    assert telegram.messages[original_post]["text"] == "Route fermée jusqu'à 16 h."

    Delivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now())
    assert publish([delivery_id]) == {"sent": 1}

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT
    assert delivery.remote_id == str(original_post)
    assert delivery.receipt["edited_in_place"] is True
    assert [a.outcome for a in DeliveryAttempt.objects.filter(delivery_id=delivery_id)] == ["transient", "sent"]
    assert len(telegram.messages) == 1  # edited twice to the same text, never posted again
    assert len(telegram.requests_to(r"/editMessageText$")) == 2  # the second answered "not modified"
    correction.refresh_from_db()
    assert correction.state == MessageState.PUBLISHED


def test_an_edit_refused_by_the_network_fails_with_its_words(telegram, correction):
    (delivery_id,) = pending()
    telegram.messages.clear()  # deleted by hand on Telegram meanwhile

    assert publish([delivery_id]) == {"permanent": 1}

    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.state == DeliveryState.FAILED
    assert "message to edit not found" in delivery.last_error
