"""Starting a message from a template (FR and NL authors), duplicating it, and retracting a
published message through its confirmation page (FR and NL approvers): the posts listed, then
deleted with our outbox copies. Screenshots in test-artifacts/browser/templates-*.png and
retract-*.png."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import TestCase
from django.utils import timezone

from publisher.delivery import dispatch
from publisher.models import Delivery, DeliveryState, Message, MessageState, MessageTemplate
from publisher.workflow import services
from publisher.workflow.checklist import checklist_all_ticked
from tests.conftest import message_templates_seed
from tests.factories import ChannelFactory, UserFactory

pytestmark = pytest.mark.browser

VALUES = {
    "fr": {"lieu": "Ixelles", "faits": "un incendie rue du Trône"},
    "nl": {"plaats": "Elsene", "feiten": "een brand in de Troonstraat"},
}
WORDS = {
    "fr": {"use": "Utiliser ce modèle", "write": "Rédiger le message à partir de ce modèle", "fill": "Complétez"},
    "nl": {"use": "Dit sjabloon gebruiken", "write": "Het bericht opstellen vanuit dit sjabloon", "fill": "Vul"},
}


@pytest.fixture
def people(db):
    from accounts.services import roles_sync

    roles_sync()
    message_templates_seed()
    return {
        "fr": UserFactory(username="auteur", roles=["author"], preferred_language="fr"),
        "nl": UserFactory(username="redacteur", roles=["author"], preferred_language="nl"),
        "approver-fr": UserFactory(username="approbateur", roles=["approver"], preferred_language="fr"),
        "approver-nl": UserFactory(username="goedkeurder", roles=["approver"], preferred_language="nl"),
    }


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_an_author_starts_from_a_template_and_duplicates_the_message(login, people, language):
    holding = MessageTemplate.objects.get(slug="holding-statement")
    session = login(people[language].username, locale=f"{language}-BE")
    page = session.page
    session.goto("/admin/publisher/message/add/")
    box = page.locator("#start-from-template")
    assert box.is_visible()
    page.select_option("#template-choice", str(holding.pk))
    session.shot(f"templates-01-compose-offers-templates-{language}")
    page.get_by_role("button", name=WORDS[language]["use"]).click()
    page.wait_for_url(f"**/template/{holding.pk}/")
    # The author reads the template with labels, never the codes in braces.
    preview = page.locator("#template-texts").inner_text()
    assert "[Lieu]" in preview
    assert "[Plaats]" in preview
    assert "{" not in preview

    # Submitting with a Dutch value missing: refused at that field, in the reader's language.
    page.fill("input[name=fr__0]", VALUES["fr"]["lieu"])
    page.fill("input[name=fr__1]", VALUES["fr"]["faits"])
    page.fill("input[name=nl__0]", VALUES["nl"]["plaats"])
    page.get_by_role("button", name=WORDS[language]["write"]).click()
    # The page still names the template in the reader's language.
    assert page.title().startswith("Partir d'un modèle : Communiqué" if language == "fr" else "Beginnen vanuit")
    error = page.locator("#field-nl__1 .errorlist li")
    error.wait_for()
    assert WORDS[language]["fill"] in error.inner_text()
    session.shot(f"templates-02-placeholder-missing-{language}")

    page.fill("input[name=nl__1]", VALUES["nl"]["feiten"])
    session.shot(f"templates-03-placeholders-filled-{language}")
    page.get_by_role("button", name=WORDS[language]["write"]).click()
    page.wait_for_url("**/message/add/?template=*")
    assert page.input_value("#id_text_fr").startswith("Nous sommes au courant de la situation à Ixelles : un incendie")
    assert page.input_value("#id_text_nl").startswith("We zijn op de hoogte van de situatie in Elsene: een brand")
    assert page.input_value("#id_title") == ("Incident à Ixelles" if language == "fr" else "Incident in Elsene")
    session.shot(f"templates-04-compose-prefilled-{language}")

    page.check("#id_audience_all")
    page.click("input[name=_save]")
    page.wait_for_selector("#duplicate")
    message = Message.objects.get(author=people[language])
    assert message.variants.get(language="nl").text.startswith("We zijn op de hoogte van de situatie in Elsene")
    session.shot(f"templates-05-saved-{language}")

    page.click("#duplicate")
    page.wait_for_function(f"() => !location.pathname.includes('/message/{message.pk}/')")
    copy = Message.objects.exclude(pk=message.pk).get(author=people[language])
    assert copy.state == MessageState.DRAFT
    assert f"/message/{copy.pk}/change/" in page.url
    assert page.input_value("#id_text_fr") == message.variants.get(language="fr").text
    session.shot(f"templates-06-duplicate-{language}")


@pytest.fixture
def published(people, settings, tmp_path):
    settings.TANDEM_OUTBOX_DIR = str(tmp_path / "outbox")
    channels = [
        ChannelFactory(name="@PoliceBruxelles", kind="outbox", language="fr", coverage=["21004"]),
        ChannelFactory(name="@PolitieBrussel", kind="outbox", language="nl", coverage=["21004"]),
        # Not routed (it would need an image); its post is recorded below as gone out.
        ChannelFactory(name="Instagram Police", kind="instagram", language="fr", coverage=["21009"]),
    ]
    message = services.message_create(
        author=people["fr"],
        title="Tunnel Léopold II fermé",
        variants={
            "fr": services.VariantInput("Le tunnel Léopold II est fermé cette nuit."),
            "nl": services.VariantInput("De Leopold II-tunnel is vannacht gesloten."),
        },
        audience=services.Audience(municipalities=["21004"]),
    )
    services.message_submit(message=message, actor=people["fr"])
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.message_approve(message=message, actor=people["approver-nl"], checklist=checklist_all_ticked())
    occurrence = message.occurrences.get()
    # Instagram offers no deletion: a post of it that went out (its fake is not needed here).
    Delivery.objects.create(
        occurrence=occurrence,
        channel=channels[2],
        language="fr",
        state=DeliveryState.SENT,
        due_at=occurrence.due_at,
        remote_url="https://www.instagram.com/p/abc/",
        sent_at=timezone.now(),
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispatch.dispatch_once(now=timezone.now() + timedelta(minutes=5))
    Message.objects.filter(pk=message.pk).update(state=MessageState.PUBLISHED)
    return message, channels


def outbox_files(channel):
    folder = Path(settings.TANDEM_OUTBOX_DIR) / f"channel-{channel.pk}"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_an_approver_retracts_after_seeing_what_will_be_deleted(login, people, published, language):
    message, channels = published
    assert Delivery.objects.filter(occurrence__message=message, state=DeliveryState.SENT).count() == 3
    assert outbox_files(channels[0])
    session = login(people[f"approver-{language}"].username, locale=f"{language}-BE")
    page = session.page
    session.goto(f"/admin/publisher/message/{message.pk}/change/")
    session.shot(f"retract-01-message-page-{language}")
    page.click("#retract")
    page.wait_for_selector("#retract-confirm-form")
    rows = page.locator("#retract-delete tr.retract-post")
    assert rows.count() == 2
    assert "@PoliceBruxelles" in page.locator("#retract-delete").inner_text()
    kept = page.locator("#retract-cannot-delete")
    assert "Instagram Police" in kept.inner_text()
    session.shot(f"retract-02-confirmation-{language}")
    # Viewing the confirmation changed nothing.
    message.refresh_from_db()
    assert message.state == MessageState.PUBLISHED

    page.click("#retract-confirm")  # no reason: the browser asks for one, nothing is sent
    assert page.eval_on_selector("#id_retract-reason", "e => e.validity.valueMissing")
    message.refresh_from_db()
    assert message.state == MessageState.PUBLISHED
    page.fill("#id_retract-reason", "Mauvaise date / Verkeerde datum")
    page.click("#retract-confirm")
    page.wait_for_selector("#deliveries")
    message.refresh_from_db()
    assert message.state == MessageState.RETRACTED
    states = dict(Delivery.objects.filter(occurrence__message=message).values_list("channel__name", "state"))
    assert states["@PoliceBruxelles"] == DeliveryState.RETRACTED
    assert states["@PolitieBrussel"] == DeliveryState.RETRACTED
    # Our outbox copies went with the posts, and the page links to no deleted file.
    assert outbox_files(channels[0]) == []
    assert outbox_files(channels[1]) == []
    assert page.locator("#deliveries a[href^='file:']").count() == 0
    session.shot(f"retract-03-retracted-{language}")


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_an_administrator_edits_a_template(login, people, language):
    UserFactory(username=f"beheer-{language}", roles=["channel_admin"], preferred_language=language)
    holding = MessageTemplate.objects.get(slug="holding-statement")
    session = login(f"beheer-{language}", locale=f"{language}-BE")
    page = session.page
    session.goto("/admin/publisher/messagetemplate/")
    assert page.locator("#result_list tbody tr").count() == 5
    session.shot(f"templates-07-admin-list-{language}")
    session.goto(f"/admin/publisher/messagetemplate/{holding.pk}/change/")
    # A brace left open is refused at its field, in the reader's language.
    page.fill("#id_text_nl", "We zijn op de hoogte van de situatie in {plaats.")
    page.click("input[name=_save]")
    page.locator(".field-text_nl .errorlist li").wait_for()
    session.shot(f"templates-08-admin-refused-{language}")
    holding.refresh_from_db()
    assert "{plaats}" in holding.text_nl
