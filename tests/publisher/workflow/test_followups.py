"""Correct, Update, All clear: drafted from a published message, approved by four eyes, then
carried by delivery (edit in place on Mastodon, a correction reply on Bluesky)."""

import pytest
from django.test import TestCase

from publisher.channels.mastodon import _INSTANCE_CACHE
from publisher.delivery import dispatch, publishing
from publisher.errors import InvalidTransition, NotAllowed, ValidationError
from publisher.models import AuditEvent, Delivery, DeliveryState, MessageKind, MessageState
from publisher.workflow import followups, retraction, services
from publisher.workflow.checklist import checklist_all_ticked
from tests.factories import UserFactory, make_message
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks

pytestmark = pytest.mark.django_db

MASTODON_TOKEN = "zone-token"
HANDLE, PASSWORD = "zone.bsky.social", "app-pass-word"


def publish_due() -> dict[str, int]:
    ids = list(Delivery.objects.filter(state=DeliveryState.PENDING).values_list("pk", flat=True))
    dispatch.deliveries_claim(ids=ids)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return publishing.deliveries_publish(delivery_ids=ids)


def approve(message, *, by):
    return services.message_approve(message=message, actor=by, checklist=checklist_all_ticked())


@pytest.fixture
def networks(fake_mastodon, fake_bluesky, make_channel):
    _INSTANCE_CACHE.clear()
    fake_mastodon.add_token(MASTODON_TOKEN)
    fake_bluesky.add_account(HANDLE, PASSWORD)
    make_channel("mastodon", config={"base_url": fake_mastodon.url}, secret=MASTODON_TOKEN, language="nl")
    make_channel("bluesky", config={"pds_url": fake_bluesky.url, "identifier": HANDLE}, secret=PASSWORD, language="fr")
    return fake_mastodon, fake_bluesky


@pytest.fixture
def published(networks, author, approver):
    message = make_message(
        author=author, variants={"fr": "Rue fermée jusqu'au 12 mai.", "nl": "Straat dicht tot 12 mei."}
    )
    services.message_submit(message=message, actor=author)
    approve(message, by=approver)
    assert publish_due() == {"sent": 2}
    message.refresh_from_db()
    assert message.state == MessageState.PUBLISHED
    return message


def correct(message, *, actor, fr=None, nl=None):
    draft = followups.message_follow_up_draft(original=message, actor=actor, kind=followups.FollowUp.CORRECT)
    texts = {v.language: v.text for v in draft.variants.all()}
    texts.update({k: v for k, v in (("fr", fr), ("nl", nl)) if v is not None})
    return services.message_update(
        message=draft, actor=actor, variants={k: services.VariantInput(v) for k, v in texts.items()}
    )


def test_correction_edits_mastodon_in_place_and_replies_on_bluesky(networks, published, author, approver):
    mastodon, bluesky = networks
    toot_id = Delivery.objects.get(channel__kind="mastodon").remote_id
    corrector = UserFactory(username="corrector", roles=["author", "approver"])

    draft = correct(published, actor=corrector, fr="Rue fermée jusqu'au 19 mai.", nl="Straat dicht tot 19 mei.")
    assert (draft.follows, draft.is_correction, draft.kind) == (published, True, MessageKind.UPDATE)
    services.message_submit(message=draft, actor=corrector)
    with pytest.raises(NotAllowed):
        approve(draft, by=corrector)  # four eyes: the corrector wrote it
    approve(draft, by=approver)
    assert publish_due() == {"sent": 2}

    assert len(mastodon.statuses) == 1
    assert mastodon.statuses[toot_id]["content"] == "Straat dicht tot 19 mei."
    assert mastodon.history[toot_id][0]["content"] == "Straat dicht tot 12 mei."
    replies = [r["value"] for r in bluesky.records.values() if r["value"].get("reply")]
    assert [r["text"] for r in replies] == ["Correction : Rue fermée jusqu'au 19 mai."]
    draft.refresh_from_db()
    assert draft.state == MessageState.PUBLISHED
    edited = Delivery.objects.get(occurrence__message=draft, channel__kind="mastodon")
    assert edited.remote_id == toot_id
    assert edited.receipt["edited_in_place"] is True
    assert AuditEvent.objects.filter(verb="delivery.edited", object_id=str(edited.pk)).exists()
    assert AuditEvent.objects.filter(verb="message.correction_drafted", object_id=str(published.pk)).exists()


def test_only_the_changed_language_is_corrected(networks, published, approver):
    mastodon, bluesky = networks
    corrector = UserFactory(username="corrector", roles=["author"])
    records_before = len(bluesky.records)

    draft = correct(published, actor=corrector, nl="Straat dicht tot 26 mei.")
    services.message_submit(message=draft, actor=corrector)
    approve(draft, by=approver)

    assert publish_due() == {"sent": 1}
    assert len(bluesky.records) == records_before
    assert [s["content"] for s in mastodon.statuses.values()] == ["Straat dicht tot 26 mei."]


def test_a_correction_that_changes_nothing_cannot_be_submitted(published):
    corrector = UserFactory(username="corrector", roles=["author"])
    draft = followups.message_follow_up_draft(original=published, actor=corrector, kind=followups.FollowUp.CORRECT)

    with pytest.raises(ValidationError, match="changes nothing"):
        services.message_submit(message=draft, actor=corrector)


def test_update_replies_on_the_original_threads(networks, published, approver):
    mastodon, _bluesky = networks
    toot_id = Delivery.objects.get(channel__kind="mastodon").remote_id
    writer = UserFactory(username="writer", roles=["author"])

    draft = followups.message_follow_up_draft(original=published, actor=writer, kind=followups.FollowUp.ALL_CLEAR)
    assert draft.kind == MessageKind.CANCEL
    assert not draft.is_correction
    assert draft.title.startswith("All clear: ")
    draft = services.message_update(
        message=draft,
        actor=writer,
        variants={
            "fr": services.VariantInput("La rue est rouverte."),
            "nl": services.VariantInput("Straat terug open."),
        },
    )
    services.message_submit(message=draft, actor=writer)
    approve(draft, by=approver)

    assert publish_due() == {"sent": 2}
    replies = [s for s in mastodon.statuses.values() if s["in_reply_to_id"] == toot_id]
    assert [s["content"] for s in replies] == ["Straat terug open."]
    assert mastodon.statuses[toot_id]["edited_at"] is None


def test_retracting_a_correction_alone_keeps_the_original_post(networks, published, approver):
    mastodon, _bluesky = networks
    toot_id = Delivery.objects.get(channel__kind="mastodon").remote_id
    corrector = UserFactory(username="corrector", roles=["author"])
    draft = correct(published, actor=corrector, nl="Straat dicht tot 19 mei.")
    services.message_submit(message=draft, actor=corrector)
    approve(draft, by=approver)
    publish_due()

    with TestCase.captureOnCommitCallbacks(execute=True):
        retraction.message_retract(message=draft, actor=approver, reason="wrong correction")

    assert toot_id in mastodon.statuses
    edited = Delivery.objects.get(occurrence__message=draft)
    assert edited.state == DeliveryState.SENT
    assert "retract the original message" in edited.last_error


def test_follow_ups_need_a_published_original(author):
    draft = make_message(author=author)

    with pytest.raises(InvalidTransition):
        followups.message_follow_up_draft(original=draft, actor=author, kind=followups.FollowUp.UPDATE)
    with pytest.raises(ValidationError):
        followups.message_follow_up_draft(original=draft, actor=author, kind="delete")


def test_a_correction_is_not_followed_up_itself(networks, published, approver):
    corrector = UserFactory(username="corrector", roles=["author"])
    draft = correct(published, actor=corrector, nl="Straat dicht tot 19 mei.")
    services.message_submit(message=draft, actor=corrector)
    approve(draft, by=approver)
    publish_due()
    draft.refresh_from_db()

    assert not followups.message_can_follow_up(draft)
    with pytest.raises(InvalidTransition):
        followups.message_follow_up_draft(original=draft, actor=corrector, kind=followups.FollowUp.CORRECT)


def test_the_reply_announcing_a_correction_is_checked_as_it_will_be_sent(published):
    corrector = UserFactory(username="corrector", roles=["author"])
    # Fits Bluesky's 300 graphemes, but not once "Correction : " announces it.
    draft = correct(published, actor=corrector, fr="é" * 295)

    with pytest.raises(ValidationError, match="308/300"):
        services.message_submit(message=draft, actor=corrector)


def test_a_scheduled_message_with_nothing_out_yet_cannot_be_followed_up(networks, author, approver):
    message = make_message(author=author)
    services.message_submit(message=message, actor=author)
    message = approve(message, by=approver)  # scheduled: due now, not sent yet

    assert not followups.message_can_follow_up(message)
    with pytest.raises(InvalidTransition, match="nothing to follow up"):
        followups.message_follow_up_draft(original=message, actor=author, kind=followups.FollowUp.UPDATE)
