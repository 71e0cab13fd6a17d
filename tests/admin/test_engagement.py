"""The message page's engagement: FR vs NL of the same message, per network, as bars and a table."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from publisher.models import Delivery, EngagementSnapshot, Occurrence
from tests.factories import ChannelFactory
from tests.publisher.inbox_support import sent_delivery


@pytest.fixture(autouse=True)
def _english(author):
    get_user_model().objects.filter(pk=author.pk).update(preferred_language="en")


def test_figures_per_language_and_network_side_by_side(author_client, author):
    fr = ChannelFactory(name="Police (Mastodon)", kind="mastodon", language="fr")
    nl = ChannelFactory(name="Politie (Mastodon)", kind="mastodon", language="nl")
    nl_bsky = ChannelFactory(name="Politie (Bluesky)", kind="bluesky", language="nl")
    delivery = sent_delivery(channel=fr, author=author, remote_id="1")
    occurrence = delivery.occurrence
    message = occurrence.message
    others = [
        Delivery.objects.create(
            occurrence=occurrence, channel=channel, language="nl", state="sent", due_at=occurrence.due_at, remote_id=rid
        )
        for channel, rid in ((nl, "2"), (nl_bsky, "at://x/app.bsky.feed.post/3"))
    ]
    EngagementSnapshot.objects.create(
        delivery=delivery, checkpoint=3600, taken_at=occurrence.due_at, figures={"likes": 2}
    )
    EngagementSnapshot.objects.create(
        delivery=delivery, checkpoint=86400, taken_at=occurrence.due_at, figures={"likes": 10, "reposts": 4}
    )
    EngagementSnapshot.objects.create(
        delivery=others[0], checkpoint=86400, taken_at=occurrence.due_at, figures={"likes": 20, "reposts": 1}
    )
    EngagementSnapshot.objects.create(
        delivery=others[1], checkpoint=3600, taken_at=occurrence.due_at, figures={"likes": 5, "quotes": 2}
    )

    response = author_client.get(reverse("admin:publisher_message_change", args=[message.pk]))

    view = response.context["engagement"]
    assert [(r.language, r.network, r.figures) for r in view.rows] == [
        ("fr", "mastodon", {"likes": 10, "reposts": 4}),
        ("nl", "bluesky", {"likes": 5, "quotes": 2}),
        ("nl", "mastodon", {"likes": 20, "reposts": 1}),
    ]
    likes = next(row for row in view.chart if row.metric == "likes")
    assert [(b.language, b.value, b.percent) for b in likes.bars] == [("fr", 10, 40), ("nl", 25, 100)]
    assert [r.values for r in view.rows][0] == [10, 4, "—"]
    page = response.content.decode()
    assert 'id="engagement"' in page
    assert 'class="bar" data-language="nl" style="width: 100%"' in page
    assert Occurrence.objects.count() == 1
