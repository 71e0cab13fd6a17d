"""Reading replies into the inbox and sending answers, against the fake networks."""

from datetime import timedelta

import pytest
from django.utils import timezone

from publisher.delivery import inbox
from publisher.models import AuditEvent, InboxCursor, InboxItem, InboxReply, InboxReplyState, InboxState
from publisher.workflow.inbox import inbox_reply_approve, inbox_reply_compose
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks
from tests.publisher.inbox_support import *  # noqa: F403 - channels wired to the fakes
from tests.publisher.inbox_support import sent_delivery

pytestmark = pytest.mark.django_db


def test_fetch_stores_replies_with_language_link_and_the_delivery_they_answer(fake_mastodon, mastodon_channel, author):
    delivery = sent_delivery(channel=mastodon_channel, author=author, remote_id="109000000000000001", appeal=True)
    fake_mastodon.statuses["109000000000000001"] = {"id": "109000000000000001"}
    inbox.channel_inbox_fetch(channel=mastodon_channel)  # the first fetch only sets the cursor
    fake_mastodon.add_notification(
        "mention",
        acct="temoin@example.social",
        text="J'ai vu une voiture rouge partir à toute vitesse vers la gare du Midi",
        in_reply_to="109000000000000001",
    )
    fake_mastodon.add_notification(
        "mention", acct="buur@example.social", text="Ik heb niets gezien, maar bedankt voor de info"
    )
    fake_mastodon.add_notification("mention", acct="x@example.social", text="ok")

    result = inbox.channel_inbox_fetch(channel=mastodon_channel)

    assert result.stored == 3
    assert result.finished
    assert not result.error
    witness, neighbour, short = InboxItem.objects.order_by("posted_at")
    assert (witness.language, witness.language_detected) == ("fr", True)
    assert (neighbour.language, neighbour.language_detected) == ("nl", True)
    assert (short.language, short.language_detected) == ("fr", False)  # too short: the channel's
    assert witness.delivery == delivery
    assert witness.kind == "reply"
    assert witness.possible_tip
    assert not neighbour.possible_tip
    assert witness.author_handle == "@temoin@example.social"
    assert witness.url.startswith("https://example.social/@temoin/")
    assert witness.state == InboxState.NEW
    again = inbox.channel_inbox_fetch(channel=mastodon_channel)
    assert again.stored == 0
    assert InboxItem.objects.count() == 3


def test_a_fetch_interrupted_half_way_resumes_without_duplicates_or_gaps(fake_mastodon, mastodon_channel, monkeypatch):
    inbox.channel_inbox_fetch(channel=mastodon_channel)  # nothing yet: everything after is new
    texts = [f"Bericht nummer {n} over de wegenwerken" for n in range(200)]
    for text in texts:
        fake_mastodon.add_notification("mention", text=text)
    store = inbox._items_store
    calls = []

    def crash_on_second_page(channel, items):
        calls.append(len(items))
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return store(channel, items)

    monkeypatch.setattr(inbox, "_items_store", crash_on_second_page)
    with pytest.raises(RuntimeError):
        inbox.channel_inbox_fetch(channel=mastodon_channel)
    assert InboxItem.objects.count() == 80  # the first page and its cursor were committed together
    monkeypatch.setattr(inbox, "_items_store", store)
    fake_mastodon.fail_next(503, {"error": "down"}, path="notifications")

    outage = inbox.channel_inbox_fetch(channel=mastodon_channel)
    assert outage.error
    assert InboxItem.objects.count() == 80
    resumed = inbox.channel_inbox_fetch(channel=mastodon_channel)

    assert resumed.finished
    assert resumed.seen_again == 0
    stored = [t.split(" ", 1)[1] for t in InboxItem.objects.order_by("posted_at", "id").values_list("text", flat=True)]
    assert stored == texts
    pages = fake_mastodon.requests_to(r"/api/v1/notifications$")
    # the first fetch (empty, then min_id=0: still empty), page 1, page 2 (lost in the crash),
    # the outage, then pages 2, 3 and the empty page: page 1 was never read again
    assert len(pages) == 8
    starts = [(r.query.get("min_id") or ["-"])[0] for r in pages]
    assert starts == ["-", "0", "0", "1080", "1080", "1080", "1160", "1200"]


def test_rate_limited_fetch_waits_as_long_as_the_network_asks(fake_bluesky, bluesky_channel):
    inbox.channel_inbox_fetch(channel=bluesky_channel)
    fake_bluesky.rate_limit_next(seconds=600)
    now = timezone.now()

    result = inbox.channel_inbox_fetch(channel=bluesky_channel, now=now)

    assert "429" in result.error
    cursor = InboxCursor.objects.get(channel=bluesky_channel)
    assert cursor.next_fetch_at is not None
    assert cursor.next_fetch_at >= now + timedelta(seconds=600)
    assert cursor.failures == 1
    assert bluesky_channel not in inbox.channels_due(now=now + timedelta(seconds=300))
    assert bluesky_channel in inbox.channels_due(now=now + timedelta(seconds=3600))


def test_channels_without_an_inbox_are_not_fetched(mastodon_channel):
    from tests.factories import ChannelFactory

    outbox = ChannelFactory(kind="outbox", config={"path": "/tmp/x"})  # noqa: S108 - never written

    due = inbox.channels_due(now=timezone.now())

    assert mastodon_channel in due
    assert outbox not in due


def _item_on(channel, fake_mastodon, author, **fields):
    ours = sent_delivery(channel=channel, author=author, remote_id="109000000000000001")
    fake_mastodon.statuses["109000000000000001"] = {"id": "109000000000000001"}
    inbox.channel_inbox_fetch(channel=channel)
    fake_mastodon.add_notification(
        "mention",
        acct="alice@example.social",
        text="Quand la rue sera-t-elle rouverte ?",
        in_reply_to="109000000000000001",
    )
    inbox.channel_inbox_fetch(channel=channel)
    item = InboxItem.objects.get()
    assert item.delivery == ours
    return item


def test_routine_answer_goes_out_at_once_on_the_same_thread(
    fake_mastodon, mastodon_channel, author, django_capture_on_commit_callbacks
):
    mastodon_channel.config = {**mastodon_channel.config, "reply_approvals": 0}
    mastodon_channel.save()
    item = _item_on(mastodon_channel, fake_mastodon, author)

    with django_capture_on_commit_callbacks(execute=True):
        reply = inbox_reply_compose(item=item, text="@alice@example.social Dès lundi matin.", actor=author)

    reply.refresh_from_db()
    item.refresh_from_db()
    assert reply.state == InboxReplyState.SENT
    status = fake_mastodon.statuses[reply.remote_id]
    assert status["in_reply_to_id"] == item.remote_id
    assert status["language"] == "fr"
    assert fake_mastodon.requests_to(r"/api/v1/statuses$")[-1].headers["idempotency-key"] == (
        f"tandem-inbox-reply-{reply.pk}"
    )
    assert item.state == InboxState.ANSWERED
    assert AuditEvent.objects.filter(verb="inbox.reply_sent", object_id=str(reply.pk)).exists()


def test_answer_waits_for_a_second_person_by_default(
    fake_mastodon, mastodon_channel, author, approver, django_capture_on_commit_callbacks
):
    from publisher.errors import NotAllowed

    item = _item_on(mastodon_channel, fake_mastodon, author)
    posted = len(fake_mastodon.statuses)

    with django_capture_on_commit_callbacks(execute=True):
        reply = inbox_reply_compose(item=item, text="Dès lundi.", actor=author)
    assert reply.state == InboxReplyState.AWAITING_APPROVAL
    assert len(fake_mastodon.statuses) == posted
    author.user_permissions.add(*approver.groups.get().permissions.filter(codename="approve_message"))
    author = type(author).objects.get(pk=author.pk)
    with pytest.raises(NotAllowed):
        inbox_reply_approve(reply=reply, actor=author)
    with django_capture_on_commit_callbacks(execute=True):
        inbox_reply_approve(reply=reply, actor=approver)

    reply.refresh_from_db()
    assert reply.state == InboxReplyState.SENT
    assert reply.approved_by == approver


def test_answer_on_bluesky_replies_on_the_thread(
    fake_bluesky, bluesky_channel, author, django_capture_on_commit_callbacks
):
    bluesky_channel.config = {**bluesky_channel.config, "reply_approvals": "0"}
    bluesky_channel.save()
    adapter_receipt = inbox.get_adapter(bluesky_channel).publish(
        inbox.Post(text="Getuigenoproep", language="nl"), "k-appeal"
    )
    sent_delivery(channel=bluesky_channel, author=author, remote_id=adapter_receipt.remote_id)
    inbox.channel_inbox_fetch(channel=bluesky_channel)
    parent = {"uri": adapter_receipt.extra["uri"], "cid": adapter_receipt.extra["cid"]}
    fake_bluesky.add_notification(
        "reply", handle="buur.bsky.social", text="Wanneer gaat de straat weer open?", parent=parent
    )
    inbox.channel_inbox_fetch(channel=bluesky_channel)
    item = InboxItem.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        reply = inbox_reply_compose(item=item, text="Maandag.", actor=author)

    reply.refresh_from_db()
    assert reply.state == InboxReplyState.SENT
    record = next(r["value"] for r in fake_bluesky.records.values() if r["uri"] == reply.remote_id)
    assert record["reply"]["parent"]["uri"] == item.remote_id
    assert record["reply"]["root"]["uri"] == adapter_receipt.extra["uri"]


def test_rate_limited_answer_retries_after_the_networks_delay(
    fake_mastodon, mastodon_channel, author, django_capture_on_commit_callbacks
):
    mastodon_channel.config = {**mastodon_channel.config, "reply_approvals": 0}
    mastodon_channel.save()
    item = _item_on(mastodon_channel, fake_mastodon, author)
    fake_mastodon.fail_next(429, {"error": "Too many requests"}, {"Retry-After": "300"}, path="statuses")
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        reply = inbox_reply_compose(item=item, text="Dès lundi.", actor=author)

    reply.refresh_from_db()
    assert reply.state == InboxReplyState.RETRY_WAIT
    assert reply.next_attempt_at is not None
    assert reply.next_attempt_at >= before + timedelta(seconds=300)
    assert inbox.inbox_replies_due(now=before + timedelta(seconds=60)) == []
    later = reply.next_attempt_at + timedelta(seconds=1)
    assert inbox.inbox_replies_due(now=later) == [reply.pk]
    assert inbox.inbox_reply_send(reply_id=reply.pk, now=later) == InboxReplyState.SENT
    assert InboxReply.objects.get().attempts == 2


def test_poll_command_fetches_every_due_channel_and_honours_the_wait(
    fake_mastodon, mastodon_channel, fake_bluesky, bluesky_channel, capsys
):
    from django.core.management import call_command

    call_command("inbox_poll")  # the first pass sets the cursors
    fake_mastodon.add_notification("mention", text="Bonjour la police, une question sur le marché")
    fake_bluesky.add_notification("mention", handle="a.bsky.social", text="Hallo politie, een vraag over de markt")
    InboxCursor.objects.update(next_fetch_at=None)

    call_command("inbox_poll")

    assert sorted(InboxItem.objects.values_list("language", flat=True)) == ["fr", "nl"]
    fake_mastodon.add_notification("mention", text="Encore une question")
    call_command("inbox_poll")  # not due yet: TANDEM_INBOX_FETCH_SECONDS
    assert InboxItem.objects.count() == 2
    assert "new items" in capsys.readouterr().out


def test_facebook_comments_of_the_recent_posts_are_read(fake_facebook, make_channel, author):
    fake_facebook.token = "EAAB-page-token"  # noqa: S105 - a fake network's token
    channel = make_channel(
        "facebook",
        config={"page_id": fake_facebook.page_id, "graph_url": f"{fake_facebook.url}/v21.0"},
        secret="EAAB-page-token",
    )
    adapter = inbox.get_adapter(channel)
    recent = adapter.publish(inbox.Post(text="Appel à témoins", language="fr"), "k-recent").remote_id
    old = adapter.publish(inbox.Post(text="Ancien message", language="fr"), "k-old").remote_id
    ours = sent_delivery(channel=channel, author=author, remote_id=recent)
    stale = sent_delivery(channel=channel, author=author, remote_id=old)
    stale.sent_at = timezone.now() - timedelta(days=20)
    stale.save(update_fields=["sent_at"])
    fake_facebook.add_comment(recent, "Je passais par là vers midi et j'ai tout vu")
    fake_facebook.add_comment(old, "Un vieux commentaire")

    result = inbox.channel_inbox_fetch(channel=channel)

    item = InboxItem.objects.get()
    assert result.stored == 1
    assert item.delivery == ours
    assert item.author_handle == "Marie Dupont"
    assert InboxCursor.objects.get(channel=channel).position["watch"] == [recent]


def test_an_answer_stranded_while_sending_is_retried_only_where_the_network_deduplicates(
    mastodon_channel, make_channel, author
):
    from tests.publisher.inbox_support import make_item

    telegram = make_channel("telegram", config={"chat_id": "@x"}, secret="t")
    now = timezone.now()
    stranded = {}
    for channel in (mastodon_channel, telegram):
        item = make_item(channel=channel)
        stranded[channel.kind] = InboxReply.objects.create(
            item=item, text="Merci", author=author, state=InboxReplyState.SENDING, next_attempt_at=now
        )

    due = inbox.inbox_replies_due(now=now + timedelta(seconds=1))

    assert due == [stranded["mastodon"].pk]
    stranded["telegram"].refresh_from_db()
    assert stranded["telegram"].state == InboxReplyState.UNCONFIRMED


def test_instagram_comments_interrupted_half_way_are_stored_once_with_none_missing(
    fake_instagram, make_channel, author
):
    fake_instagram.token = "IGQV-user-token"  # noqa: S105 - a fake network's token
    channel = make_channel(
        "instagram",
        config={
            "ig_user_id": fake_instagram.user_id,
            "username": fake_instagram.username,
            "graph_url": f"{fake_instagram.url}/v21.0",
        },
        secret="IGQV-user-token",
    )
    media = fake_instagram.add_media()
    ours = sent_delivery(channel=channel, author=author, remote_id=media, appeal=True)
    for n in range(120):
        fake_instagram.add_comment(media, f"Commentaire numéro {n} sur les travaux")
    fake_instagram.rate_limit_next(minutes=5)
    refused = inbox.channel_inbox_fetch(channel=channel)
    assert "80002" in refused.error
    assert InboxItem.objects.count() == 0

    first = inbox.channel_inbox_fetch(channel=channel, max_pages=1)  # stopped after one page
    assert (first.stored, first.finished) == (50, False)
    fake_instagram.add_comment(media, "Arrivé pendant la lecture")
    rest = inbox.channel_inbox_fetch(channel=channel)
    later = inbox.channel_inbox_fetch(channel=channel)

    assert rest.stored + later.stored == 71
    assert rest.seen_again + later.seen_again == 0
    texts = list(InboxItem.objects.values_list("text", flat=True))
    assert sorted(texts) == sorted(
        [f"Commentaire numéro {n} sur les travaux" for n in range(120)] + ["Arrivé pendant la lecture"]
    )
    item = InboxItem.objects.get(text="Commentaire numéro 7 sur les travaux")
    assert item.delivery == ours
    assert item.possible_tip
    assert item.thread == {"ig_comment": item.remote_id}


def test_an_auth_failure_while_fetching_holds_the_channel_for_reconnection(
    fake_mastodon, mastodon_channel, roles, django_capture_on_commit_callbacks
):
    from django.core import mail

    from publisher.delivery import publishing
    from tests.factories import UserFactory
    from tests.publisher.inbox_support import MASTODON_TOKEN

    admin = UserFactory(username="chanadmin", roles=["channel_admin"])
    inbox.channel_inbox_fetch(channel=mastodon_channel)
    fake_mastodon.expire_token()
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        result = inbox.channel_inbox_fetch(channel=mastodon_channel, now=now)

    assert "401" in result.error
    mastodon_channel.refresh_from_db()
    assert mastodon_channel.needs_reconnect
    assert mastodon_channel.needs_reconnect_reason == result.error
    assert [m.to for m in mail.outbox] == [[admin.email]]
    assert mastodon_channel not in inbox.channels_due(now=now + timedelta(days=1))  # held, not retried
    fake_mastodon.add_token(MASTODON_TOKEN)
    fake_mastodon.add_notification("mention", text="Après la reconnexion")
    publishing.channel_reconnected(channel=mastodon_channel, actor=admin)
    assert mastodon_channel in inbox.channels_due(now=now)  # read again at once
    assert inbox.channel_inbox_fetch(channel=mastodon_channel, now=now).stored == 1


def test_an_answer_refused_for_its_token_holds_the_channel(fake_mastodon, mastodon_channel, author, approver):
    item = _item_on(mastodon_channel, fake_mastodon, author)
    reply = inbox_reply_approve(reply=inbox_reply_compose(item=item, actor=author, text="Lundi matin."), actor=approver)
    fake_mastodon.expire_token()

    state = inbox.inbox_reply_send(reply_id=reply.pk)

    assert state == InboxReplyState.FAILED
    mastodon_channel.refresh_from_db()
    assert mastodon_channel.needs_reconnect
    assert "401" in mastodon_channel.needs_reconnect_reason
