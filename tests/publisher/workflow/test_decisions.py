"""The decisions of the newsroom home: send again, give up, posted by hand, alert reviewed."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from publisher.errors import InvalidTransition, NotAllowed, ValidationError
from publisher.models import AuditEvent, DeliveryState, MessageState
from publisher.workflow import decisions, newsroom
from tests.factories import ChannelFactory, UserFactory
from tests.publisher.newsroom_support import message_with_deliveries

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def failed(author):
    fr, nl = ChannelFactory(name="Police FR", language="fr"), ChannelFactory(name="Politie NL", language="nl")
    message, (bad, good) = message_with_deliveries(
        author=author, due_at=NOW, routes=[(fr, "failed"), (nl, "sent")], state=MessageState.PARTIALLY_FAILED
    )
    return message, bad, good


@pytest.fixture
def channel_admin(roles):
    return UserFactory(username="chanadmin", roles=["channel_admin"])


def events(verb):
    return list(AuditEvent.objects.filter(verb=verb).values_list("actor__username", "object_id", "summary"))


def test_who_may_decide(author, approver, channel_admin):
    assert newsroom.may_decide(approver)
    assert newsroom.may_decide(channel_admin)
    assert not newsroom.may_decide(author)
    assert newsroom.may_review_alerts(approver)
    assert not newsroom.may_review_alerts(channel_admin)


@pytest.mark.parametrize(
    "decide",
    [
        lambda d, u: decisions.delivery_retry(delivery=d, actor=u),
        lambda d, u: decisions.delivery_give_up(delivery=d, actor=u),
        lambda d, u: decisions.delivery_mark_posted(delivery=d, actor=u),
    ],
    ids=["retry", "give-up", "posted"],
)
def test_an_author_may_not_decide(author, failed, decide):
    _message, bad, _good = failed
    with pytest.raises(NotAllowed):
        decide(bad, author)
    bad.refresh_from_db()
    assert bad.state == DeliveryState.FAILED
    assert not AuditEvent.objects.filter(object_type="delivery").exists()


def test_retry_by_a_channel_admin_sends_it_again(channel_admin, failed):
    message, bad, _good = failed
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        decisions.delivery_retry(delivery=bad, actor=channel_admin)
    bad.refresh_from_db()
    message.refresh_from_db()
    assert (bad.state, bad.next_attempt_at) == (DeliveryState.PENDING, NOW + timedelta(minutes=5))
    assert message.state == MessageState.PUBLISHING
    assert events("delivery.retried") == [("chanadmin", str(bad.pk), {"from": "failed"})]


def test_give_up_cancels_the_delivery_and_the_message_counts_what_went_out(approver, failed):
    message, bad, _good = failed
    decisions.delivery_give_up(delivery=bad, actor=approver, reason=" Posted nothing, too late ")
    bad.refresh_from_db()
    message.refresh_from_db()
    assert bad.state == DeliveryState.CANCELLED
    assert message.state == MessageState.PUBLISHED
    assert events("delivery.given_up") == [
        ("approver", str(bad.pk), {"from": "failed", "reason": "Posted nothing, too late"})
    ]
    with pytest.raises(InvalidTransition):
        decisions.delivery_give_up(delivery=bad, actor=approver)


def test_marked_as_posted_by_hand_records_the_address(approver, failed):
    message, bad, good = failed
    with pytest.raises(ValidationError) as error:
        decisions.delivery_mark_posted(delivery=bad, actor=approver, remote_url="javascript:alert(1)")
    assert "remote_url" in error.value.message_dict
    with pytest.raises(ValidationError):
        decisions.delivery_mark_posted(delivery=bad, actor=approver, remote_url="https://x.example/" + "a" * 1000)
    with pytest.raises(InvalidTransition):
        decisions.delivery_mark_posted(delivery=good, actor=approver)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        decisions.delivery_mark_posted(delivery=bad, actor=approver, remote_url=" https://social.example/@police/1 ")
    bad.refresh_from_db()
    message.refresh_from_db()
    assert (bad.state, bad.sent_at, bad.remote_url) == (
        DeliveryState.SENT,
        NOW + timedelta(hours=1),
        "https://social.example/@police/1",
    )
    assert bad.receipt["posted_by_hand"] == "approver"
    assert message.state == MessageState.PUBLISHED
    assert events("delivery.marked_posted") == [
        ("approver", str(bad.pk), {"from": "failed", "remote_url": "https://social.example/@police/1"})
    ]


def test_an_unconfirmed_delivery_can_be_marked_posted_without_an_address(approver, author):
    channel = ChannelFactory(language="fr")
    message, [delivery] = message_with_deliveries(
        author=author, due_at=NOW, routes=[(channel, "unconfirmed")], state=MessageState.FAILED
    )
    decisions.delivery_mark_posted(delivery=delivery, actor=approver)
    message.refresh_from_db()
    assert message.state == MessageState.PUBLISHED


def test_an_approver_reviews_a_policy_alert_once(author, approver, channel_admin, failed):
    channel = ChannelFactory(language="fr")
    alert, _ = message_with_deliveries(author=author, due_at=NOW, routes=[(channel, "sent")], approved_by_policy=True)
    routine, _bad, _good = failed
    with pytest.raises(NotAllowed):
        decisions.alert_review(message=alert, actor=channel_admin)
    with pytest.raises(InvalidTransition):
        decisions.alert_review(message=routine, actor=approver)
    decisions.alert_review(message=alert, actor=approver, comment=" ok ")
    assert events("message.policy_reviewed") == [("approver", str(alert.pk), {"comment": "ok"})]
    assert newsroom.policy_alert_is_reviewed(alert)
    with pytest.raises(InvalidTransition):
        decisions.alert_review(message=alert, actor=UserFactory(username="approver2", roles=["approver"]))
