"""The language guard on the message page: the author confirms an exception with a reason, the
approver sees it in the problem list."""

import pytest
from django.urls import reverse

from publisher.models import AuditEvent, LanguageConfirmation, MessageState
from publisher.workflow import services
from tests.factories import make_message
from tests.publisher.language.corpus import FR, NL

pytestmark = pytest.mark.django_db


def page(client, message):
    return client.get(reverse("admin:publisher_message_change", args=[message.pk]))


def confirm(client, message, **data):
    return client.post(reverse("admin:publisher_message_language_confirm", args=[message.pk]), data)


def test_the_author_sees_the_error_and_confirms_it(author_client, author, channels):
    message = make_message(author=author, variants={"fr": FR[7], "nl": FR[7]})
    response = page(author_client, message)
    assert response.context["problems"] == ["Le texte en néerlandais semble être en français (certitude 0,99)."]
    assert b'id="language-confirm-form"' in response.content
    assert [f.field for f in response.context["language_confirmable"]] == ["variants.nl"]
    assert b'id="submit-for-approval" disabled' in response.content

    response = confirm(author_client, message, field="variants.nl", reason="Texte de la campagne commune")
    assert response.status_code == 302
    assert LanguageConfirmation.objects.get().confirmed_by == author
    assert AuditEvent.objects.filter(verb="message.language_confirmed").count() == 1

    response = page(author_client, message)
    assert response.context["problems"] == []
    assert b'id="language-confirm-form"' not in response.content
    assert "Texte de la campagne commune" in response.content.decode()


def test_a_confirmation_without_reason_is_refused_on_the_page(author_client, author, channels):
    message = make_message(author=author, variants={"fr": NL[7], "nl": NL[7]})
    response = confirm(author_client, message, field="variants.fr", reason=" ")
    assert response.status_code == 302
    assert not LanguageConfirmation.objects.exists()
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Dites pourquoi ce texte est volontairement dans une autre langue."]


def test_the_approver_sees_the_confirmed_exception(client, author, approver, channels):
    message = make_message(author=author, variants={"fr": FR[9], "nl": FR[9]})
    client.force_login(author)
    confirm(client, message, field="variants.nl", reason="Citation du bourgmestre")
    services.message_submit(message=message, actor=author)
    assert message.__class__.objects.get(pk=message.pk).state == MessageState.SUBMITTED

    client.force_login(approver)
    response = page(client, message)
    (item,) = response.context["language_confirmed"]
    assert item.field == "variants.nl"
    html = response.content.decode()
    assert 'id="language-confirmed"' in html
    assert "Citation du bourgmestre" in html
    assert b'id="language-confirm-form"' not in response.content


def test_only_post_and_only_editors(client, author, approver, channels):
    message = make_message(author=author, variants={"fr": NL[7], "nl": NL[7]})
    client.force_login(author)
    assert client.get(reverse("admin:publisher_message_language_confirm", args=[message.pk])).status_code == 405
    client.force_login(approver)
    response = confirm(client, message, field="variants.fr", reason="x")
    assert response.status_code == 403
    assert not LanguageConfirmation.objects.exists()


def test_approval_on_the_page_says_which_text_is_in_the_wrong_language(client, author, approver, channels):
    from tests.admin.test_workflow import all_ticks, approve_url

    message = make_message(author=author, variants={"fr": FR[9], "nl": FR[9]})
    client.force_login(author)
    confirm(client, message, field="variants.nl", reason="Citation")
    services.message_submit(message=message, actor=author)
    LanguageConfirmation.objects.all().delete()  # e.g. removed by an administrator since

    client.force_login(approver)
    response = client.post(approve_url(message), all_ticks())
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages[-1] == "Le texte en néerlandais semble être en français (certitude 0,99)."
    message.refresh_from_db()
    assert message.state == MessageState.SUBMITTED
