"""The team inbox in French and in Dutch: both columns, a state change, an answer awaiting its
second person, a possible tip forwarded. Screenshots in test-artifacts/browser/inbox-*.png."""

from datetime import UTC, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from publisher.models import AuditEvent, Channel, InboxItem, InboxState
from tests.factories import ChannelFactory, UserFactory
from tests.publisher.inbox_support import make_item, sent_delivery

pytestmark = pytest.mark.browser
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def team(db, settings):
    from accounts.services import roles_sync

    roles_sync()
    settings.TANDEM_INVESTIGATOR_EMAILS = ["enquete@police.example"]
    people = {
        "auteur": UserFactory(username="auteur", roles=["author"], preferred_language="fr"),
        "redacteur": UserFactory(username="redacteur", roles=["author"], preferred_language="nl"),
        "goedkeurder": UserFactory(username="goedkeurder", roles=["approver"], preferred_language="nl"),
    }
    fr = ChannelFactory(name="Police Bruxelles (Mastodon)", kind="mastodon", language="fr", covers_all=True)
    nl = cast(Channel, ChannelFactory(name="PolitieBrussel (Bluesky)", kind="bluesky", language="nl", covers_all=True))
    appeal = sent_delivery(channel=fr, author=people["auteur"], remote_id="1", appeal=True, title="Appel à témoins")
    items = {
        "question": make_item(
            channel=fr,
            text="Bonjour, la rue Haute sera-t-elle rouverte pour le marché de dimanche ?",
            author_handle="@marie@mastodon.social",
            posted_at=T0,
        ),
        "tip": make_item(
            channel=fr,
            text="J'ai vu une Golf grise partir vers la gare du Midi vers 14h",
            author_handle="@temoin@piaille.fr",
            posted_at=T0 + timedelta(hours=1),
            delivery=appeal,
            possible_tip=True,
            kind="reply",
        ),
        "vraag": make_item(
            channel=nl,
            language="nl",
            text="Klopt het dat er morgen een betoging is aan het Centraal Station?",
            author_handle="@jan.bsky.social",
            posted_at=T0 + timedelta(minutes=30),
        ),
        "kort": make_item(
            channel=nl, language="nl", language_detected=False, text="👍", author_handle="@an.bsky.social", posted_at=T0
        ),
    }
    return people, items


def test_inbox_in_french_and_dutch(login, team):
    people, items = team

    auteur = login("auteur")
    auteur.goto("/admin/publisher/inboxitem/")
    page = auteur.page
    assert page.locator("h1").inner_text() == "Boîte de réception"
    columns = page.locator(".inbox-column")
    assert columns.count() == 2
    assert columns.nth(0).locator("h2").inner_text().startswith("Français")
    fr_items = columns.nth(0).locator(".inbox-item .author").all_inner_texts()
    assert fr_items == ["@temoin@piaille.fr", "@marie@mastodon.social"]  # newest first
    assert page.locator(f"#inbox-item-{items['tip'].pk} .tip-badge").inner_text() == "Information possible"
    auteur.shot("inbox-fr")

    item = page.locator(f"#inbox-item-{items['question'].pk}")
    item.locator("summary").click()
    item.locator("textarea").fill("@marie@mastodon.social Oui, dès samedi soir.")
    item.locator("button", has_text="Envoyer la réponse").click()
    page.wait_for_selector(".messagelist")
    assert "deuxième personne" in page.locator(".messagelist").inner_text()
    page.locator(f"#inbox-item-{items['tip'].pk} button", has_text="Transmettre aux enquêteurs").click()
    page.wait_for_selector(".messagelist")
    assert "Transmis aux enquêteurs" in page.locator(".messagelist").inner_text()
    auteur.shot("inbox-fr-after")

    goedkeurder = login("goedkeurder")
    goedkeurder.goto("/admin/publisher/inboxitem/")
    page = goedkeurder.page
    assert page.locator("h1").inner_text() == "Inbox"
    assert page.locator(".inbox-column").nth(1).locator("h2").inner_text().startswith("Nederlands")
    assert page.locator(f"#inbox-item-{items['kort'].pk} .meta").inner_text().endswith("taal verondersteld")
    vraag = page.locator(f"#inbox-item-{items['vraag'].pk}")
    vraag.locator("select[name=state]").select_option("needs_answer")
    vraag.locator("button", has_text="Instellen").click()
    page.wait_for_selector(".messagelist")
    assert page.locator(f"#inbox-item-{items['question'].pk} button", has_text="Het antwoord goedkeuren").count() == 1
    goedkeurder.shot("inbox-nl")

    assert InboxItem.objects.get(pk=items["vraag"].pk).state == InboxState.NEEDS_ANSWER
    assert InboxItem.objects.get(pk=items["tip"].pk).state == InboxState.ESCALATED
    assert AuditEvent.objects.filter(verb="inbox.tip_forwarded").count() == 1


def test_engagement_on_the_message_page_fr_vs_nl(login, team):
    from publisher.models import Delivery, EngagementSnapshot

    people, items = team
    delivery = items["tip"].delivery
    occurrence = delivery.occurrence
    nl = cast(
        Channel, ChannelFactory(name="PolitieBrussel (Mastodon)", kind="mastodon", language="nl", covers_all=True)
    )
    other = Delivery.objects.create(
        occurrence=occurrence, channel=nl, language="nl", state="sent", due_at=occurrence.due_at, remote_id="2"
    )
    for row, figures in ((delivery, {"likes": 14, "reposts": 6, "replies": 3}), (other, {"likes": 31, "reposts": 2})):
        EngagementSnapshot.objects.create(delivery=row, checkpoint=86400, taken_at=occurrence.due_at, figures=figures)

    redacteur = login("redacteur")
    redacteur.goto(f"/admin/publisher/message/{occurrence.message_id}/change/")
    page = redacteur.page
    module = page.locator("#engagement")
    assert module.locator("h2").inner_text() == "Betrokkenheid"
    assert module.locator(".bar[data-language=nl]").first.evaluate("e => e.style.width") == "100%"
    module.scroll_into_view_if_needed()
    redacteur.shot("engagement-nl")


def test_monthly_engagement_report_in_french(login, team):
    from publisher.models import EngagementSnapshot

    people, items = team
    delivery = items["tip"].delivery
    EngagementSnapshot.objects.create(
        delivery=delivery, checkpoint=86400, taken_at=delivery.sent_at, figures={"likes": 14, "reposts": 6}
    )
    month = delivery.sent_at.astimezone(ZoneInfo("Europe/Brussels")).strftime("%Y-%m")

    auteur = login("auteur")
    auteur.goto(f"/admin/publisher/message/engagement/?month={month}")
    page = auteur.page
    assert page.locator("h1").inner_text().startswith("Engagement en")
    assert page.locator("#engagement-top tbody tr").count() == 1
    assert page.locator("#engagement-share .bar[data-language=fr]").evaluate("e => e.style.width") == "100%"
    auteur.shot("engagement-report-fr")
