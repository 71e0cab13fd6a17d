"""The inbox services: permissions, states, answers' policy, retention."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command

from publisher.errors import InvalidTransition, NotAllowed, ValidationError
from publisher.models import AuditEvent, InboxItem, InboxReply, InboxState, Message
from publisher.workflow import inbox
from tests.factories import ChannelFactory, UserFactory
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks and the SMTP server
from tests.publisher.inbox_support import *  # noqa: F403 - channels wired to the fakes
from tests.publisher.inbox_support import make_item

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def outsider(roles):
    return UserFactory(username="outsider", roles=["channel_admin"])


def test_without_the_inbox_permission_nothing_is_read_or_changed(outsider):
    item = make_item()

    with pytest.raises(NotAllowed):
        list(inbox.inbox_items(user=outsider, where=inbox.InboxFilter()))
    with pytest.raises(NotAllowed):
        inbox.inbox_item_set_state(item=item, state=InboxState.READ, actor=outsider)
    with pytest.raises(NotAllowed):
        inbox.inbox_reply_compose(item=item, text="Bonjour", actor=outsider)
    with pytest.raises(NotAllowed):
        inbox.inbox_export(items=[item], actor=outsider, where=inbox.InboxFilter())
    with pytest.raises(NotAllowed):
        inbox.inbox_answer_draft(item=item, actor=outsider)
    assert not AuditEvent.objects.filter(verb__startswith="inbox.").exists()


def test_every_state_can_be_set_and_each_change_is_audited(author):
    item = make_item()

    for state in (InboxState.READ, InboxState.NEEDS_ANSWER, InboxState.ESCALATED, InboxState.HIDDEN, InboxState.NEW):
        inbox.inbox_item_set_state(item=item, state=state, actor=author)

    assert AuditEvent.objects.filter(verb="inbox.state_changed", object_id=str(item.pk)).count() == 5
    with pytest.raises(ValidationError):
        inbox.inbox_item_set_state(item=item, state="archived", actor=author)


def test_an_answer_is_checked_like_a_post_on_its_channel(author):
    item = make_item(channel=ChannelFactory(kind="bluesky", config={"identifier": "x"}))

    with pytest.raises(ValidationError):
        inbox.inbox_reply_compose(item=item, text="x" * 301, actor=author)
    with pytest.raises(ValidationError):
        inbox.inbox_reply_compose(item=item, text="   ", actor=author)
    assert not InboxReply.objects.exists()


def test_a_possible_tip_or_a_hidden_item_is_never_answered(author):
    with pytest.raises(InvalidTransition):
        inbox.inbox_reply_compose(item=make_item(possible_tip=True), text="Merci", actor=author)
    with pytest.raises(InvalidTransition):
        inbox.inbox_reply_compose(item=make_item(state=InboxState.HIDDEN), text="Merci", actor=author)
    assert not InboxReply.objects.exists()


def test_the_reply_policy_is_per_channel():
    assert inbox.reply_approvals({}) == 1
    assert inbox.reply_approvals({"reply_approvals": 0}) == 0
    assert inbox.reply_approvals({"reply_approvals": "0"}) == 0
    assert inbox.reply_approvals({"reply_approvals": 2}) == 1


def test_rumour_draft_audience_follows_the_message_answered_or_the_channel(author):
    channel = ChannelFactory(language="nl", coverage=["21004", "21009"])

    message = inbox.inbox_answer_draft(item=make_item(channel=channel, language="nl"), actor=author)

    assert sorted(message.audience_municipalities.values_list("nis_code", flat=True)) == ["21004", "21009"]
    assert Message.objects.get(pk=message.pk).variants.count() == 2


def test_retention_deletes_old_items_and_their_answers_and_nothing_else(author):
    with time_machine.travel(NOW - timedelta(days=91), tick=False):
        old = make_item(text="ancien")
        InboxReply.objects.create(item=old, text="réponse", author=author, state="sent")
    with time_machine.travel(NOW - timedelta(days=89), tick=False):
        recent = make_item(text="récent")
        InboxReply.objects.create(item=recent, text="réponse", author=author, state="sent")
    other_audit = AuditEvent.objects.count()

    with time_machine.travel(NOW, tick=False):
        result = inbox.inbox_prune(days=90)

    assert (result.items, result.replies) == (1, 1)
    assert list(InboxItem.objects.values_list("text", flat=True)) == ["récent"]
    assert InboxReply.objects.get().item == recent
    event = AuditEvent.objects.get(verb="inbox.pruned")
    assert event.summary == {"days": 90, "items": 1, "replies": 1}
    assert AuditEvent.objects.count() == other_audit + 1
    with time_machine.travel(NOW, tick=False):
        assert inbox.inbox_prune(days=90).items == 0
    assert AuditEvent.objects.filter(verb="inbox.pruned").count() == 1


def test_retention_command_uses_the_setting(settings, capsys):
    settings.TANDEM_INBOX_RETENTION_DAYS = 30
    with time_machine.travel(NOW - timedelta(days=31), tick=False):
        make_item()
    with time_machine.travel(NOW - timedelta(days=29), tick=False):
        kept = make_item()

    with time_machine.travel(NOW, tick=False):
        call_command("inbox_prune")

    assert list(InboxItem.objects.all()) == [kept]
    assert "Deleted 1 inbox items" in capsys.readouterr().out


def test_default_retention_is_90_days():
    from config import settings as project_settings

    assert project_settings.TANDEM_INBOX_RETENTION_DAYS == 90


def test_a_possible_tip_never_becomes_a_draft_answer(author):
    with pytest.raises(InvalidTransition):
        inbox.inbox_answer_draft(item=make_item(possible_tip=True), actor=author)
    assert not Message.objects.exists()


def test_tip_goes_to_the_investigators_through_a_real_smtp_exchange_after_commit(
    smtp_server, settings, author, django_capture_on_commit_callbacks, fake_mastodon, mastodon_channel
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.TANDEM_INVESTIGATOR_EMAILS = ["enquete@police.example", "parquet@justice.example"]
    item = make_item(
        channel=mastodon_channel,
        text="La camionnette blanche était garée devant le n° 12",
        possible_tip=True,
        url="https://example.social/@temoin/77",
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        inbox.inbox_tip_forward(item=item, actor=author)
        assert smtp_server.messages == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    ((recipients, message),) = smtp_server.messages
    assert sorted(recipients) == ["enquete@police.example", "parquet@justice.example"]
    body = message.get_content()
    assert "https://example.social/@temoin/77" in body
    assert "2026-11-30 10:00" in body
    assert "camionnette blanche" in body
    assert fake_mastodon.requests_to(r"/api/v1/statuses") == []  # nothing published
