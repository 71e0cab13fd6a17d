"""Errors a worker stored (it runs in English) read in the reader's language when they are
Tandem's own wording; a network's own words are shown as they came."""

from django.urls import reverse
from django.utils import timezone, translation

from publisher.channels.base import ChannelAdapter, PermanentError, Receipt
from publisher.models import DeliveryState
from publisher.templatetags.tandem_admin import stored_error
from tests.factories import ChannelFactory, UserFactory
from tests.publisher.newsroom_support import message_with_deliveries


class _CannotDelete(ChannelAdapter):
    kind = "test"

    def check(self, post):
        return []

    def publish(self, post, idempotency_key):
        return Receipt(remote_id="1")


def _refusal() -> str:
    # What a worker stores when a network cannot delete: the base adapter's own wording.
    try:
        _CannotDelete(ChannelFactory.build()).retract(Receipt(remote_id="1"))
    except PermanentError as exc:
        return exc.message
    raise AssertionError("retract did not refuse")


def test_tandems_own_error_reads_in_the_readers_language_and_a_networks_words_stay():
    with translation.override("en"):
        stored = _refusal()
    with translation.override("nl"):
        assert stored_error(stored) == "Dit netwerk laat niet toe een bericht te verwijderen."
        assert stored_error("HTTP 422: Validation failed") == "HTTP 422: Validation failed"
    with translation.override("fr"):
        assert stored_error(stored) == "Ce réseau ne permet pas de supprimer une publication."
    assert stored_error("") == ""


def test_the_message_page_shows_a_stored_refusal_in_the_readers_language(client, roles):
    reader = UserFactory(username="lezer", roles=["approver"], preferred_language="nl")
    channel = ChannelFactory(name="Instagram Politie", kind="outbox", language="nl", covers_all=True)
    message, (delivery,) = message_with_deliveries(
        author=reader, due_at=timezone.now(), routes=[(channel, DeliveryState.SENT)]
    )
    delivery.last_error = _refusal()
    delivery.save(update_fields=["last_error"])
    client.force_login(reader)

    page = client.get(reverse("admin:publisher_message_change", args=[message.pk])).content.decode()

    assert "Dit netwerk laat niet toe een bericht te verwijderen." in page
    assert "This network does not allow deleting posts." not in page


def test_an_adapters_own_refusal_reads_in_the_readers_language_where_it_is_shown():
    from publisher.channels.base import AuthError, Credential
    from publisher.channels.mastodon import MastodonAdapter

    channel = ChannelFactory.build(kind="mastodon", config={"base_url": "https://social.example"})
    try:
        MastodonAdapter(channel).refresh(Credential(channel_id=1, flow="oauth", secrets={"secret": "s"}))
    except AuthError as exc:
        refused = exc
    else:
        raise AssertionError("a refresh without a refresh token was accepted")
    assert refused.message == "The instance gave no refresh token: sign in again."  # stored and logged
    with translation.override("nl"):
        assert refused.reader_text() == "De instantie gaf geen vernieuwingstoken: meld u opnieuw aan."
        assert stored_error(refused.message) == refused.reader_text()
    with translation.override("fr"):
        assert refused.reader_text().startswith("L’instance n’a pas donné de jeton de renouvellement")
    assert AuthError("HTTP 401: invalid token").reader_text() == "HTTP 401: invalid token"
