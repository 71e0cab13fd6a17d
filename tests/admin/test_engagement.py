"""The message page's engagement: FR vs NL of the same message, per network, as bars and a table."""

from typing import cast

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from publisher.models import Channel, Delivery, EngagementSnapshot, Occurrence
from tests.factories import ChannelFactory
from tests.publisher.inbox_support import sent_delivery


@pytest.fixture(autouse=True)
def _english(author):
    get_user_model().objects.filter(pk=author.pk).update(preferred_language="en")


def test_figures_per_language_and_network_side_by_side(author_client, author):
    fr = ChannelFactory(name="Police (Mastodon)", kind="mastodon", language="fr")
    nl = cast(Channel, ChannelFactory(name="Politie (Mastodon)", kind="mastodon", language="nl"))
    nl_bsky = cast(Channel, ChannelFactory(name="Politie (Bluesky)", kind="bluesky", language="nl"))
    delivery = sent_delivery(channel=fr, author=author, remote_id="1")
    occurrence = delivery.occurrence
    message = occurrence.message
    others = [
        Delivery.objects.create(
            occurrence=occurrence,
            channel=channel,
            language="nl",
            state="sent",
            due_at=occurrence.due_at,
            remote_id=rid,
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


def test_a_figure_no_network_of_a_language_gives_is_a_dash_not_a_zero_bar(author_client, author):
    fr = ChannelFactory(kind="mastodon", language="fr")
    nl = cast(Channel, ChannelFactory(kind="telegram", language="nl"))
    delivery = sent_delivery(channel=fr, author=author, remote_id="1")
    other = Delivery.objects.create(
        occurrence=delivery.occurrence, channel=nl, language="nl", state="sent", due_at=delivery.due_at, remote_id="9"
    )
    EngagementSnapshot.objects.create(
        delivery=delivery, checkpoint=3600, taken_at=delivery.due_at, figures={"likes": 0, "reposts": 2}
    )
    EngagementSnapshot.objects.create(delivery=other, checkpoint=3600, taken_at=delivery.due_at, figures={"views": 40})

    response = author_client.get(reverse("admin:publisher_message_change", args=[delivery.occurrence.message_id]))

    view = response.context["engagement"]
    chart = {row.metric: [(b.language, b.value) for b in row.bars] for row in view.chart}
    # Mastodon gives no views, Telegram no likes: not drawn as 0; a real 0 stays 0.
    assert chart == {
        "likes": [("fr", 0), ("nl", None)],
        "reposts": [("fr", 2), ("nl", None)],
        "views": [("fr", None), ("nl", 40)],
    }
    page = response.content.decode()
    chart_html = page[page.index('class="engagement-chart') : page.index("<table", page.index('id="engagement"'))]
    assert chart_html.count('class="bar-value not-given"') == 3
    assert chart_html.count('class="bar"') == 3
    assert '<span class="bar-value">0</span>' in chart_html


def test_monthly_report_top_messages_share_and_best_hours(author_client, author):
    from datetime import UTC, datetime

    fr = ChannelFactory(kind="mastodon", language="fr")
    nl = cast(Channel, ChannelFactory(kind="mastodon", language="nl"))
    rows = []
    for title, sent, figures_fr, figures_nl in (
        ("Vols de vélos", datetime(2026, 11, 3, 8, 0, tzinfo=UTC), 30, 10),  # 09:00 in Brussels
        ("=Marché de Noël", datetime(2026, 11, 10, 16, 0, tzinfo=UTC), 5, 15),  # 17:00
        ("Octobre", datetime(2026, 10, 31, 23, 30, tzinfo=UTC), 100, 100),  # 00:30 on 1 November in Brussels
        ("Septembre", datetime(2026, 9, 30, 8, 0, tzinfo=UTC), 500, 500),
    ):
        delivery = sent_delivery(channel=fr, author=author, remote_id=f"{title}-fr", title=title)
        other = Delivery.objects.create(
            occurrence=delivery.occurrence, channel=nl, language="nl", state="sent", due_at=sent, remote_id="x"
        )
        Delivery.objects.filter(pk__in=[delivery.pk, other.pk]).update(sent_at=sent)
        for row, likes in ((delivery, figures_fr), (other, figures_nl)):
            EngagementSnapshot.objects.create(delivery=row, checkpoint=86400, taken_at=sent, figures={"likes": likes})
        rows.append(delivery)

    response = author_client.get(reverse("admin:publisher_message_engagement"), {"month": "2026-11"})

    report = response.context["report"]
    assert [(t.title, t.by_language, t.total) for t in report.top] == [
        ("Octobre", {"fr": 100, "nl": 100}, 200),  # sent on 31 October UTC, 1 November in Brussels
        ("Vols de vélos", {"fr": 30, "nl": 10}, 40),
        ("=Marché de Noël", {"fr": 5, "nl": 15}, 20),
    ]
    assert report.share == [("fr", 135, 52), ("nl", 125, 48)]
    assert report.hours == [(0, 2, 100.0, 100), (9, 2, 20.0, 20), (17, 2, 10.0, 10)]
    assert 'data-language="fr" style="width: 52%"' in response.content.decode()

    csv_response = author_client.get(
        reverse("admin:publisher_message_engagement"), {"month": "2026-11", "format": "csv"}
    )
    lines = csv_response.content.decode().splitlines()
    assert csv_response["Content-Type"].startswith("text/csv")
    assert lines[0] == "section,key,title,fr,nl,de,total"
    assert f"top,{rows[1].occurrence.message_id},'=Marché de Noël,5,15,0,20" in lines
    assert "share,fr,52%,,,,135" in lines
    assert "hour,09:00,2 posts,,,,20.0" in lines


def test_the_report_needs_the_message_list(client, roles):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="nobody", roles=[]))

    assert client.get(reverse("admin:publisher_message_engagement")).status_code == 403
