"""The newsroom home for an author and an approver (FR and NL), retrying a failed delivery
from it, the calendar's states, and the layout at 1,280 px: no table wider than its box,
no header broken inside a word. Screenshots in test-artifacts/browser/newsroom-*.png."""

from datetime import timedelta

import pytest
from django.utils import timezone

from publisher.models import AuditEvent, Channel, Delivery, DeliveryState, EngagementSnapshot, MessageState
from tests.factories import ChannelFactory, UserFactory, make_message
from tests.publisher.newsroom_support import message_with_deliveries

pytestmark = pytest.mark.browser

# Every table wider than the box holding it, and every header cell whose text wraps.
LAYOUT_PROBLEMS = r"""() => {
  const wide = [];
  for (const table of document.querySelectorAll('#content table')) {
    const box = table.parentElement.getBoundingClientRect().width;
    const width = table.getBoundingClientRect().width;
    if (width > box + 1) wide.push(`${table.id || table.className}: ${Math.round(width)} > ${Math.round(box)}`);
  }
  // A header is broken inside a word when one of its words sits on more than one line.
  const broken = [];
  for (const th of document.querySelectorAll('#content thead th')) {
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /\S+/g;
      let match;
      while ((match = re.exec(node.data))) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(match[0]);
      }
    }
  }
  return {wide, broken, page: document.documentElement.scrollWidth};
}"""


def assert_layout(page):
    problems = page.evaluate(LAYOUT_PROBLEMS)
    assert problems["wide"] == [], problems
    assert problems["broken"] == [], problems
    assert problems["page"] <= 1280, problems


@pytest.fixture
def newsroom(db):
    from accounts.services import roles_sync

    roles_sync()
    people = {
        "redacteur": UserFactory(username="redacteur", roles=["author"], preferred_language="nl"),
        "auteur": UserFactory(username="auteur", roles=["author"], preferred_language="fr"),
        "approbateur": UserFactory(username="approbateur", roles=["approver"], preferred_language="fr"),
        "goedkeurder": UserFactory(username="goedkeurder", roles=["approver"], preferred_language="nl"),
    }
    fr = ChannelFactory(name="@PoliceBruxelles", language="fr", coverage=["21004", "21009"])
    nl = ChannelFactory(name="@PolitieBrussel", language="nl", coverage=["21004", "21009"])
    fed = ChannelFactory(name="Federale politie", language="nl", covers_all=True)
    now = timezone.now()
    rows = {}
    for author in ("redacteur", "auteur"):
        user = people[author]
        rows[f"published-{author}"], _ = message_with_deliveries(
            author=user,
            title=f"Fietsdiefstallen Elsene ({author})",
            due_at=now - timedelta(hours=3),
            routes=[(fr, "sent"), (nl, "failed"), (fed, "unconfirmed")],
            state=MessageState.PARTIALLY_FAILED,
        )
        rows[f"upcoming-{author}"], _ = message_with_deliveries(
            author=user,
            title=f"Kerstmarkt — Marché de Noël ({author})",
            due_at=now + timedelta(hours=20),
            routes=[(fr, "pending"), (nl, "pending"), (fed, "pending")],
            urgency="important",
        )
        submitted = make_message(author=user, municipalities=["21009"])
        from publisher.workflow import services

        services.message_update(message=submitted, actor=user, title=f"Wegenwerken Hoogstraat ({author})")
        services.message_submit(message=submitted, actor=user)
    rows["alert"], _ = message_with_deliveries(
        author=people["approbateur"],
        title="Alerte : incendie rue Haute / Alarm: brand Hoogstraat",
        due_at=now - timedelta(minutes=40),
        routes=[(fr, "sent"), (nl, "sent")],
        state=MessageState.PUBLISHED,
        approved_by_policy=True,
        urgency="urgent",
    )
    rows["retracted"], _ = message_with_deliveries(
        author=people["redacteur"],
        title="Ingetrokken bericht",
        due_at=now - timedelta(hours=1),
        routes=[(fr, "retracted")],
        state=MessageState.RETRACTED,
    )
    rows["cancelled"], _ = message_with_deliveries(
        author=people["auteur"],
        title="Message annulé",
        due_at=now + timedelta(hours=2),
        routes=[(fr, "cancelled")],
        state=MessageState.CANCELLED,
    )
    # Figures of a message sent in both languages on two networks (Telegram gives no likes).
    masto_fr = ChannelFactory(name="Police (Mastodon)", kind="mastodon", language="fr")
    masto_nl = ChannelFactory(name="Politie (Mastodon)", kind="mastodon", language="nl")
    telegram_nl = ChannelFactory(name="Politie (Telegram)", kind="telegram", language="nl")
    for author in ("redacteur", "auteur"):
        _message, sent = message_with_deliveries(
            author=people[author],
            title=f"Verkeersongeval — Accident ({author})",
            due_at=now - timedelta(days=2),
            routes=[(masto_fr, "sent"), (masto_nl, "sent"), (telegram_nl, "sent")],
            state=MessageState.PUBLISHED,
        )
        Delivery.objects.filter(pk__in=[d.pk for d in sent]).update(sent_at=now - timedelta(days=2))
        for delivery, figures in zip(
            sent,
            ({"likes": 48, "reposts": 12, "replies": 5}, {"likes": 31, "reposts": 20, "replies": 9}, {"views": 1240}),
            strict=True,
        ):
            EngagementSnapshot.objects.create(delivery=delivery, checkpoint=86400, taken_at=now, figures=figures)
    Channel.objects.filter(pk=fed.pk).update(
        needs_reconnect=True, needs_reconnect_reason="HTTP 401: the access token was revoked."
    )
    # A long error, as networks write them: it must wrap inside its cell.
    Delivery.objects.filter(state="failed").update(
        last_error="HTTP 422 Unprocessable Entity: " + "Validation failed: Text character limit of 500 exceeded " * 3
    )
    return people, rows


@pytest.mark.parametrize(("username", "language"), [("redacteur", "nl"), ("auteur", "fr")])
def test_the_author_home(login, newsroom, username, language):
    _people, rows = newsroom
    session = login(username)
    session.goto("/admin/")
    page = session.page
    assert page.locator("html").get_attribute("lang") == language
    heading = {"nl": "Vandaag", "fr": "Aujourd’hui"}[language]
    assert page.locator("#content h1").inner_text() == heading
    mine = page.locator("#home-mine").inner_text()
    assert f"Fietsdiefstallen Elsene ({username})" in mine
    assert {"nl": "Gedeeltelijk mislukt", "fr": "Partiellement échoué"}[language] in mine
    assert (
        page.locator("#home-mine a", has_text={"nl": "bericht bekijken", "fr": "voir la publication"}[language]).count()
        >= 1
    )
    upcoming = page.locator("#home-upcoming").inner_text()
    assert "Kerstmarkt" in upcoming
    assert "Federale politie" in upcoming
    assert "Message annulé" not in upcoming
    # Only their own failures, and no decision buttons.
    decisions = page.locator("#home-decisions")
    assert f"({username})" in decisions.inner_text()
    assert decisions.locator("button").count() == 0
    assert page.locator("#home-alerts").count() == 0
    assert "HTTP 401" in page.locator("#home-reconnect").inner_text()
    # Technical models are for administrators.
    manage = page.locator("#home-manage").inner_text()
    for technical in ("Occurrences", "Varianten", "Variantes", "Tentatives", "Verzendpogingen", "Tâches", "Taken"):
        assert technical not in manage, technical
    assert page.locator("link[rel=icon]").count() == 2
    figures = page.locator("#home-engagement")
    assert {"nl": "Cijfers van mijn berichten, laatste 7 dagen", "fr": "Chiffres de mes messages, 7 derniers jours"}[
        language
    ] in figures.inner_text()
    assert figures.locator(".bar[data-language=fr]").count() == 3  # Mastodon likes, reposts, replies
    assert figures.locator(".bar[data-language=nl]").count() == 4  # and Telegram views
    assert figures.locator(".not-given").count() == 1  # no French post on Telegram: a dash
    widths = (
        figures.locator(".engagement-metric")
        .first.locator(".bar")
        .evaluate_all("bars => bars.map(b => b.getBoundingClientRect().width)")
    )
    assert widths[1] / widths[0] == pytest.approx(31 / 48, abs=0.02)  # FR 48 likes, NL 31: to scale
    assert_layout(page)
    figures.scroll_into_view_if_needed()
    session.shot(f"newsroom-01-home-author-{language}")


@pytest.mark.parametrize(("username", "language"), [("approbateur", "fr"), ("goedkeurder", "nl")])
def test_the_approver_home_and_retrying_a_failed_delivery(login, newsroom, username, language):
    people, rows = newsroom
    session = login(username)
    session.goto("/admin/")
    page = session.page
    approvals = page.locator("#dashboard-approvals").inner_text()
    assert "Wegenwerken Hoogstraat (redacteur)" in approvals
    assert "Wegenwerken Hoogstraat (auteur)" in approvals
    alerts = page.locator("#home-alerts")
    assert "incendie rue Haute" in alerts.inner_text()
    assert {"fr": "Urgent", "nl": "Dringend"}[language] in alerts.inner_text()
    assert_layout(page)
    session.shot(f"newsroom-02-home-approver-{language}")

    failed = Delivery.objects.get(occurrence__message=rows["published-redacteur"], state=DeliveryState.FAILED)
    row = page.locator(f"#decision-{failed.pk}")
    assert "@PolitieBrussel" in row.inner_text()
    row.get_by_role("button", name={"fr": "Renvoyer", "nl": "Opnieuw versturen"}[language]).click()
    page.wait_for_selector(".messagelist .success")
    assert {"fr": "renvoyé", "nl": "opnieuw verstuurd"}[language] in page.locator(".messagelist").inner_text()
    assert page.locator(f"#decision-{failed.pk}").count() == 0
    failed.refresh_from_db()
    assert failed.state == DeliveryState.PENDING
    assert AuditEvent.objects.get(verb="delivery.retried", object_id=str(failed.pk)).actor == people[username]
    # Now late rather than failed: it is listed with what goes out.
    assert "Fietsdiefstallen Elsene (redacteur)" in page.locator("#home-upcoming").inner_text()
    assert_layout(page)
    session.shot(f"newsroom-03-home-after-retry-{language}")

    # Posted by hand, with the post's address; then the alert reviewed.
    unconfirmed = Delivery.objects.get(occurrence__message=rows["published-auteur"], state=DeliveryState.UNCONFIRMED)
    row = page.locator(f"#decision-{unconfirmed.pk}")
    row.locator("input[name=remote_url]").fill("https://social.example/@federale/1")
    row.locator("button.posted").click()
    page.wait_for_selector(".messagelist .success")
    unconfirmed.refresh_from_db()
    assert (unconfirmed.state, unconfirmed.remote_url) == ("sent", "https://social.example/@federale/1")
    page.locator(f"#alert-{rows['alert'].pk} button.reviewed").click()
    page.wait_for_selector(".messagelist .success")
    assert page.locator(f"#alert-{rows['alert'].pk}").count() == 0
    session.shot(f"newsroom-04-home-after-decisions-{language}")


@pytest.mark.parametrize(("username", "language"), [("approbateur", "fr"), ("goedkeurder", "nl")])
def test_calendar_states(login, newsroom, username, language):
    _people, rows = newsroom
    session = login(username)
    day = timezone.localdate().isoformat()
    session.goto(f"/admin/publisher/message/calendar/?date={day}")
    page = session.page
    labels = {
        "fr": {"retracted": "Retiré", "cancelled": "Annulé", "urgent": "Urgent", "scheduled": "Planifié"},
        "nl": {"retracted": "Ingetrokken", "cancelled": "Geannuleerd", "urgent": "Dringend", "scheduled": "Gepland"},
    }[language]
    retracted = page.locator(".calendar-entry.state-retracted")
    assert labels["retracted"] in retracted.inner_text()
    assert retracted.locator(".title").evaluate("e => getComputedStyle(e).textDecorationLine") == "line-through"
    cancelled = page.locator(".calendar-entry.state-cancelled")
    assert labels["cancelled"] in cancelled.inner_text()
    assert labels["urgent"] in page.locator(".calendar-entry", has_text="incendie").inner_text()
    assert_layout(page)
    session.shot(f"newsroom-05-calendar-{language}")
    page.select_option("select[name=state]", "retracted")
    page.click("#calendar-filters button[type=submit]")
    page.wait_for_url("**state=retracted**")
    titles = page.locator(".calendar-entry .title").all_inner_texts()
    assert titles == ["Ingetrokken bericht"]
    session.shot(f"newsroom-06-calendar-retracted-{language}")


@pytest.mark.parametrize(("username", "language"), [("approbateur", "fr"), ("goedkeurder", "nl")])
def test_lists_fit_at_1280(login, newsroom, username, language):
    _people, rows = newsroom
    session = login(username)
    page = session.page
    for name, path in [
        ("deliveries", "/admin/publisher/delivery/"),
        ("approvals", "/admin/publisher/message/approvals/"),
        ("messages", "/admin/publisher/message/"),
        ("published-message", f"/admin/publisher/message/{rows['published-redacteur'].pk}/change/"),
    ]:
        session.goto(path)
        session.shot(f"newsroom-07-{name}-{language}")
        assert_layout(page)
    session.goto("/admin/publisher/delivery/")
    assert page.locator("th.column-message_title").count() == 1
    assert "Fietsdiefstallen Elsene" in page.locator("#result_list").inner_text()
