import logging

import pytest

from publisher.channels.base import AuthError, PermanentError, Post, RateLimited, Receipt, UnknownOutcome
from publisher.channels.telegram import TelegramAdapter

TOKEN = "123456:ABC-secret-bot-token"


@pytest.fixture
def telegram(fake_telegram, make_channel):
    fake_telegram.tokens.add(TOKEN)
    fake_telegram.chats.add("@politie_zone")
    channel = make_channel(
        "telegram",
        config={"api_url": fake_telegram.url, "chat_id": "@politie_zone", "chat_username": "politie_zone"},
        secret=TOKEN,
        language="nl",
    )
    return fake_telegram, TelegramAdapter(channel)


def test_text_only_uses_send_message(telegram):
    fake, adapter = telegram
    receipt = adapter.publish(Post(text="Hallo Brussel 👋", language="nl"), "k1")
    assert fake.messages[int(receipt.remote_id)]["text"] == "Hallo Brussel 👋"
    assert receipt.url == f"https://t.me/politie_zone/{receipt.remote_id}"


def test_one_image_with_caption(telegram, stored_image):
    fake, adapter = telegram
    receipt = adapter.publish(Post(text="Kijk uit", language="nl", images=(stored_image(),)), "k2")
    assert fake.messages[int(receipt.remote_id)]["caption"] == "Kijk uit"
    assert fake.requests_to(r"/sendPhoto$")


def test_album_with_attach_parts_and_long_text_as_separate_message(telegram, stored_image):
    fake, adapter = telegram
    text = "é" * 1500  # too long for a caption, fine for a message
    receipt = adapter.publish(Post(text=text, language="nl", images=(stored_image(), stored_image(800, 600))), "k3")
    ids = receipt.extra["message_ids"]
    assert len(ids) == 3
    assert fake.messages[ids[-1]]["text"] == text
    assert fake.messages[ids[-1]]["reply_to"] == ids[0]


def test_extreme_aspect_ratio_is_padded_to_fit(telegram, stored_image):
    fake, adapter = telegram
    adapter.publish(Post(text="Bandeau", language="nl", images=(stored_image(4200, 100),)), "k4")
    assert len(fake.messages) == 1


def test_reply_to_original_message(telegram):
    fake, adapter = telegram
    original = adapter.publish(Post(text="Alarm", language="nl"), "k5")
    update = adapter.publish(Post(text="Update", language="nl", reply_to=original), "k6")
    assert fake.messages[int(update.remote_id)]["reply_to"] == int(original.remote_id)


def test_flood_control_gives_retry_after(telegram):
    fake, adapter = telegram
    fake.flood_next(seconds=7)
    with pytest.raises(RateLimited) as caught:
        adapter.publish(Post(text="x", language="nl"), "k")
    assert caught.value.retry_after == 7


def test_bad_token_is_auth_error_and_never_leaks_the_token(telegram, make_channel, caplog):
    fake, _ = telegram
    channel = make_channel(
        "telegram", config={"api_url": fake.url, "chat_id": "@politie_zone"}, secret="999:leaky-token"
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as caught:
        TelegramAdapter(channel).publish(Post(text="x", language="nl"), "k")
    assert "leaky-token" not in str(caught.value)
    assert "leaky-token" not in caplog.text


def test_timeout_after_sending_is_unknown_outcome_without_token(telegram):
    fake, adapter = telegram
    fake.slow_next(1.5)
    with pytest.raises(UnknownOutcome) as caught:
        adapter.publish(Post(text="Peut-être envoyé", language="nl"), "k")
    assert TOKEN not in caught.value.message
    assert len(fake.messages) == 1  # it did go out: hence no blind repost


def test_too_long_text_is_refused_before_sending(telegram):
    fake, adapter = telegram
    with pytest.raises(PermanentError, match="4097/4096"):
        adapter.publish(Post(text="a" * 4097, language="nl"), "k")
    assert fake.requests == []


def test_retract_deletes_every_message(telegram, stored_image):
    fake, adapter = telegram
    receipt = adapter.publish(Post(text="x", language="nl", images=(stored_image(), stored_image())), "k")
    adapter.retract(receipt)
    assert fake.messages == {}


def test_revoked_bot_token(telegram):
    fake, adapter = telegram
    fake.expire_token()
    with pytest.raises(AuthError, match="Unauthorized"):
        adapter.publish(Post(text="x", language="nl"), "k")


def test_edit_changes_a_text_message_in_place(telegram):
    fake, adapter = telegram
    original = adapter.publish(Post(text="Route fermée", language="fr"), "k-1")

    adapter.edit(original, Post(text="Route rouverte", language="fr", correction=True), "k-2")

    message = fake.messages[int(original.remote_id)]
    assert message["text"] == "Route rouverte"
    assert "edit_date" in message
    assert len(fake.messages) == 1


def test_edit_changes_the_caption_of_a_photo_post(telegram, stored_image):
    fake, adapter = telegram
    original = adapter.publish(Post(text="Avis de recherche", language="fr", images=(stored_image(),)), "k-3")

    adapter.edit(original, Post(text="Personne retrouvée", language="fr"), "k-4")

    assert fake.messages[int(original.remote_id)]["caption"] == "Personne retrouvée"
    assert fake.requests_to(r"/editMessageCaption$")


def test_edit_repeated_after_a_timeout_is_done_not_an_error(telegram):
    fake, adapter = telegram
    original = adapter.publish(Post(text="Route fermée", language="fr"), "k-5")
    post = Post(text="Route rouverte", language="fr")
    adapter.edit(original, post, "k-6")

    adapter.edit(original, post, "k-6")  # Telegram answers "message is not modified"

    assert fake.messages[int(original.remote_id)]["text"] == "Route rouverte"


def test_edit_of_a_deleted_message_fails_with_telegrams_words(telegram):
    _fake, adapter = telegram
    receipt = Receipt(remote_id="999", extra={"chat_id": "@politie_zone"})

    with pytest.raises(PermanentError, match="message to edit not found"):
        adapter.edit(receipt, Post(text="Correction", language="fr"), "k-7")


def test_corrected_caption_longer_than_telegram_allows_is_refused(telegram, stored_image):
    fake, adapter = telegram
    original = adapter.publish(Post(text="Court", language="fr", images=(stored_image(),)), "k-8")

    with pytest.raises(PermanentError, match="1024"):
        adapter.edit(original, Post(text="é" * 1100, language="fr"), "k-9")
    assert not fake.requests_to(r"/editMessageCaption$")
