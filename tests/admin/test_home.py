"""The newsroom home ("Today") replacing Django's model index, and the decisions it posts."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from publisher.models import AuditEvent, Channel, Delivery, DeliveryState, EngagementSnapshot, MessageState
from publisher.workflow import services
from tests.factories import ChannelFactory, UserFactory, make_message
from tests.publisher.newsroom_support import message_with_deliveries

HOME = "/admin/"


@pytest.fixture(autouse=True)
def _english(author, approver):
    """The factory's people read French; these checks read the English source strings."""
    get_user_model().objects.filter(pk__in=[author.pk, approver.pk]).update(preferred_language="en")


@pytest.fixture
def newsroom_rows(author, approver, channels):
    now = timezone.now()
    fr, nl = channels["bxl_fr"], channels["bxl_nl"]
    published, _ = message_with_deliveries(
        author=author,
        title="Vols de vélos",
        due_at=now - timedelta(hours=2),
        routes=[(fr, "sent"), (nl, "failed")],
        state=MessageState.PARTIALLY_FAILED,
    )
    upcoming, _ = message_with_deliveries(
        author=author,
        title="Marché de Noël",
        due_at=now + timedelta(hours=5),
        routes=[(fr, "pending"), (nl, "pending")],
    )
    alert, _ = message_with_deliveries(
        author=approver,
        title="Alerte: incendie",
        due_at=now - timedelta(minutes=30),
        routes=[(fr, "sent")],
        state=MessageState.PUBLISHED,
        approved_by_policy=True,
        urgency="urgent",
    )
    submitted = make_message(author=author)
    services.message_update(message=submitted, actor=author, title="Travaux rue Haute")
    services.message_submit(message=submitted, actor=author)
    Channel.objects.filter(pk=channels["fed_nl"].pk).update(needs_reconnect=True, needs_reconnect_reason="401 revoked")
    return {"published": published, "upcoming": upcoming, "alert": alert, "submitted": submitted}


def section(html, section_id):
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</table>", start)]


def test_the_author_home_shows_what_goes_out_their_messages_and_no_decision_buttons(author_client, newsroom_rows):
    html = author_client.get(HOME).content.decode()
    assert "<h1>Today</h1>" in html
    upcoming = section(html, "home-upcoming")
    assert "Marché de Noël" in upcoming
    assert "Vols de vélos" not in upcoming
    assert "PolitieBrussel" in upcoming
    assert "Police Bruxelles" in upcoming
    mine = section(html, "home-mine")
    assert "Vols de vélos" in mine
    assert "Alerte: incendie" not in mine
    assert 'href="https://social.example/@' in mine  # the link to the post
    assert "Partially failed" in mine
    assert "Failed" in mine
    assert "Sent" in mine
    decisions = section(html, "home-decisions")
    assert "PolitieBrussel" in decisions
    assert "HTTP 500" in decisions
    assert "/retry/" not in decisions  # an author cannot decide
    assert 'id="home-alerts"' not in html
    assert 'id="dashboard-approvals"' not in html
    assert "401 revoked" in section(html, "home-reconnect")
    assert "Recent actions" not in html  # Django's sidebar is gone


def test_the_approver_home_shows_approvals_decisions_and_alerts_to_review(approver_client, newsroom_rows):
    html = approver_client.get(HOME).content.decode()
    assert "Travaux rue Haute" in section(html, "dashboard-approvals")
    decisions = section(html, "home-decisions")
    failed = newsroom_rows["published"].occurrences.get().deliveries.get(state="failed")
    for decision in ("retry", "give-up", "posted"):
        assert reverse("admin:publisher_message_delivery_decision", args=[failed.pk, decision]) in decisions
    alerts = section(html, "home-alerts")
    assert "Alerte: incendie" in alerts
    assert "Urgent" in alerts
    assert reverse("admin:publisher_message_alert_reviewed", args=[newsroom_rows["alert"].pk]) in alerts


def test_technical_models_are_listed_for_administrators_only(author_client, roles):
    html = author_client.get(HOME).content.decode()
    for name in ("occurrence", "variant", "deliveryattempt"):
        assert reverse(f"admin:publisher_{name}_changelist") not in html
    assert reverse("admin:publisher_message_changelist") in html
    assert reverse("admin:publisher_delivery_changelist") in html
    # Even with the permission to see them, only administrators find the task lists in the index.
    from django.contrib.auth.models import Permission

    operator = UserFactory(username="operator", roles=["approver"], preferred_language="en")
    operator.user_permissions.add(Permission.objects.get(content_type__app_label="django_q", codename="view_success"))
    operator_client = Client()
    operator_client.force_login(operator)
    assert operator_client.get(reverse("admin:django_q_success_changelist")).status_code == 200
    assert reverse("admin:django_q_success_changelist") not in operator_client.get(HOME).content.decode()
    admin = get_user_model().objects.create_superuser("root", "root@example.test", "pw-for-tests")
    client = Client()
    client.force_login(admin)
    html = client.get(HOME).content.decode()
    for name in ("occurrence", "variant", "deliveryattempt"):
        assert reverse(f"admin:publisher_{name}_changelist") in html
    assert reverse("admin:django_q_success_changelist") in html
    # The page itself still answers who holds the permission (a link from a delivery).
    assert author_client.get(reverse("admin:publisher_variant_changelist")).status_code == 200


def test_retry_from_the_home(approver_client, newsroom_rows):
    failed = newsroom_rows["published"].occurrences.get().deliveries.get(state="failed")
    url = reverse("admin:publisher_message_delivery_decision", args=[failed.pk, "retry"])
    assert approver_client.get(url).status_code == 405
    response = approver_client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:index")
    failed.refresh_from_db()
    assert failed.state == DeliveryState.PENDING
    assert "sent again" in response.content.decode()
    response = approver_client.post(url, follow=True)  # twice: a clear message, no 500
    assert "Only a failed, unconfirmed or expired delivery" in response.content.decode()


def test_an_author_cannot_decide_even_by_posting(author_client, newsroom_rows):
    failed = newsroom_rows["published"].occurrences.get().deliveries.get(state="failed")
    response = author_client.post(
        reverse("admin:publisher_message_delivery_decision", args=[failed.pk, "give-up"]), follow=True
    )
    assert "Only an approver or a channel administrator" in response.content.decode()
    failed.refresh_from_db()
    assert failed.state == DeliveryState.FAILED


def test_unknown_decision_or_delivery_is_404(approver_client, newsroom_rows):
    failed = newsroom_rows["published"].occurrences.get().deliveries.get(state="failed")
    assert (
        approver_client.post(reverse("admin:publisher_message_delivery_decision", args=[failed.pk, "x"])).status_code
        == 404
    )
    assert (
        approver_client.post(reverse("admin:publisher_message_delivery_decision", args=[99999, "retry"])).status_code
        == 404
    )


def test_posted_by_hand_with_a_bad_address_says_so(approver_client, newsroom_rows):
    failed = newsroom_rows["published"].occurrences.get().deliveries.get(state="failed")
    url = reverse("admin:publisher_message_delivery_decision", args=[failed.pk, "posted"])
    response = approver_client.post(url, {"remote_url": "ftp://nope"}, follow=True)
    assert "starting with https://" in response.content.decode()
    response = approver_client.post(url, {"remote_url": "https://x.example/p/1"}, follow=True)
    failed.refresh_from_db()
    assert (failed.state, failed.remote_url) == ("sent", "https://x.example/p/1")


def test_reviewing_an_alert_takes_it_off_the_home(approver_client, newsroom_rows):
    alert = newsroom_rows["alert"]
    response = approver_client.post(reverse("admin:publisher_message_alert_reviewed", args=[alert.pk]), follow=True)
    html = response.content.decode()
    assert "marked as reviewed" in html
    assert "Alerte: incendie" not in section(html, "home-alerts")
    assert AuditEvent.objects.filter(verb="message.policy_reviewed", object_id=str(alert.pk)).count() == 1


def _more_rows(author, approver, n):
    now = timezone.now()
    for i in range(n):
        fr, nl = ChannelFactory(language="fr"), ChannelFactory(language="nl")
        message_with_deliveries(
            author=author, due_at=now + timedelta(hours=i + 1), routes=[(fr, "pending"), (nl, "pending")]
        )
        _message, deliveries = message_with_deliveries(
            author=author,
            due_at=now - timedelta(hours=i + 1),
            routes=[(fr, "failed"), (nl, "sent")],
            state=MessageState.PARTIALLY_FAILED,
            approved_by_policy=True,
        )
        sent = deliveries[1]
        Delivery.objects.filter(pk=sent.pk).update(sent_at=now - timedelta(hours=i + 1))
        EngagementSnapshot.objects.create(delivery=sent, checkpoint=3600, taken_at=now, figures={"likes": i})
        Channel.objects.filter(pk=fr.pk).update(needs_reconnect=True)
        submitted = make_message(author=author)
        services.message_submit(message=submitted, actor=author)


@pytest.mark.parametrize("who", ["author", "approver"])
def test_the_home_page_costs_the_same_queries_for_few_or_many_rows(who, author, approver, channels):
    user = {"author": author, "approver": approver}[who]
    client = Client()
    client.force_login(user)
    _more_rows(author, approver, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(HOME).status_code == 200
    _more_rows(author, approver, 6)
    with CaptureQueriesContext(connection) as many:
        assert client.get(HOME).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)
    assert EngagementSnapshot.objects.count() == 8  # the figures block read them all, in one query


def test_every_page_has_the_favicon(author_client):
    html = author_client.get(HOME).content.decode()
    assert '<link rel="icon" href="/static/publisher/favicon.svg"' in html
    assert "publisher/layout.css" in author_client.get(reverse("admin:publisher_message_changelist")).content.decode()


def test_the_deliveries_list_has_a_message_column_and_short_post_links(approver_client, newsroom_rows):
    Delivery.objects.filter(state="sent").update(sent_at=timezone.now())
    html = approver_client.get(reverse("admin:publisher_delivery_changelist")).content.decode()
    assert "column-message_title" in html
    assert "Vols de vélos" in html
    assert 'title="https://social.example/@' in html


def test_the_message_page_lists_only_what_is_still_to_come(author_client, newsroom_rows):
    published = newsroom_rows["published"]
    html = author_client.get(reverse("admin:publisher_message_change", args=[published.pk])).content.decode()
    assert "nothing more to come" in html
    assert "as soon as it is approved" not in html
    upcoming = newsroom_rows["upcoming"]
    html = author_client.get(reverse("admin:publisher_message_change", args=[upcoming.pk])).content.decode()
    assert "nothing more to come" not in html


def test_the_home_in_dutch_and_french(client, roles, newsroom_rows):
    for language, title in (("nl", "Vandaag"), ("fr", "Aujourd’hui")):
        user = UserFactory(username=f"reader-{language}", roles=["approver"], preferred_language=language)
        client.force_login(user)
        html = client.get(HOME).content.decode()
        assert f"<h1>{title}</h1>" in html, language


def test_the_home_shows_my_figures_fr_vs_nl_per_network_as_bars(author_client, author, approver):
    now = timezone.now()
    fr = ChannelFactory(kind="mastodon", language="fr")
    nl = ChannelFactory(kind="mastodon", language="nl")
    nl_telegram = ChannelFactory(kind="telegram", language="nl")
    _message, (on_fr, on_nl, on_telegram) = message_with_deliveries(
        author=author,
        title="Vols de vélos",
        due_at=now - timedelta(hours=3),
        routes=[(fr, "sent"), (nl, "sent"), (nl_telegram, "sent")],
        state=MessageState.PUBLISHED,
    )
    old, (long_ago,) = message_with_deliveries(
        author=author, due_at=now - timedelta(days=20), routes=[(fr, "sent")], state=MessageState.PUBLISHED
    )
    _others, (someone_elses,) = message_with_deliveries(
        author=approver, due_at=now - timedelta(hours=3), routes=[(fr, "sent")], state=MessageState.PUBLISHED
    )
    Delivery.objects.filter(pk__in=[on_fr.pk, on_nl.pk, on_telegram.pk, someone_elses.pk]).update(
        sent_at=now - timedelta(hours=3)
    )
    Delivery.objects.filter(pk=long_ago.pk).update(sent_at=now - timedelta(days=20))
    for delivery, figures in (
        (on_fr, {"likes": 12, "reposts": 3}),
        (on_nl, {"likes": 4, "reposts": 0}),
        (on_telegram, {"views": 250}),
        (long_ago, {"likes": 999}),
        (someone_elses, {"likes": 777}),
    ):
        EngagementSnapshot.objects.create(delivery=delivery, checkpoint=3600, taken_at=now, figures=figures)

    response = author_client.get(HOME)

    html = response.content.decode()
    block = html[html.index('id="home-engagement"') : html.index("</table>", html.index('id="home-engagement"'))]
    assert "999" not in block
    assert "777" not in block
    assert "Mastodon · Likes" in block
    likes = block[block.index("Mastodon · Likes") : block.index("Mastodon · Reposts")]
    assert 'data-language="fr" style="width: 100%"' in likes
    assert '<span class="bar-value">12</span>' in likes
    assert 'data-language="nl" style="width: 33%"' in likes
    assert '<span class="bar-value">4</span>' in likes
    views = block[block.index("Telegram · Views") :]
    # Telegram's views, NL only: French has no post there, so no bar, a dash.
    assert 'data-language="nl" style="width: 100%"' in views.split("</div></div>")[0]
    assert 'class="bar-value not-given"' in views.split("</div></div>")[0]
    assert 'data-language="fr"' not in views.split("</div></div>")[0]
