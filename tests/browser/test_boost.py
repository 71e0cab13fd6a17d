"""Boost from the message page in a real browser: an author proposes (Dutch interface), an
approver approves the spend (French interface), nothing wider than the page at 1,280 px.
Dry run: nothing leaves for Meta (tests/publisher/workflow/test_boosts.py covers the API).
Screenshots in test-artifacts/browser/boost-*.png."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from publisher.models import Boost, BoostState, MessageState
from tests.browser.test_newsroom import assert_layout
from tests.factories import ChannelFactory, UserFactory
from tests.publisher.newsroom_support import message_with_deliveries

pytestmark = pytest.mark.browser


def test_propose_in_dutch_then_approve_the_spend_in_french(login, settings, roles):
    settings.TANDEM_BOOST_DRY_RUN = True
    author = UserFactory(username="redacteur", roles=["author"], preferred_language="nl")
    UserFactory(username="approbateur", roles=["approver"], preferred_language="fr")
    config = {"page_id": "104000000000001", "ad_account_id": "1234567890"}
    fr = ChannelFactory(name="Police Bruxelles", kind="facebook", language="fr", covers_all=True, config=config)
    nl = ChannelFactory(name="Politie Brussel", kind="facebook", language="nl", covers_all=True, config=config)
    message, deliveries = message_with_deliveries(
        author=author,
        title="Cambriolages / Inbraken",
        due_at=timezone.now() - timedelta(hours=1),
        routes=[(fr, "sent"), (nl, "sent")],
        state=MessageState.PUBLISHED,
        approved_audience=["21009", "21004"],
    )
    for delivery in deliveries:
        delivery.remote_id = f"104000000000001_{delivery.pk}"
        delivery.save(update_fields=["remote_id"])
    url = f"/admin/publisher/message/{message.pk}/change/"
    start = timezone.localtime(timezone.now() + timedelta(days=1), ZoneInfo("Europe/Brussels"))

    writer = login("redacteur", locale="nl-BE")
    writer.goto(url)
    writer.page.fill("#id_boost-budget_fr", "20")
    writer.page.fill("#id_boost-budget_nl", "15")
    writer.page.fill("#id_boost-starts_at", start.strftime("%Y-%m-%dT%H:%M"))
    writer.page.fill("#id_boost-ends_at", (start + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"))
    writer.page.fill("#id_boost-age_min", "18")
    writer.page.click("#boost")
    writer.page.wait_for_selector("#boost-list")
    assert "Betaalde promotie" in writer.page.inner_text("#boosts")
    assert "Uitgave goedkeuren" not in writer.page.inner_text("#boosts")
    assert_layout(writer.page)
    writer.shot("boost-proposed-nl")

    approver = login("approbateur", locale="fr-BE")
    approver.goto("/admin/")
    assert "Promotions payantes" in approver.page.inner_text("#home-boosts")
    approver.shot("boost-home-fr")
    approver.goto(url)
    approver.page.click(".boost-approve >> nth=0")
    approver.page.wait_for_selector(".boost-active")
    assert_layout(approver.page)
    approver.shot("boost-approved-fr")
    assert set(Boost.objects.values_list("state", flat=True)) == {BoostState.ACTIVE, BoostState.PROPOSED}


def test_a_refused_credential_in_words_on_both_pages(login, roles):
    """Meta refused the ad-account token: the message page and the home page say so (Dutch),
    and the words fit the page at 1,280 px."""
    author = UserFactory(username="auteur", roles=["author"], preferred_language="nl")
    UserFactory(username="goedkeurder", roles=["approver"], preferred_language="nl")
    config = {"page_id": "104000000000001", "ad_account_id": "1234567890"}
    nl = ChannelFactory(name="Politie Brussel", kind="facebook", language="nl", covers_all=True, config=config)
    message, (delivery,) = message_with_deliveries(
        author=author,
        title="Inbraken",
        due_at=timezone.now() - timedelta(hours=1),
        routes=[(nl, "sent")],
        state=MessageState.PUBLISHED,
        approved_audience=["21004"],
    )
    Boost.objects.create(
        message=message,
        delivery=delivery,
        channel=nl,
        post_id="104000000000001_1",
        language="nl",
        state=BoostState.ACTIVE,
        budget_minor=2000,
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(days=3),
        postal_codes=["1000"],
        ad_account="1234567890",
        proposed_by=author,
        credential_refused="ads",
        last_error="HTTP 400: Error validating access token: Session has expired. (code 190/463)",
    )
    approver = login("goedkeurder", locale="nl-BE")
    approver.goto("/admin/")
    assert "toegang tot het advertentieaccount is verlopen" in approver.page.inner_text("#home-boosts")
    assert_layout(approver.page)
    approver.shot("boost-access-home-nl")
    approver.goto(f"/admin/publisher/message/{message.pk}/change/")
    assert "toegang tot het advertentieaccount is verlopen" in approver.page.inner_text("#boosts")
    assert_layout(approver.page)
    approver.shot("boost-access-message-nl")
