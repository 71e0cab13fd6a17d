import pytest

from publisher.channels.base import AuthError, PermanentError, Post, RateLimited, UnknownOutcome
from publisher.channels.x import XAdapter

TOKEN = "x-oauth2-user-token"


@pytest.fixture
def x(fake_x, make_channel):
    fake_x.token = TOKEN
    channel = make_channel("x", config={"api_url": fake_x.url, "username": "PolitieZone"}, secret=TOKEN, language="nl")
    return fake_x, XAdapter(channel)


def test_media_with_alt_then_tweet(x, stored_image):
    fake, adapter = x
    receipt = adapter.publish(
        Post(text="Fietsmarkering in Ieper 🚲", language="nl", images=(stored_image(alt="Fiets"),)), "k1"
    )
    tweet = fake.tweets[receipt.remote_id]
    assert [fake.media[m]["alt"] for m in tweet["media"]] == ["Fiets"]
    assert receipt.url == f"https://x.com/PolitieZone/status/{receipt.remote_id}"


def test_weighted_count_lets_long_urls_through(x):
    fake, adapter = x
    text = "a" * 256 + " https://www.politie.be/5415/nl/nieuws/een-heel-lange-adres-met-veel-woorden"
    assert adapter.check(Post(text=text, language="nl")) == []
    adapter.publish(Post(text=text, language="nl"), "k")
    assert len(fake.tweets) == 1
    assert [p.message for p in adapter.check(Post(text="é" * 281, language="nl"))] == ["281/280 characters"]


def test_duplicate_after_unknown_outcome_is_reported_as_possibly_posted(x):
    fake, adapter = x
    fake.slow_next(1.5, path=r"/2/tweets$")
    with pytest.raises(UnknownOutcome):
        adapter.publish(Post(text="Dubbel?", language="nl"), "k")
    with pytest.raises(UnknownOutcome, match="duplicate content"):
        adapter.publish(Post(text="Dubbel?", language="nl"), "k")
    assert len(fake.tweets) == 1


def test_reply_and_retract(x):
    fake, adapter = x
    original = adapter.publish(Post(text="Alarm", language="nl"), "k1")
    reply = adapter.publish(Post(text="Einde alarm", language="nl", reply_to=original), "k2")
    assert fake.tweets[reply.remote_id]["reply_to"] == original.remote_id
    adapter.retract(reply)
    assert reply.remote_id not in fake.tweets


def test_rate_limit_reset_is_epoch(x):
    fake, adapter = x
    fake.rate_limit_next()
    with pytest.raises(RateLimited) as caught:
        adapter.publish(Post(text="x", language="nl"), "k")
    assert 590 <= caught.value.retry_after <= 600


def test_bad_token_and_long_alt(x, stored_image):
    fake, adapter = x
    post = Post(text="x", language="nl", images=(stored_image(alt="a" * 1001),))
    with pytest.raises(PermanentError, match="1001/1000"):
        adapter.publish(post, "k")
    fake.expire_token()
    with pytest.raises(AuthError):
        adapter.publish(Post(text="y", language="nl"), "k")
