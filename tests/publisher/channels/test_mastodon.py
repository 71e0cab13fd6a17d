import pytest

from publisher.channels.base import AuthError, PermanentError, Post, RateLimited, Receipt, TransientError
from publisher.channels.mastodon import _INSTANCE_CACHE, MastodonAdapter

TOKEN = "mastodon-user-token-abcdef"


@pytest.fixture
def mastodon(fake_mastodon, make_channel):
    _INSTANCE_CACHE.clear()
    fake_mastodon.add_token(TOKEN)
    channel = make_channel("mastodon", config={"base_url": fake_mastodon.url}, secret=TOKEN, language="nl")
    return fake_mastodon, MastodonAdapter(channel)


def test_publishes_status_with_media_description_and_language(mastodon, stored_image):
    fake, adapter = mastodon
    post = Post(
        text="Let op: wegenwerken in de Wetstraat 🚧",
        language="nl",
        link="https://politie.be/x",
        images=(stored_image(alt="Een kaart"),),
    )

    receipt = adapter.publish(post, idempotency_key="tandem-delivery-1")

    status = fake.statuses[receipt.remote_id]
    assert status["language"] == "nl"
    assert status["content"].endswith("https://politie.be/x")
    assert [m["description"] for m in status["media_attachments"]] == ["Een kaart"]
    assert receipt.url == status["url"]
    upload = fake.requests_to(r"/api/v2/media$")[0]
    assert upload.files["file"].content_type == "image/jpeg"


def test_same_idempotency_key_returns_the_same_status(mastodon):
    fake, adapter = mastodon
    post = Post(text="Bonjour", language="nl")

    first = adapter.publish(post, idempotency_key="tandem-delivery-7")
    second = adapter.publish(post, idempotency_key="tandem-delivery-7")

    assert first.remote_id == second.remote_id
    assert len(fake.statuses) == 1
    assert fake.requests_to(r"/api/v1/statuses$")[0].headers["idempotency-key"] == "tandem-delivery-7"


def test_waits_for_media_processing_before_posting(mastodon, stored_image):
    fake, adapter = mastodon
    fake.media_processing_polls = 2

    receipt = adapter.publish(Post(text="Photo", language="nl", images=(stored_image(),)), "k-processing")

    assert receipt.remote_id in fake.statuses
    assert len(fake.requests_to(r"/api/v1/media/\d+$")) == 3  # 206, 206, 200


def test_reply_threads_on_the_original(mastodon):
    fake, adapter = mastodon
    original = adapter.publish(Post(text="Alerte", language="nl"), "k-original")

    follow_up = adapter.publish(Post(text="Update", language="nl", reply_to=original), "k-update")

    assert fake.statuses[follow_up.remote_id]["in_reply_to_id"] == original.remote_id


def test_server_limit_is_enforced_before_sending(mastodon):
    fake, adapter = mastodon
    fake.max_characters = 50

    with pytest.raises(PermanentError, match="/50"):
        adapter.publish(Post(text="é" * 60, language="nl"), "k-long")
    assert fake.requests_to(r"/api/v1/statuses$") == []


def test_url_counts_23_in_check():
    channel = type("C", (), {"config": {}, "pk": 1})()
    adapter = MastodonAdapter(channel)  # type: ignore[arg-type]
    url = " https://example.org/" + "a" * 200
    assert adapter.check(Post(text="x" * 476 + url, language="fr")) == []
    problems = adapter.check(Post(text="x" * 477 + url, language="fr"))
    assert [p.message for p in problems] == ["501/500 characters"]


def test_invalid_token_is_an_auth_error(mastodon):
    fake, adapter = mastodon
    fake.expire_token()

    with pytest.raises(AuthError, match="The access token is invalid"):
        adapter.publish(Post(text="Hallo", language="nl"), "k-auth")


def test_rate_limit_reads_the_iso_reset(mastodon):
    fake, adapter = mastodon
    fake.rate_limit_remaining = 0

    with pytest.raises(RateLimited) as caught:
        adapter.publish(Post(text="Hallo", language="nl"), "k-rate")
    assert 100 < caught.value.retry_after <= 120


def test_server_error_is_transient_and_status_timeout_is_retryable(mastodon):
    fake, adapter = mastodon
    fake.fail_next(503, {"error": "Service Unavailable"}, path=r"/api/v1/statuses")
    with pytest.raises(TransientError, match="503"):
        adapter.publish(Post(text="Hallo", language="nl"), "k-503")

    # Timeout after sending: the idempotency key makes a retry safe, so it is transient.
    fake.slow_next(1.5, path=r"/api/v1/statuses")
    with pytest.raises(TransientError) as caught:
        adapter.publish(Post(text="Hallo", language="nl"), "k-slow")
    assert caught.type is TransientError
    retried = adapter.publish(Post(text="Hallo", language="nl"), "k-slow")
    assert len([s for s in fake.statuses.values() if s["content"] == "Hallo"]) == 1
    assert retried.remote_id in fake.statuses


def test_retract_deletes_and_tolerates_already_deleted(mastodon):
    fake, adapter = mastodon
    receipt = adapter.publish(Post(text="Weg", language="nl"), "k-del")
    adapter.retract(receipt)
    assert receipt.remote_id not in fake.statuses
    adapter.retract(Receipt(remote_id=receipt.remote_id))


def test_the_instance_limits_are_stored_so_checks_before_approval_use_them(mastodon):
    from publisher.channels.services import channel_limits_refresh
    from publisher.models import AuditEvent

    fake, adapter = mastodon
    fake.max_characters = 1000
    long_text = Post(text="a" * 700, language="nl")
    assert adapter.check(long_text)  # the default 500 applies before the server is asked

    limits = channel_limits_refresh(channel=adapter.channel)

    assert limits["max_characters"] == 1000
    adapter.channel.refresh_from_db()
    assert adapter.channel.config["max_characters"] == 1000
    assert adapter.channel.config["base_url"] == fake.url  # the rest of the config is kept
    assert MastodonAdapter(adapter.channel).check(long_text) == []
    assert AuditEvent.objects.filter(verb="channel.limits_refreshed").exists()


def test_refreshing_limits_from_a_failing_server_raises_and_stores_nothing(mastodon):
    from publisher.channels.services import channel_limits_refresh

    fake, adapter = mastodon
    fake.fail_next(503)
    with pytest.raises(TransientError):
        channel_limits_refresh(channel=adapter.channel)
    adapter.channel.refresh_from_db()
    assert "max_characters" not in adapter.channel.config


def test_only_the_documented_limits_as_bounded_integers_reach_the_config(mastodon, monkeypatch):
    from publisher.channels.services import channel_limits_refresh
    from tests.fakes.base import Reply

    fake, adapter = mastodon
    hostile = {
        "contact": {"email": "admin@internal"},
        "configuration": {
            "statuses": {"max_characters": True, "max_media_attachments": 10**12, "characters_reserved_per_url": 23},
            "media_attachments": {"description_limit": "1500", "image_size_limit": -1, "secret_thing": 5},
            "urls": {"streaming": "wss://internal"},
        },
    }
    monkeypatch.setattr(fake, "instance", lambda request: Reply(200, hostile))
    fake.routes = [(m, p, fake.instance if p.pattern == "^/api/v2/instance$" else h) for m, p, h in fake.routes]

    limits = channel_limits_refresh(channel=adapter.channel)

    assert limits == {"characters_reserved_per_url": 23}
    adapter.channel.refresh_from_db()
    assert set(adapter.channel.config) == {"base_url", "timeout", "connect_timeout", "poll_interval", *limits}


def test_a_disabled_channel_never_reads_its_limits(mastodon):
    from publisher.channels.services import channel_limits_refresh
    from publisher.errors import ValidationError
    from publisher.models import Channel

    fake, adapter = mastodon
    Channel.objects.filter(pk=adapter.channel.pk).update(enabled=False)
    with pytest.raises(ValidationError, match="is disabled"):
        channel_limits_refresh(channel=adapter.channel)
    assert fake.requests == []


def test_edit_changes_the_text_in_place_and_keeps_the_images(mastodon, stored_image):
    fake, adapter = mastodon
    original = adapter.publish(Post(text="Wegenwerken tot 12 mei", language="nl", images=(stored_image(),)), "k-1")

    edited = adapter.edit(original, Post(text="Wegenwerken tot 19 mei", language="nl", correction=True), "k-2")

    status = fake.statuses[original.remote_id]
    assert edited.remote_id == original.remote_id
    assert status["content"] == "Wegenwerken tot 19 mei"
    assert status["edited_at"] is not None
    assert len(status["media_attachments"]) == 1  # the server drops media not sent back
    assert [v["content"] for v in fake.history[original.remote_id]] == ["Wegenwerken tot 12 mei"]
    assert len(fake.statuses) == 1


def test_edit_of_an_unknown_status_is_refused(mastodon):
    _fake, adapter = mastodon

    with pytest.raises(PermanentError, match="Record not found"):
        adapter.edit(Receipt(remote_id="404404"), Post(text="Correctie", language="nl"), "k-3")


def test_only_the_owner_can_edit(mastodon, make_channel):
    fake, adapter = mastodon
    original = adapter.publish(Post(text="Van de zone", language="nl"), "k-4")
    fake.add_token("someone-else", account="2")
    other = MastodonAdapter(
        make_channel("mastodon", config={"base_url": fake.url}, secret="someone-else", language="nl")
    )

    with pytest.raises(PermanentError, match="Record not found"):
        other.edit(original, Post(text="Gekaapt", language="nl"), "k-5")
    assert fake.statuses[original.remote_id]["content"] == "Van de zone"


def test_edit_too_long_for_the_instance_is_refused_before_sending(mastodon):
    fake, adapter = mastodon
    fake.max_characters = 20  # read once per hour: before the first call
    original = adapter.publish(Post(text="Kort", language="nl"), "k-6")

    with pytest.raises(PermanentError, match="/20"):
        adapter.edit(original, Post(text="é" * 30, language="nl"), "k-7")
    assert not fake.requests_to(r"/api/v1/statuses/\d+$")
