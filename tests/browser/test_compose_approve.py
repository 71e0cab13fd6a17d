"""A redacteur composes and submits a FR/NL message for a Brussels audience in Dutch; an
approbateur approves it in French with the legal checklist; the own-message rule and the
Dutch interface are checked on the real pages."""

import re
from datetime import timedelta
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils import timezone
from PIL import Image

from publisher.models import Attachment, AuditEvent, Delivery, Message, MessageState
from tests.factories import ChannelFactory, UserFactory

pytestmark = pytest.mark.browser

IXELLES = "21009"


@pytest.fixture
def people(db):
    from accounts.services import roles_sync

    roles_sync()
    return {
        "redacteur": UserFactory(username="redacteur", roles=["author"], preferred_language="nl"),
        "approbateur": UserFactory(username="approbateur", roles=["approver"], preferred_language="fr"),
    }


@pytest.fixture
def brussels_channels(db):
    return [
        ChannelFactory(name="@PolitieBrussel", language="nl", coverage=["21004", IXELLES]),
        ChannelFactory(name="@PoliceBruxelles", language="fr", coverage=["21004", IXELLES]),
        ChannelFactory(name="Federale politie", language="nl", covers_all=True),
    ]


def local_input(when):
    return timezone.localtime(when).strftime("%Y-%m-%dT%H:%M")


def pick_municipality(page, search, expected):
    page.click("#field-audience_municipalities .select2-selection")
    page.fill(".select2-container--open .select2-search__field", search)
    page.click(f".select2-results__option:has-text('{expected}')")


def test_redacteur_composes_and_approbateur_approves(login, people, brussels_channels, tmp_path):
    image_path = tmp_path / "fietsen.png"
    Image.new("RGB", (1200, 675), (30, 90, 160)).save(image_path)
    due = (timezone.localtime() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)

    redacteur = login("redacteur", locale="nl-BE")
    page = redacteur.page
    redacteur.goto("/admin/publisher/message/add/")
    assert page.locator("html").get_attribute("lang") == "nl"
    page.fill("#id_title", "Fietsdiefstallen Elsene")
    pick_municipality(page, "1050", "Elsene")
    preview = page.locator("#audience-preview")
    preview.get_by_text("NL → @PolitieBrussel (outbox)").wait_for()
    assert "Frans, Nederlands" in preview.inner_text()
    page.fill("#id_text_fr", "Vols de vélos à Ixelles : cadenassez toujours votre vélo à un point fixe.")
    page.fill("#id_text_nl", "Fietsdiefstallen in Elsene: maak uw fiets altijd vast aan een vast punt.")
    page.locator('.counter[data-language="nl"]').get_by_text("@PolitieBrussel: 72").wait_for()
    page.set_input_files("#id_image", str(image_path))
    page.fill("#id_image_alt_fr", "Un vélo cadenassé à un arceau")
    page.fill("#id_image_alt_nl", "Een fiets vastgemaakt aan een fietsbeugel")
    page.fill("#id_first_time", local_input(due))
    page.locator("#occurrence-preview li").first.wait_for()
    redacteur.shot("01-redacteur-compose-nl")
    page.click("input[name=_save]")
    page.wait_for_selector("#submit-for-approval")
    redacteur.shot("02-redacteur-saved-nl")
    assert page.locator("#problems .errorlist").count() == 0
    page.click("#submit-for-approval")
    page.wait_for_selector(".messagelist .success")
    redacteur.shot("03-redacteur-submitted-nl")

    message = Message.objects.get(title="Fietsdiefstallen Elsene")
    assert message.state == MessageState.SUBMITTED
    assert Attachment.objects.filter(message=message, alt_nl__startswith="Een fiets").count() == 1

    approbateur = login("approbateur", locale="fr-BE")
    page = approbateur.page
    approbateur.goto("/admin/")
    queue = page.locator("#dashboard-approvals")
    assert "En attente de mon approbation" in queue.inner_text()
    approbateur.shot("04-approbateur-dashboard-fr")
    queue.get_by_role("link", name="Fietsdiefstallen Elsene").click()
    page.wait_for_selector("#approve-form")
    # Approving without the checklist is refused, with the missing lines marked.
    page.click("#approve")
    page.wait_for_selector("#approve-form .field-error li")
    approbateur.shot("05-approbateur-checklist-refused-fr")
    for key in ("presumption_of_innocence", "investigation_secrecy", "portrait_consent", "official_tone"):
        page.check(f"#id_approve-{key}")
    page.fill("#id_approve-comment", "OK pour publication.")
    approbateur.shot("06-approbateur-checklist-fr")
    page.click("#approve")
    page.wait_for_selector(".messagelist .success")
    approbateur.shot("07-approbateur-approved-fr")

    message.refresh_from_db()
    assert message.state == MessageState.SCHEDULED
    assert message.approved_by == people["approbateur"]
    assert AuditEvent.objects.get(verb="message.approved", object_id=str(message.pk)).summary["checklist"]
    routed = sorted((d.language, d.channel.name) for d in Delivery.objects.filter(occurrence__message=message))
    assert routed == [("fr", "@PoliceBruxelles"), ("nl", "@PolitieBrussel"), ("nl", "Federale politie")]
    assert all(d.due_at == due for d in Delivery.objects.filter(occurrence__message=message))
    approbateur.goto(f"/admin/publisher/message/calendar/?date={due.date().isoformat()}")
    page.locator(".calendar-entry", has_text="Fietsdiefstallen Elsene").wait_for()
    approbateur.shot("08-approbateur-calendar-fr")
    _outbox_receives_both_variants(message, due)


def _outbox_receives_both_variants(message, due):
    """The dispatcher's pass at the due time writes both variants to the outbox (Q_CLUSTER sync in tests)."""
    import time_machine

    from publisher.delivery import dispatch

    with time_machine.travel(due + timedelta(seconds=5), tick=False):
        dispatch.dispatch_once()
    posts = [p.read_text(encoding="utf-8") for p in Path(settings.TANDEM_OUTBOX_DIR).rglob("*.json")]
    assert any("Vols de vélos à Ixelles" in p for p in posts)
    assert any("Fietsdiefstallen in Elsene" in p for p in posts)


def test_approver_cannot_approve_own_message(login, roles_and_both, brussels_channels):
    from publisher.workflow import services

    both = roles_and_both
    message = services.message_create(
        author=both,
        title="Eigen bericht",
        variants={"fr": services.VariantInput("Bonjour"), "nl": services.VariantInput("Hallo")},
        audience=services.Audience(municipalities=[IXELLES]),
    )
    services.message_submit(message=message, actor=both)
    session = login("beide")  # browser in English: the interface follows the preference (nl)
    session.goto(f"/admin/publisher/message/{message.pk}/change/")
    page = session.page
    page.wait_for_selector(".own-message")
    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.locator("#approve-form").count() == 0
    session.shot("09-own-message-page-nl")
    session.goto("/admin/publisher/message/approvals/")
    assert "Eigen bericht" not in page.locator("#approval-queue").inner_text()
    session.shot("09-own-message-queue-nl")
    message.refresh_from_db()
    assert message.state == MessageState.SUBMITTED


@pytest.fixture
def roles_and_both(db):
    from accounts.services import roles_sync

    roles_sync()
    return UserFactory(username="beide", roles=["author", "approver"], preferred_language="nl")


def english_source_strings():
    """English msgids whose Dutch translation differs: none of them may show on a Dutch page."""
    catalogue = polib.pofile(str(Path(settings.BASE_DIR) / "locale" / "nl" / "LC_MESSAGES" / "django.po"))
    found = []
    for entry in catalogue:
        text = entry.msgid
        if entry.obsolete or "%(" in text or entry.msgstr == text or len(text.split()) < 2:
            continue
        found.append(text)
    # Django admin chrome seen on these pages.
    return found + ["Log out", "View site", "Change password", "Welcome,"]


def test_dutch_interface_shows_no_english(login, people, brussels_channels):
    from publisher.workflow import services

    author = people["redacteur"]
    message = services.message_create(
        author=author,
        title="Bericht",
        variants={"fr": services.VariantInput("Bonjour")},
        audience=services.Audience(municipalities=[IXELLES]),
    )
    session = login("redacteur")
    english = english_source_strings()
    pages = {
        "10-nl-compose": "/admin/publisher/message/add/",
        "11-nl-message": f"/admin/publisher/message/{message.pk}/change/",
        "12-nl-approvals": "/admin/publisher/message/approvals/",
        "13-nl-calendar": "/admin/publisher/message/calendar/",
        "14-nl-dashboard": "/admin/",
    }
    leaks = {}
    for name, path in pages.items():
        session.goto(path)
        session.page.wait_for_load_state("networkidle")
        session.shot(name)
        visible = re.sub(r"\s+", " ", session.page.inner_text("body"))
        found = [text for text in english if re.search(r"\b" + re.escape(text) + r"\b", visible)]
        if found:
            leaks[path] = found
    assert leaks == {}
