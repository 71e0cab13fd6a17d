"""Duplicates, stated precisely, through the publish path and the fake networks.

On a network without an idempotency key (X, Facebook, Instagram, Telegram, email) a
timeout after sending, or a worker that died during the call, leaves the delivery
``unconfirmed``: the people concerned are told to check the account, and only an
operator's retry sends it again; no pass of the dispatcher or task ever posts it twice.
A webhook is resent, always under the same ``webhook-id``, which the receiver drops.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import TestCase

from publisher.delivery import dispatch, publishing
from publisher.models import (
    Attachment,
    Channel,
    Delivery,
    DeliveryState,
    Message,
    MessageState,
    Occurrence,
    Variant,
)
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 5, 3, 7, 0, tzinfo=UTC)
TOKEN = "network-token-secret"  # noqa: S105 - a fake network's token


@dataclass
class Network:
    channel: Channel
    fake: Any
    slow_path: str | None  # the request that creates the post

    def posts(self) -> int:
        fake = self.fake
        for name in ("tweets", "posts", "messages"):
            if isinstance(getattr(fake, name, None), (dict, list)):
                return len(getattr(fake, name))
        return len(fake.media)  # Instagram: published media

    def answer_too_late(self) -> None:
        """The network keeps the post and answers after the channel's 1 s timeout."""
        if hasattr(self.fake, "slow_next"):
            self.fake.slow_next(1.5, path=self.slow_path)
        else:
            self.fake.data_delay = 1.5


def _network(kind: str, request: pytest.FixtureRequest) -> Network:
    make_channel = request.getfixturevalue("make_channel")
    if kind == "x":
        fake = request.getfixturevalue("fake_x")
        fake.token = TOKEN
        config = {"api_url": fake.url, "username": "PolitieZone"}
        return Network(make_channel("x", config=config, secret=TOKEN), fake, r"/2/tweets$")
    if kind == "facebook":
        fake = request.getfixturevalue("fake_facebook")
        fake.token = TOKEN
        config = {"graph_url": f"{fake.url}/v21.0", "page_id": fake.page_id}
        return Network(make_channel("facebook", config=config, secret=TOKEN), fake, r"/feed$")
    if kind == "instagram":
        fake = request.getfixturevalue("fake_instagram")
        fake.token = TOKEN
        config = {"graph_url": f"{fake.url}/v21.0", "ig_user_id": fake.user_id}
        return Network(make_channel("instagram", config=config, secret=TOKEN), fake, r"/media_publish$")
    if kind == "telegram":
        fake = request.getfixturevalue("fake_telegram")
        fake.tokens.add(TOKEN)
        fake.chats.add("@politie_zone")
        config = {"api_url": fake.url, "chat_id": "@politie_zone", "chat_username": "politie_zone"}
        return Network(make_channel("telegram", config=config, secret=TOKEN), fake, r"/sendMessage$")
    fake = request.getfixturevalue("smtp_server")
    config = {"host": "127.0.0.1", "port": fake.port, "recipients": ["presse@zone.be"], "from_address": "t@zone.be"}
    return Network(make_channel("email", config=config), fake, None)


WITHOUT_KEY = ["x", "facebook", "instagram", "telegram", "email"]


@pytest.fixture
def network(request: pytest.FixtureRequest) -> Network:
    return _network(request.param, request)


def delivery_on(channel: Channel, author: Any, request: pytest.FixtureRequest) -> int:
    message = Message.objects.create(title="Contrôle", author=author, state=MessageState.SCHEDULED, publish_at=NOW)
    Variant.objects.create(message=message, language=channel.language, text="Contrôle routier ce soir à Ixelles")
    if channel.kind == "instagram":  # no post without an image there
        image = request.getfixturevalue("stored_image")(alt="Un contrôle")
        Attachment.objects.create(
            message=message,
            image=str(Path(image.path).relative_to(settings.MEDIA_ROOT)),
            width=image.width,
            height=image.height,
            format=image.format,
            sha256=Path(image.path).stem,
            alt_fr="Un contrôle",
        )
    occurrence = Occurrence.objects.create(message=message, due_at=NOW)
    return Delivery.objects.create(
        occurrence=occurrence, channel=channel, language=channel.language, due_at=NOW, next_attempt_at=NOW
    ).pk


def publish(pk: int) -> dict[str, int]:
    """One dispatcher claim (its hand-over never fires inside the test transaction), then
    the publish task with its on-commit notifications."""
    dispatch.deliveries_claim(ids=[pk])
    with TestCase.captureOnCommitCallbacks(execute=True):
        return publishing.deliveries_publish(delivery_ids=[pk])


def assert_left_to_the_operator(network: Network, pk: int, clock: Any, approver: Any) -> None:
    """Unconfirmed, one post online, and nothing but an operator's retry posts it again."""
    delivery = Delivery.objects.get(pk=pk)
    assert delivery.state == DeliveryState.UNCONFIRMED
    assert network.posts() == 1
    told = [m for m in mail.outbox if "Contrôle" in m.subject and network.channel.name in m.body]
    assert told, "the author and approver are told to check the account"
    for _ in range(3):
        clock.shift(timedelta(minutes=10))
        with TestCase.captureOnCommitCallbacks(execute=True):
            assert dispatch.dispatch_once() == 0
        assert publishing.deliveries_publish(delivery_ids=[pk]) == {}
    assert network.posts() == 1
    assert Delivery.objects.get(pk=pk).state == DeliveryState.UNCONFIRMED
    publishing.delivery_retry(delivery=delivery, actor=approver)  # the operator checked: not online
    # One new attempt on the operator's word (X itself refuses a repeated text: unknown again).
    assert sum(publish(pk).values()) == 1
    assert Delivery.objects.get(pk=pk).attempts == 2


@pytest.mark.parametrize("network", WITHOUT_KEY, indirect=True)
def test_a_timeout_after_sending_is_unconfirmed_never_posted_twice(network, author, approver, request):
    pk = delivery_on(network.channel, author, request)
    network.answer_too_late()
    with time_machine.travel(NOW, tick=False) as clock:
        assert publish(pk) == {"unknown": 1}
        assert list(Delivery.objects.get(pk=pk).attempt_log.values_list("outcome", flat=True)) == ["unknown"]
        assert_left_to_the_operator(network, pk, clock, approver)


class WorkerKilled(BaseException):
    """Stands for kill -9 between the network's answer and the recorded outcome."""


def _killed(calls: Any) -> None:
    raise WorkerKilled


def die_after_the_call(pk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The task publishes, then its worker dies before recording the outcome."""
    with monkeypatch.context() as patch:
        patch.setattr(publishing, "_outcomes_record", _killed)
        with pytest.raises(WorkerKilled):
            publishing.deliveries_publish(delivery_ids=[pk])


@pytest.mark.parametrize("network", WITHOUT_KEY, indirect=True)
def test_a_worker_dead_after_sending_leaves_it_unconfirmed_within_seconds(
    network, author, approver, request, monkeypatch
):
    pk = delivery_on(network.channel, author, request)
    with time_machine.travel(NOW, tick=False) as clock:
        dispatch.deliveries_claim(ids=[pk])
        die_after_the_call(pk, monkeypatch)
        assert network.posts() == 1
        assert Delivery.objects.get(pk=pk).state == DeliveryState.SENDING
        # No heartbeat renews a dead worker's lease: it runs out in seconds, not minutes.
        clock.shift(timedelta(seconds=settings.TANDEM_SEND_LEASE_SECONDS + 1))
        with TestCase.captureOnCommitCallbacks(execute=True):
            claim = dispatch.deliveries_claim()
        assert claim.unconfirmed == [pk]
        assert list(Delivery.objects.get(pk=pk).attempt_log.values_list("outcome", flat=True)) == ["lost"]
        assert_left_to_the_operator(network, pk, clock, approver)


@pytest.mark.parametrize("crash", ["timeout", "worker killed"])
def test_a_webhook_is_resent_under_the_same_webhook_id(fake_webhook, make_channel, author, request, monkeypatch, crash):
    channel = make_channel("webhook", config={"url": fake_webhook.endpoint}, secret=fake_webhook.secret)
    pk = delivery_on(channel, author, request)
    with time_machine.travel(NOW, tick=False) as clock:
        if crash == "timeout":
            fake_webhook.slow_next(1.5)
            assert publish(pk) == {"transient": 1}  # the receiver de-duplicates: safe to resend
            assert Delivery.objects.get(pk=pk).state == DeliveryState.RETRY_WAIT
            clock.shift(timedelta(minutes=1))
        else:
            dispatch.deliveries_claim(ids=[pk])
            die_after_the_call(pk, monkeypatch)
            clock.shift(timedelta(seconds=settings.TANDEM_SEND_LEASE_SECONDS + 1))
        assert publish(pk) == {"sent": 1}
    ids = [r.headers["webhook-id"] for r in fake_webhook.requests_to(r"/hooks/tandem")]
    assert len(ids) == 2
    assert set(ids) == {f"tandem-delivery-{pk}"}
    assert len(fake_webhook.events) == 1
    assert fake_webhook.duplicates == 1
