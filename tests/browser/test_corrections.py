"""Correcting a published message in the browser, in French and in Dutch: an author clicks
Correct, fixes the prefilled texts and submits; another person approves; the correction
edits the Mastodon post in place and replies on the Bluesky thread (Bluesky cannot edit).
Screenshots in test-artifacts/browser/corrections-*.png."""

import pytest

from publisher.channels.mastodon import _INSTANCE_CACHE
from publisher.delivery import dispatch, publishing
from publisher.models import AuditEvent, Channel, Delivery, DeliveryState, Message, MessageState
from publisher.workflow import services
from publisher.workflow.checklist import checklist_all_ticked
from tests.factories import UserFactory, make_message
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks

pytestmark = pytest.mark.browser

HANDLE, PASSWORD, TOKEN = "zone.bsky.social", "app-pass-word", "zone-token"
# (interface language, author, approver, button labels, expected words on the pages)
CASES = {
    "fr": ("auteur", "approbateur", ["Corriger", "Mise à jour", "Fin d’alerte"], "Correction de"),
    "nl": ("redacteur", "goedkeurder", ["Corrigeren", "Update", "Einde alarm"], "Correctie van"),
}


def publish_due() -> int:
    """What the dispatcher and a worker do: the claim's hand-over runs the publish task at once
    here (the test settings' synchronous django-q2). Returns how many of them were sent."""
    ids = list(Delivery.objects.filter(state=DeliveryState.PENDING).values_list("pk", flat=True))
    dispatch.deliveries_claim(ids=ids)
    publishing.deliveries_publish(delivery_ids=ids)  # nothing left to do unless the hand-over missed
    return Delivery.objects.filter(pk__in=ids, state=DeliveryState.SENT).count()


@pytest.fixture
def newsroom(db, fake_mastodon, fake_bluesky, make_channel):
    from accounts.services import roles_sync

    roles_sync()
    _INSTANCE_CACHE.clear()
    fake_mastodon.add_token(TOKEN)
    fake_bluesky.add_account(HANDLE, PASSWORD)
    toots = make_channel("mastodon", config={"base_url": fake_mastodon.url}, secret=TOKEN, language="nl")
    skeets = make_channel("bluesky", config={"pds_url": fake_bluesky.url, "identifier": HANDLE}, secret=PASSWORD)
    Channel.objects.filter(pk=toots.pk).update(name="@PolitieBrussel (Mastodon)")
    Channel.objects.filter(pk=skeets.pk).update(name="@PoliceBruxelles (Bluesky)")
    people = {
        "redacteur": UserFactory(username="redacteur", roles=["author"], preferred_language="nl"),
        "auteur": UserFactory(username="auteur", roles=["author"], preferred_language="fr"),
        "approbateur": UserFactory(username="approbateur", roles=["approver"], preferred_language="fr"),
        "goedkeurder": UserFactory(username="goedkeurder", roles=["approver"], preferred_language="nl"),
    }
    original = make_message(
        author=people["redacteur"],
        variants={
            "fr": "Marché de Noël : la rue Haute est fermée jusqu'au 12 décembre.",
            "nl": "Kerstmarkt: de Hoogstraat is afgesloten tot 12 december.",
        },
    )
    Message.objects.filter(pk=original.pk).update(title="Kerstmarkt — Marché de Noël")
    original.refresh_from_db()
    services.message_submit(message=original, actor=people["redacteur"])
    services.message_approve(message=original, actor=people["approbateur"], checklist=checklist_all_ticked())
    assert publish_due() == 2
    return people, original, fake_mastodon, fake_bluesky


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_correct_edits_mastodon_in_place_and_replies_on_bluesky(login, newsroom, language):
    people, original, mastodon, bluesky = newsroom
    author_name, approver_name, labels, correction_of = CASES[language]
    toot_id = Delivery.objects.get(occurrence__message=original, channel__kind="mastodon").remote_id

    author = login(author_name)
    page = author.page
    author.goto(f"/admin/publisher/message/{original.pk}/change/")
    buttons = [page.inner_text(f"#follow-up-{kind}") for kind in ("correct", "update", "all_clear")]
    assert buttons == labels
    author.shot(f"corrections-01-published-{language}")

    page.click("#follow-up-correct")
    page.wait_for_selector("#follows")
    assert correction_of in page.inner_text("#follows")
    assert page.input_value("#id_text_nl") == "Kerstmarkt: de Hoogstraat is afgesloten tot 12 december."
    author.shot(f"corrections-02-drafted-{language}")
    draft = Message.objects.get(follows=original)
    assert draft.is_correction

    # Submitting it unchanged is refused: the correction must change something.
    assert page.is_disabled("#submit-for-approval")
    page.fill("#id_text_fr", "Marché de Noël : la rue Haute est fermée jusqu'au 19 décembre.")
    page.fill("#id_text_nl", "Kerstmarkt: de Hoogstraat is afgesloten tot 19 december.")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    page.click("#submit-for-approval")
    page.wait_for_selector(".messagelist .success")
    author.shot(f"corrections-03-submitted-{language}")
    # Four eyes: the corrector is an author, the approval is someone else's.
    assert page.query_selector("#approve-form") is None

    approver = login(approver_name)
    approver.goto(f"/admin/publisher/message/{draft.pk}/change/")
    for key in checklist_all_ticked():
        approver.page.check(f"#id_approve-{key}")
    approver.page.click("#approve")
    approver.page.wait_for_selector(".messagelist .success")

    assert publish_due() == 2

    approver.goto(f"/admin/publisher/message/{draft.pk}/change/")
    assert approver.page.locator("#deliveries tr.delivery-sent").count() == 2
    approver.shot(f"corrections-04-corrected-{language}")
    approver.goto(f"/admin/publisher/message/{original.pk}/change/")
    assert approver.page.locator("#follow-ups li").count() == 1
    approver.shot(f"corrections-05-original-{language}")

    # Mastodon: the same post, new text, the old one in its history.
    assert len(mastodon.statuses) == 1
    assert mastodon.statuses[toot_id]["content"] == "Kerstmarkt: de Hoogstraat is afgesloten tot 19 december."
    assert mastodon.history[toot_id][0]["content"].endswith("12 december.")
    # Bluesky cannot edit: a reply on the original's thread, saying it is a correction.
    replies = [r["value"] for r in bluesky.records.values() if r["value"].get("reply")]
    assert [r["text"] for r in replies] == [
        "Correction : Marché de Noël : la rue Haute est fermée jusqu'au 19 décembre."
    ]
    assert AuditEvent.objects.filter(verb="delivery.edited").count() == 1
    draft.refresh_from_db()
    assert draft.state == MessageState.PUBLISHED
    assert draft.approved_by == people[approver_name]
