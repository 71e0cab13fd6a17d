"""The admin side of templates (only administrators keep them; authors start from them), the
duplicate button, and the retract confirmation page (GET shows, POST retracts)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from publisher.models import AuditEvent, Delivery, DeliveryState, Message, MessageState, MessageTemplate
from publisher.templatetags.tandem_admin import audit_details
from tests.factories import UserFactory, make_message
from tests.publisher.newsroom_support import message_with_deliveries

TEMPLATE_FIELDS = {
    "name_fr": "Alerte météo",
    "name_nl": "Weeralarm",
    "slug": "alerte-meteo",
    "title_fr": "",
    "title_nl": "",
    "text_fr": "Vents violents à {lieu}.",
    "text_nl": "Zware wind in {plaats}.",
    "active": "on",
    "position": "5",
}


@pytest.fixture
def channel_admin(roles):
    return UserFactory(username="beheerder", roles=["channel_admin"])


@pytest.fixture
def holding():
    return MessageTemplate.objects.get(slug="holding-statement")


# --- managing templates ------------------------------------------------------------------------


def test_only_administrators_manage_templates(client, author, approver, channel_admin):
    changelist = reverse("admin:publisher_messagetemplate_changelist")
    add = reverse("admin:publisher_messagetemplate_add")
    for user in (author, approver):
        client.force_login(user)
        assert client.get(changelist).status_code == 403
        assert client.post(add, TEMPLATE_FIELDS).status_code == 403
    assert not MessageTemplate.objects.filter(slug="alerte-meteo").exists()

    client.force_login(channel_admin)
    assert client.get(changelist).status_code == 200
    response = client.post(add, TEMPLATE_FIELDS)
    assert response.status_code == 302, response.context["adminform"].errors if response.context else response
    template = MessageTemplate.objects.get(slug="alerte-meteo")
    assert AuditEvent.objects.filter(verb="template.created", object_id=str(template.pk)).exists()
    delete = reverse("admin:publisher_messagetemplate_delete", args=[template.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not MessageTemplate.objects.filter(pk=template.pk).exists()
    assert AuditEvent.objects.filter(verb="template.deleted", object_id=str(template.pk)).exists()


def test_a_bad_template_is_shown_at_its_field_never_a_500(client, channel_admin):
    client.force_login(channel_admin)
    add = reverse("admin:publisher_messagetemplate_add")
    response = client.post(add, {**TEMPLATE_FIELDS, "text_nl": "Zware wind in {plaats.", "position": "-3"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "text_nl" in errors
    assert "position" in errors
    response = client.post(add, {**TEMPLATE_FIELDS, "text_fr": "À {lieu"})
    assert "text_fr" in response.context["adminform"].form.errors
    assert not MessageTemplate.objects.filter(slug="alerte-meteo").exists()


# --- starting a message from a template --------------------------------------------------------


def test_the_compose_page_offers_the_active_templates_in_the_readers_language(client, roles):
    redacteur = UserFactory(username="redacteur", roles=["author"], preferred_language="nl")
    MessageTemplate.objects.filter(slug="scam-warning").update(active=False)
    client.force_login(redacteur)
    page = client.get(reverse("admin:publisher_message_add"))
    names = [name for _pk, name in page.context["message_templates"]]
    assert names[0] == "Wachtbericht (we houden u hier op de hoogte)"
    assert "Waarschuwing voor oplichting" not in names
    assert len(names) == 4
    assert b'id="start-from-template"' in page.content
    # An existing message's page does not offer them.
    message = make_message(author=redacteur)
    page = client.get(reverse("admin:publisher_message_change", args=[message.pk]))
    assert "message_templates" not in page.context


def test_filling_a_template_opens_the_compose_page_with_the_texts(author_client, holding):
    chooser = reverse("admin:publisher_message_template_choose")
    start = reverse("admin:publisher_message_template_start", args=[holding.pk])
    assert author_client.get(chooser, {"template": holding.pk})["Location"] == start
    page = author_client.get(start)
    assert page.context["form"].placeholders == {"fr": ["lieu", "faits"], "nl": ["plaats", "feiten"]}
    # The author reads labels, not the template's codes.
    assert "Nous sommes au courant de la situation à [Lieu] : [Faits]." in page.content.decode()

    response = author_client.post(
        start, {"fr__0": "Ixelles", "fr__1": "un incendie", "nl__0": "Elsene", "nl__1": "een brand"}
    )
    assert response.status_code == 302
    compose = author_client.get(response["Location"])
    form = compose.context["form"]
    assert form.initial["text_fr"].startswith("Nous sommes au courant de la situation à Ixelles : un incendie.")
    assert form.initial["text_nl"].startswith("We zijn op de hoogte van de situatie in Elsene: een brand.")
    assert form.initial["title"] == "Incident à Ixelles"  # the author reads French
    assert not Message.objects.exists()  # nothing saved until the author saves
    # Taken once: a reload starts empty.
    again = author_client.get(response["Location"])
    assert not again.context["form"].initial.get("text_fr")


def test_an_unfilled_placeholder_is_refused_on_the_form_in_the_readers_language(client, roles, holding):
    redacteur = UserFactory(username="redacteur", roles=["author"], preferred_language="nl")
    client.force_login(redacteur)
    start = reverse("admin:publisher_message_template_start", args=[holding.pk])
    response = client.post(start, {"fr__0": "Ixelles", "fr__1": "un vol", "nl__0": "Elsene", "nl__1": " "})
    assert response.status_code == 200
    assert response.context["form"].errors == {"nl__1": ["Vul „Feiten” in."]}
    assert "Vul „Feiten” in." in response.content.decode()


@pytest.mark.parametrize("template_id", ["999999", "abc", "-1", "1%00"])
def test_an_unknown_template_is_a_404(author_client, template_id):
    assert author_client.get(f"/admin/publisher/message/template/{template_id}/").status_code == 404
    chooser = reverse("admin:publisher_message_template_choose")
    assert author_client.get(chooser, {"template": template_id}).status_code == 404
    assert author_client.get(chooser).status_code == 404


def test_an_inactive_template_cannot_be_started(author_client, holding):
    MessageTemplate.objects.filter(pk=holding.pk).update(active=False)
    start = reverse("admin:publisher_message_template_start", args=[holding.pk])
    assert author_client.get(start).status_code == 404


def test_who_cannot_write_cannot_start_from_a_template(approver_client, holding):
    start = reverse("admin:publisher_message_template_start", args=[holding.pk])
    assert approver_client.get(start).status_code == 403
    assert approver_client.post(start, {"fr__0": "x", "fr__1": "y"}).status_code == 403


def test_overlong_values_are_refused_not_a_500(author_client, holding):
    start = reverse("admin:publisher_message_template_start", args=[holding.pk])
    response = author_client.post(start, {"fr__0": "x" * 5000, "fr__1": "y", "nl__0": "z", "nl__1": "\x00"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"fr__0", "nl__1"}
    # Still named in the reader's language (the errors are per text language).
    assert response.context["template_name"] == "Communiqué d'attente (nous vous informerons ici)"


# --- duplicate ---------------------------------------------------------------------------------


def test_duplicate_button_on_every_message_page_makes_a_draft(author_client, author, approver, channels):
    published = make_message(author=approver)
    Message.objects.filter(pk=published.pk).update(state=MessageState.PUBLISHED)
    page = author_client.get(reverse("admin:publisher_message_change", args=[published.pk]))
    assert page.context["can_duplicate"] is True
    url = reverse("admin:publisher_message_duplicate", args=[published.pk])
    assert b'id="duplicate-form"' in page.content
    assert author_client.get(url).status_code == 405
    response = author_client.post(url)
    copy = Message.objects.exclude(pk=published.pk).get()
    assert response["Location"] == reverse("admin:publisher_message_change", args=[copy.pk])
    assert (copy.author, copy.state) == (author, MessageState.DRAFT)
    page = author_client.get(response["Location"])
    assert ("copied from message", f"#{published.pk}") in [
        line for event in page.context["audit_events"] for line in audit_details(event)
    ]


def test_an_approver_without_the_write_permission_gets_no_duplicate(approver_client, author, channels):
    message = make_message(author=author)
    page = approver_client.get(reverse("admin:publisher_message_change", args=[message.pk]))
    assert page.context["can_duplicate"] is False
    response = approver_client.post(reverse("admin:publisher_message_duplicate", args=[message.pk]))
    assert response.status_code == 403
    assert Message.objects.count() == 1


@pytest.mark.parametrize("object_id", ["999999", "abc"])
def test_duplicate_of_an_unknown_message_is_a_404(author_client, object_id):
    assert author_client.post(f"/admin/publisher/message/{object_id}/duplicate/").status_code == 404


# --- retract confirmation ----------------------------------------------------------------------


@pytest.fixture
def live(author, channels, django_capture_on_commit_callbacks):
    message, deliveries = message_with_deliveries(
        author=author,
        title="Tunnel fermé",
        due_at=timezone.now(),
        routes=[(channels["bxl_fr"], "sent"), (channels["bxl_nl"], "sent"), (channels["fed_nl"], "pending")],
        state=MessageState.PUBLISHED,
    )
    return message


def test_the_message_page_links_to_the_confirmation_instead_of_retracting(approver_client, live):
    page = approver_client.get(reverse("admin:publisher_message_change", args=[live.pk]))
    url = reverse("admin:publisher_message_retract", args=[live.pk])
    content = page.content.decode()
    assert f'href="{url}"' in content
    assert f'action="{url}"' not in content


def test_the_confirmation_lists_the_posts_and_a_get_changes_nothing(approver_client, live, channels):
    url = reverse("admin:publisher_message_retract", args=[live.pk])
    page = approver_client.get(url)
    assert page.status_code == 200
    plan = page.context["plan"]
    assert {d.channel.name for d in plan.to_delete} == {"Police Bruxelles", "PolitieBrussel"}
    assert [d.channel.name for d in plan.to_stop] == ["Federale politie"]
    content = page.content.decode()
    assert content.count('class="retract-post"') == 2
    assert "https://social.example/" in content
    live.refresh_from_db()
    assert live.state == MessageState.PUBLISHED
    assert not AuditEvent.objects.filter(verb="message.retracted").exists()


def test_confirming_retracts_and_asks_the_networks_after_commit(
    approver_client, live, django_capture_on_commit_callbacks, monkeypatch
):
    from publisher.workflow import retraction

    asked = []
    monkeypatch.setattr(retraction.enqueue, "enqueue_retract", lambda ids: asked.append(sorted(ids)))
    url = reverse("admin:publisher_message_retract", args=[live.pk])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = approver_client.post(url, {"retract-reason": "Erreur de date"})
        assert asked == []  # not before the commit
    for callback in callbacks:
        callback()
    assert response.status_code == 302
    live.refresh_from_db()
    assert live.state == MessageState.RETRACTED
    sent = sorted(
        Delivery.objects.filter(occurrence__message=live, state=DeliveryState.SENT).values_list("pk", flat=True)
    )
    assert asked == [sent]
    assert Delivery.objects.filter(occurrence__message=live, state=DeliveryState.CANCELLED).count() == 1


def test_a_missing_reason_shows_the_page_again_with_the_error(approver_client, live):
    url = reverse("admin:publisher_message_retract", args=[live.pk])
    response = approver_client.post(url, {"retract-reason": "   "})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    live.refresh_from_db()
    assert live.state == MessageState.PUBLISHED


def test_only_approvers_see_or_use_the_confirmation(author_client, live):
    url = reverse("admin:publisher_message_retract", args=[live.pk])
    assert author_client.get(url).status_code == 403
    assert author_client.post(url, {"retract-reason": "x"}).status_code == 403


def test_a_message_that_cannot_be_retracted_goes_back_to_its_page(approver_client, author, channels):
    draft = make_message(author=author)
    response = approver_client.get(reverse("admin:publisher_message_retract", args=[draft.pk]))
    assert response["Location"] == reverse("admin:publisher_message_change", args=[draft.pk])


@pytest.mark.parametrize("object_id", ["999999", "abc"])
def test_retract_of_an_unknown_message_is_a_404(approver_client, object_id):
    assert approver_client.get(f"/admin/publisher/message/{object_id}/retract/").status_code == 404


def test_a_retracted_posts_link_is_gone_from_the_message_page(approver_client, author, channels):
    message, _ = message_with_deliveries(
        author=author,
        due_at=timezone.now(),
        routes=[(channels["bxl_fr"], "retracted")],
        state=MessageState.RETRACTED,
    )
    Delivery.objects.filter(occurrence__message=message).update(remote_url="file:///var/outbox/gone.json")
    page = approver_client.get(reverse("admin:publisher_message_change", args=[message.pk]))
    assert "file:///var/outbox/gone.json" not in page.content.decode()
