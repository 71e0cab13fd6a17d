"""The team inbox page: who sees it, the two languages, newest first, and its buttons."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from publisher.models import AuditEvent, InboxItem, InboxState, Message
from tests.factories import ChannelFactory, UserFactory
from tests.publisher.inbox_support import make_item, sent_delivery

INBOX = "/admin/publisher/inboxitem/"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english(author, approver):
    get_user_model().objects.filter(pk__in=[author.pk, approver.pk]).update(preferred_language="en")


@pytest.fixture
def items(channels):
    fr, nl = channels["bxl_fr"], channels["bxl_nl"]
    return {
        "fr_old": make_item(channel=fr, text="Une question sur la fermeture du tunnel", posted_at=T0),
        "fr_new": make_item(channel=fr, text="Merci pour l'information rapide", posted_at=T0 + timedelta(hours=2)),
        "nl_new": make_item(
            channel=nl, language="nl", text="Wanneer gaat de tunnel weer open?", posted_at=T0 + timedelta(hours=1)
        ),
        "hidden": make_item(channel=fr, text="spam spam spam", posted_at=T0, state=InboxState.HIDDEN),
    }


def test_french_and_dutch_side_by_side_newest_first(author_client, items, django_assert_num_queries):
    with django_assert_num_queries(12):
        response = author_client.get(INBOX)

    assert response.status_code == 200
    columns = response.context["columns"]
    assert [c["language"] for c in columns] == ["fr", "nl"]
    assert [i.pk for i in columns[0]["items"]] == [items["fr_new"].pk, items["fr_old"].pk]  # hidden left out
    assert [i.pk for i in columns[1]["items"]] == [items["nl_new"].pk]
    assert b"Wanneer gaat de tunnel weer open?" in response.content


def test_the_query_count_does_not_grow_with_the_items(author_client, items, channels, django_assert_num_queries):
    for n in range(20):
        make_item(channel=channels["bxl_nl"], language="nl", text=f"Bericht {n}", posted_at=T0 + timedelta(minutes=n))
    with django_assert_num_queries(12):
        author_client.get(INBOX)


def test_filtered_by_language_and_state(author_client, items):
    response = author_client.get(INBOX, {"language": "nl"})
    assert [c["language"] for c in response.context["columns"]] == ["nl"]

    response = author_client.get(INBOX, {"state": "hidden"})
    assert [i.pk for i in response.context["columns"][0]["items"]] == [items["hidden"].pk]


def test_the_page_in_french_and_dutch(client, author, items):
    client.force_login(author)
    for language, expected in (("fr", "Boîte de réception"), ("nl", "Inbox")):
        type(author).objects.filter(pk=author.pk).update(preferred_language=language)
        response = client.get(INBOX)
        assert expected in response.content.decode()


def test_only_users_with_the_inbox_permission_see_it(client, roles, items):
    outsider = UserFactory(username="channels-only", roles=["channel_admin"])
    client.force_login(outsider)

    assert client.get(INBOX).status_code == 403
    item = items["fr_new"]
    answer = client.post(reverse("admin:publisher_inboxitem_state", args=[item.pk]), {"state": "read"})
    assert answer.status_code == 403
    assert client.post(reverse("admin:publisher_inboxitem_export")).status_code == 403
    assert "inboxitem" not in client.get("/admin/").content.decode()
    item.refresh_from_db()
    assert item.state == InboxState.NEW


def test_state_change_is_audited(author_client, author, items):
    item = items["fr_new"]

    author_client.post(reverse("admin:publisher_inboxitem_state", args=[item.pk]), {"state": "needs_answer"})

    item.refresh_from_db()
    assert item.state == InboxState.NEEDS_ANSWER
    event = AuditEvent.objects.get(verb="inbox.state_changed")
    assert event.actor == author
    assert event.summary == {"from": "new", "to": "needs_answer"}
    assert "Merci" not in str(event.summary)


def test_export_is_audited_and_keeps_replies_as_text(author_client, author, channels):
    make_item(channel=channels["bxl_fr"], text='=HYPERLINK("http://evil")')

    response = author_client.post(reverse("admin:publisher_inboxitem_export"), {"language": "fr"})

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "id"
    assert rows[1][8] == '\'=HYPERLINK("http://evil")'
    event = AuditEvent.objects.get(verb="inbox.exported")
    assert event.actor == author
    assert event.summary["items"] == 1
    assert event.summary["language"] == "fr"


def test_rumour_becomes_a_draft_in_both_languages(author_client, author, items):
    item = items["nl_new"]

    response = author_client.post(reverse("admin:publisher_inboxitem_draft", args=[item.pk]))

    message = Message.objects.get()
    assert response.url == reverse("admin:publisher_message_change", args=[message.pk])
    assert message.state == "draft"
    assert message.author == author
    texts = {v.language: v.text for v in message.variants.all()}
    assert texts["fr"].startswith("Nous sommes au courant")
    assert texts["nl"].startswith("We zijn op de hoogte")
    assert "tunnel" not in " ".join(texts.values())
    assert AuditEvent.objects.filter(verb="inbox.answer_drafted", object_id=str(item.pk)).exists()


def test_tip_forwarded_by_mail_with_link_and_time_never_published(
    author_client, author, settings, django_capture_on_commit_callbacks, tmp_path
):
    settings.TANDEM_INVESTIGATOR_EMAILS = ["enquete@police.example"]
    channel = ChannelFactory(kind="outbox", config={"path": str(tmp_path)}, language="fr", covers_all=True)
    delivery = sent_delivery(channel=channel, author=author, remote_id="outbox-1", appeal=True)
    item = make_item(
        channel=channel,
        text="Je l'ai vu monter dans une Golf grise",
        delivery=delivery,
        possible_tip=True,
        url="https://example.social/@temoin/42",
    )
    page = author_client.get(INBOX).content.decode()
    assert "Possible tip" in page
    assert f'action="{reverse("admin:publisher_inboxitem_reply", args=[item.pk])}"' not in page

    with django_capture_on_commit_callbacks(execute=True):
        author_client.post(reverse("admin:publisher_inboxitem_forward", args=[item.pk]))
    answer = author_client.post(reverse("admin:publisher_inboxitem_reply", args=[item.pk]), {"text": "Merci !"})

    (sent,) = mail.outbox
    assert sent.to == ["enquete@police.example"]
    assert "https://example.social/@temoin/42" in sent.body
    assert "2026-11-30 10:00" in sent.body  # Brussels time
    assert "Golf grise" in sent.body
    assert "Appel à témoins" in sent.subject
    item.refresh_from_db()
    assert item.state == InboxState.ESCALATED
    assert item.tip_forwarded_at is not None
    assert answer.status_code == 302
    assert not item.replies.exists()
    assert list(tmp_path.iterdir()) == []  # nothing went to the channel
    event = AuditEvent.objects.get(verb="inbox.tip_forwarded")
    assert "Golf" not in str(event.summary)
    assert "temoin" not in str(event.summary)


def test_forwarding_needs_an_investigator_address(author_client, items, settings):
    settings.TANDEM_INVESTIGATOR_EMAILS = []

    author_client.post(reverse("admin:publisher_inboxitem_forward", args=[items["fr_new"].pk]))

    assert mail.outbox == []
    assert not AuditEvent.objects.filter(verb="inbox.tip_forwarded").exists()


def test_marking_a_witness_appeal_flags_its_replies(author_client, author, channels):
    delivery = sent_delivery(channel=channels["bxl_fr"], author=author, remote_id="x-1")
    item = make_item(channel=channels["bxl_fr"], delivery=delivery)
    message = delivery.occurrence.message

    author_client.post(reverse("admin:publisher_message_witness_appeal", args=[message.pk]), {"appeal": "1"})

    message.refresh_from_db()
    item.refresh_from_db()
    assert message.witness_appeal
    assert item.possible_tip
    assert AuditEvent.objects.filter(verb="message.witness_appeal_set", object_id=str(message.pk)).exists()


def test_answer_needs_approval_and_the_writer_cannot_give_it(author_client, approver_client, client, author, items):
    item = items["fr_new"]
    author_client.post(reverse("admin:publisher_inboxitem_reply", args=[item.pk]), {"text": "Avec plaisir."})
    reply = item.replies.get()
    assert reply.state == "awaiting_approval"
    page = author_client.get(INBOX).content.decode()
    assert reverse("admin:publisher_inboxitem_approve", args=[reply.pk]) not in page  # not for the writer
    assert InboxItem.objects.filter(pk=item.pk, state=InboxState.NEW).exists()


def test_a_reply_in_another_language_shows_with_its_channel(author_client, channels, roles):
    english = make_item(channel=channels["bxl_nl"], language="en", text="Is the tunnel open tomorrow?")

    columns = author_client.get(INBOX).context["columns"]

    assert [c["language"] for c in columns] == ["fr", "nl"]
    assert [i.pk for i in columns[1]["items"]] == [english.pk]
    assert [i.pk for i in author_client.get(INBOX, {"language": "nl"}).context["columns"][0]["items"]] == [english.pk]
    ChannelFactory(name="Polizei Eupen", language="de")
    assert [c["language"] for c in author_client.get(INBOX).context["columns"]] == ["fr", "nl", "de"]


def test_a_channel_whose_replies_could_not_be_read_is_named(author_client, channels):
    from publisher.models import InboxCursor

    InboxCursor.objects.create(
        channel=channels["bxl_nl"], last_error="HTTP 429: Rate Limit Exceeded", next_fetch_at=T0, failures=2
    )
    InboxCursor.objects.create(channel=channels["bxl_fr"])

    page = author_client.get(INBOX).content.decode()

    assert "PolitieBrussel: replies could not be read" in page
    assert "HTTP 429: Rate Limit Exceeded" in page
    assert "Police Bruxelles: replies" not in page
