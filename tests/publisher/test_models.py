"""A reason the system gives for a message's state is read in the reader's language."""

import pytest
from django.utils import translation

from publisher.models import Message, state_reason_words
from tests.factories import UserFactory, make_message

pytestmark = pytest.mark.django_db

NOT_DELIVERED = {
    "code": "not_delivered",
    "channels": [{"channel": "Federale politie", "state": "failed", "error": "HTTP 422"}],
}


def test_a_coded_reason_reads_in_each_readers_language():
    with translation.override("fr"):
        french = state_reason_words(NOT_DELIVERED)
    with translation.override("nl"):
        dutch = state_reason_words(NOT_DELIVERED)
    assert french == "Non publié sur : Federale politie (Échoué: HTTP 422)."
    assert dutch == "Niet gepubliceerd op: Federale politie (Mislukt: HTTP 422)."


def test_an_old_row_keeps_its_text_and_a_persons_words_stay_as_written():
    message = make_message(author=UserFactory())
    Message.objects.filter(pk=message.pk).update(state_reason="Not delivered on: X (Failed: boom).")
    message.refresh_from_db()
    with translation.override("nl"):
        assert message.state_reason_text == "Not delivered on: X (Failed: boom)."
    message.state_reason_set(coded={"code": "expired_unapproved"})
    assert message.state_reason == ""
    with translation.override("nl"):
        assert "Niet goedgekeurd" in message.state_reason_text
    message.state_reason_set(text="Trop vague")
    assert message.state_reason_coded is None
    assert message.state_reason_text == "Trop vague"


def test_a_code_this_release_does_not_know_shows_as_its_code():
    assert state_reason_words({"code": "from_a_newer_release"}) == "from_a_newer_release"
