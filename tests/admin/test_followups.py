"""The message page's Correct, Update and All clear buttons."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from publisher.models import AuditEvent, Delivery, DeliveryState, Message, MessageKind, MessageState
from publisher.workflow import services
from publisher.workflow.checklist import checklist_all_ticked
from tests.factories import UserFactory, make_message


def page(message):
    return reverse("admin:publisher_message_change", args=[message.pk])


def follow_up_url(message, kind):
    return reverse("admin:publisher_message_follow_up", args=[message.pk, kind])


@pytest.fixture
def published(author, approver, channels):
    message = make_message(author=author, variants={"fr": "Rue fermée le 12.", "nl": "Straat dicht op 12."})
    services.message_submit(message=message, actor=author)
    services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
    Delivery.objects.filter(occurrence__message=message).update(state=DeliveryState.SENT, remote_id="post-1")
    Message.objects.filter(pk=message.pk).update(state=MessageState.PUBLISHED)
    message.refresh_from_db()
    return message


def test_published_message_offers_correct_update_and_all_clear(author_client, published):
    response = author_client.get(page(published))

    assert [kind for kind, _label in response.context["follow_up_kinds"]] == ["correct", "update", "all_clear"]
    body = response.content.decode()
    for kind in ("correct", "update", "all_clear"):
        assert f'action="{follow_up_url(published, kind)}"' in body


@pytest.mark.parametrize(
    ("language", "labels"),
    [("fr", ["Corriger", "Mise à jour", "Fin d’alerte"]), ("nl", ["Corrigeren", "Update", "Einde alarm"])],
)
def test_the_buttons_speak_the_users_language(client, roles, published, language, labels):
    user = UserFactory(username=f"redacteur-{language}", roles=["author"], preferred_language=language)
    client.force_login(user)

    body = client.get(page(published)).content.decode()

    for label in labels:
        assert f">{label}</button>" in body


def test_correct_drafts_a_prefilled_correction_and_opens_it(author_client, author, published):
    response = author_client.post(follow_up_url(published, "correct"))

    draft = Message.objects.get(follows=published)
    assert response.status_code == 302
    assert response.url == page(draft)
    assert (draft.is_correction, draft.kind, draft.state) == (True, MessageKind.UPDATE, MessageState.DRAFT)
    assert {v.language: v.text for v in draft.variants.all()} == {
        "fr": "Rue fermée le 12.",
        "nl": "Straat dicht op 12.",
    }
    assert draft.author == author
    assert AuditEvent.objects.filter(verb="message.correction_drafted", object_id=str(published.pk)).exists()
    draft_page = author_client.get(response.url)
    assert draft_page.context["follows"] == published
    assert 'id="follows"' in draft_page.content.decode()
    # The original lists its follow-ups.
    assert author_client.get(page(published)).context["follow_ups"] == [draft]


def test_all_clear_drafts_a_cancel_follow_up(author_client, published):
    author_client.post(follow_up_url(published, "all_clear"))

    draft = Message.objects.get(follows=published)
    assert (draft.is_correction, draft.kind) == (False, MessageKind.CANCEL)


def test_a_draft_cannot_be_followed_up(author_client, author, channels):
    draft = make_message(author=author)

    response = author_client.post(follow_up_url(draft, "update"), follow=True)

    assert not Message.objects.filter(follows=draft).exists()
    # In the author's language (French by default in the factory).
    assert "Seul un message publié peut être corrigé ou suivi" in response.content.decode()
    assert response.context["follow_up_kinds"] == []


def test_follow_up_refuses_get_and_users_who_cannot_compose(client, roles, author_client, published):
    assert author_client.get(follow_up_url(published, "correct")).status_code == 405
    reader = UserFactory(username="reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_message"))
    client.force_login(reader)
    assert client.post(follow_up_url(published, "correct")).status_code == 403
    assert not Message.objects.filter(follows=published).exists()


def test_unknown_follow_up_kind_is_a_clear_error(author_client, published):
    response = author_client.post(follow_up_url(published, "delete"), follow=True)

    assert "Choisissez Corriger, Mise à jour ou Fin d’alerte." in response.content.decode()
    assert not Message.objects.filter(follows=published).exists()
