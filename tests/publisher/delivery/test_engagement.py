"""Each sent post's public figures at 1 h, 6 h, 24 h and 7 d, against the fake networks."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from publisher.channels.base import Post
from publisher.delivery import engagement
from publisher.delivery.inbox import get_adapter
from publisher.models import Delivery, EngagementSnapshot
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks
from tests.publisher.inbox_support import *  # noqa: F403 - channels wired to the fakes
from tests.publisher.inbox_support import sent_delivery

pytestmark = pytest.mark.django_db


def _published(channel, author, text, key):
    receipt = get_adapter(channel).publish(Post(text=text, language=channel.language), key)
    return sent_delivery(channel=channel, author=author, remote_id=receipt.remote_id, receipt=receipt.extra)


def test_figures_are_read_at_each_checkpoint_and_a_missed_one_is_not_invented(fake_mastodon, mastodon_channel, author):
    delivery = _published(mastodon_channel, author, "Appel à témoins", "k-m")
    sent = delivery.sent_at
    status = fake_mastodon.statuses[delivery.remote_id]

    assert engagement.engagement_due(now=sent + timedelta(minutes=59)) == []
    status["counts"] = {"favourites_count": 4, "reblogs_count": 2, "replies_count": 1}
    with time_machine.travel(sent + timedelta(hours=1), tick=False):
        assert engagement.engagement_collect().taken == 1
    assert engagement.engagement_due(now=sent + timedelta(hours=5)) == []
    status["counts"] = {"favourites_count": 9, "reblogs_count": 3, "replies_count": 2}
    # Down from 2 h to 3 days: the 6 h and 24 h checkpoints passed; one read, recorded as 24 h.
    with time_machine.travel(sent + timedelta(days=3), tick=False):
        assert engagement.engagement_collect().taken == 1
        assert engagement.engagement_collect().taken == 0

    snapshots = list(EngagementSnapshot.objects.order_by("checkpoint").values_list("checkpoint", "figures"))
    assert snapshots == [
        (3600, {"replies": 1, "reposts": 2, "likes": 4}),
        (86400, {"replies": 2, "reposts": 3, "likes": 9}),
    ]
    assert engagement.engagement_due(now=sent + timedelta(days=7, hours=1)) == [(delivery.pk, 7 * 86400)]
    assert engagement.engagement_due(now=sent + timedelta(days=9)) == []  # too late to mean "7 d"


def test_bluesky_figures_include_quotes_and_a_deleted_post_gives_none(fake_bluesky, bluesky_channel, author):
    kept = _published(bluesky_channel, author, "Getuigenoproep", "k-b1")
    gone = _published(bluesky_channel, author, "Verwijderd", "k-b2")
    Delivery.objects.filter(pk=gone.pk).update(sent_at=kept.sent_at)
    for record in fake_bluesky.records.values():
        if record["uri"] == kept.remote_id:
            record["counts"] = {"likeCount": 12, "repostCount": 5, "replyCount": 3, "quoteCount": 1}
    fake_bluesky.records = {k: r for k, r in fake_bluesky.records.items() if r["uri"] != gone.remote_id}

    with time_machine.travel(kept.sent_at + timedelta(hours=1), tick=False):
        result = engagement.engagement_collect()

    assert (result.taken, result.gone) == (1, 1)
    (snapshot,) = EngagementSnapshot.objects.all()
    assert snapshot.delivery == kept
    assert snapshot.figures == {"replies": 3, "reposts": 5, "likes": 12, "quotes": 1}


def test_a_rate_limited_network_is_left_for_the_next_pass_the_others_go_on(
    fake_mastodon, mastodon_channel, fake_bluesky, bluesky_channel, author
):
    first = _published(mastodon_channel, author, "Un", "k-1")
    second = _published(mastodon_channel, author, "Deux", "k-2")
    other = _published(bluesky_channel, author, "Drie", "k-3")
    Delivery.objects.filter(pk=other.pk).update(sent_at=first.sent_at)
    fake_mastodon.rate_limit_remaining = 0
    now = first.sent_at + timedelta(hours=1, seconds=5)

    with time_machine.travel(now, tick=False):
        result = engagement.engagement_collect()

    assert result.taken == 1
    assert result.skipped_channels == {mastodon_channel.pk}
    assert len(fake_mastodon.requests_to(r"/api/v1/statuses/\d+$")) == 1  # not asked again for the second
    fake_mastodon.rate_limit_remaining = None
    with time_machine.travel(now + timedelta(minutes=1), tick=False):
        assert engagement.engagement_collect().taken == 2
    assert set(EngagementSnapshot.objects.values_list("delivery_id", flat=True)) == {first.pk, second.pk, other.pk}


def test_exercise_and_unsupported_channels_are_not_read(author):
    from tests.factories import ChannelFactory

    outbox = ChannelFactory(kind="outbox")
    sent_delivery(channel=outbox, author=author, remote_id="/tmp/x.json")  # noqa: S108 - a recorded path
    mastodon = ChannelFactory(kind="mastodon", config={"base_url": "https://m.example"})
    sent_delivery(channel=mastodon, author=author, remote_id="exercise")

    assert engagement.engagement_due(now=timezone.now() + timedelta(hours=2)) == []


def test_a_refused_token_holds_the_channel_for_reconnection_as_sending_does(
    fake_x, make_channel, fake_mastodon, mastodon_channel, author, roles, django_capture_on_commit_callbacks
):
    from django.core import mail

    from publisher.delivery import publishing
    from publisher.models import Channel
    from tests.factories import UserFactory

    admin = UserFactory(username="chanadmin", roles=["channel_admin"])
    fake_x.token = "x-user-token"  # noqa: S105 - a fake network's token
    x = make_channel("x", config={"api_url": fake_x.url, "user_id": fake_x.user_id}, secret="x-user-token")
    on_x = _published(x, author, "Getuigenoproep", "k-x")
    on_mastodon = _published(mastodon_channel, author, "Appel à témoins", "k-m")
    Delivery.objects.filter(pk=on_mastodon.pk).update(sent_at=on_x.sent_at)
    fake_x.expire_token()
    now = on_x.sent_at + timedelta(hours=1, seconds=5)

    with time_machine.travel(now, tick=False), django_capture_on_commit_callbacks(execute=True):
        result = engagement.engagement_collect()

    assert (result.taken, result.gone, result.skipped_channels) == (1, 0, {x.pk})  # not taken for a deleted post
    x.refresh_from_db()
    assert x.needs_reconnect
    assert "401" in x.needs_reconnect_reason
    assert x.needs_reconnect_since == now
    assert [m.to for m in mail.outbox] == [[admin.email]]
    # Held: not read again while nobody reconnected it, read at once after.
    assert engagement.engagement_due(now=now + timedelta(minutes=5)) == []
    fake_x.token = "x-user-token"  # noqa: S105
    publishing.channel_reconnected(channel=Channel.objects.get(pk=x.pk), actor=admin)
    assert engagement.engagement_due(now=now + timedelta(minutes=5)) == [(on_x.pk, 3600)]
