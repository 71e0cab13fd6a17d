"""Point 7 of issue #12: the demo fills its public feeds, and authors hear when their message is out."""

from datetime import timedelta
from xml.etree import ElementTree as ET

from django.core import mail
from django.test import TestCase
from django.utils import timezone

from accounts.models import User
from publisher.delivery import dispatch, publishing
from publisher.management import demo
from publisher.models import Delivery, DeliveryState, Message
from publisher.workflow import services
from publisher.workflow.checklist import checklist_all_ticked

ATOM = "{http://www.w3.org/2005/Atom}"


def _publish_demo_message() -> Message:
    author = User.objects.get(username="redacteur")
    approver = User.objects.get(username="approbateur")
    message = Message.objects.get(author=author)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.message_submit(message=message, actor=author)
        services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())
    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispatch.dispatch_once(now=timezone.now() + timedelta(minutes=5))
    message.refresh_from_db()
    return message


def test_the_demo_feeds_fill_when_a_message_is_published(db, client, settings):
    settings.TANDEM_DEMO = True
    demo.demo_load()
    demo.demo_load()  # idempotent: no second set of channels

    message = _publish_demo_message()

    assert message.state == "published"
    for language in ("fr", "nl"):
        root = ET.fromstring(client.get(f"/feeds/{language}.atom").content)
        assert len(root.findall(f"{ATOM}entry")) == 1, language
    root = ET.fromstring(client.get("/feeds/cap.xml").content)
    (entry,) = root.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}id").endswith(f"-tandem-{message.pk}")


def test_the_author_is_mailed_in_their_language_when_the_message_is_out(db, settings):
    settings.TANDEM_DEMO = True
    demo.demo_load()

    message = _publish_demo_message()

    (sent,) = mail.outbox
    assert sent.to == ["redacteur@demo.tandem.local"]
    assert sent.subject == f"Gepubliceerd: {message.title}"  # redacteur reads Dutch
    assert "op al zijn kanalen gepubliceerd" in sent.body


def test_the_author_is_mailed_when_a_delivery_fails_for_good(db, settings):
    settings.TANDEM_DEMO = True
    demo.demo_load()
    message = _publish_demo_message()
    delivery = Delivery.objects.filter(occurrence__message=message, language="nl").first()
    Delivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.FAILED, last_error="HTTP 422")
    mail.outbox.clear()

    with TestCase.captureOnCommitCallbacks(execute=True):
        publishing.deliveries_failure_notify(delivery_ids=[delivery.pk])

    author_mail = next(m for m in mail.outbox if m.to == ["redacteur@demo.tandem.local"])
    assert "niet gepubliceerd" in author_mail.subject
    assert "HTTP 422" in author_mail.body
