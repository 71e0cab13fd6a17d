"""Every mail goes out whatever the title holds: subjects are one line."""

import pytest
from django.core import mail

from publisher.delivery import publishing
from publisher.mail import subject_line
from publisher.models import Delivery, DeliveryState, Message
from publisher.workflow import notifications
from tests.factories import UserFactory, make_message
from tests.publisher.dispatch_support import due_deliveries

pytestmark = pytest.mark.django_db

# Titles stored before titles were checked at input (PostgreSQL stores no NUL, so BEL stands for the other controls).
BROKEN_TITLES = ["Fermeture\rrue Neuve", "Fermeture\nrue Neuve", "Fermeture\r\n\true\x07 Neuve\u2028"]


def test_subject_line_collapses_control_characters_and_whitespace():
    assert subject_line("  Fermeture\r\n rue\x0b\x1f Neuve\u2028 ") == "Fermeture rue Neuve"
    assert subject_line("Rue d’Ixelles — 2 × 3") == "Rue d’Ixelles — 2 × 3"


@pytest.mark.parametrize("title", BROKEN_TITLES)
@pytest.mark.parametrize("event", ["submitted", "approved", "rejected", "expired"])
def test_workflow_mail_goes_out_when_the_title_holds_a_line_break(author, approver, event, title):
    message = make_message(author=author)
    Message.objects.filter(pk=message.pk).update(title=title)
    assert notifications.message_notify(message_id=message.pk, event=event, comment="Non.") == 1
    [sent] = mail.outbox
    assert sent.subject.endswith(": Fermeture rue Neuve")
    assert not {"\r", "\n"} & set(sent.subject)


@pytest.mark.parametrize("title", BROKEN_TITLES)
def test_failure_mail_goes_out_when_the_title_holds_a_line_break(roles, title):
    author = UserFactory(username="author", email="author@example.org")
    ids = due_deliveries(author=author, count=1)
    Delivery.objects.filter(pk__in=ids).update(state=DeliveryState.FAILED, last_error="422 Refused")
    Message.objects.filter(occurrences__deliveries__pk__in=ids).update(title=title)
    publishing.deliveries_failure_notify(delivery_ids=ids)
    [sent] = mail.outbox
    assert "Fermeture rue Neuve" in sent.subject
