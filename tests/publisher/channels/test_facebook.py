import pytest

from publisher.channels.base import AuthError, Post, RateLimited, UnknownOutcome
from publisher.channels.facebook import FacebookAdapter

TOKEN = "EAAB-page-token-secret"


@pytest.fixture
def facebook(fake_facebook, make_channel):
    fake_facebook.token = TOKEN
    channel = make_channel(
        "facebook", config={"graph_url": f"{fake_facebook.url}/v21.0", "page_id": fake_facebook.page_id}, secret=TOKEN
    )
    return fake_facebook, FacebookAdapter(channel)


def test_unpublished_photos_then_one_feed_post(facebook, stored_image):
    fake, adapter = facebook
    post = Post(
        text="Contrôles radar ce week-end",
        language="fr",
        images=(stored_image(alt="Radar"), stored_image(900, 600, alt="Carte")),
    )
    receipt = adapter.publish(post, "k1")
    stored = fake.posts[receipt.remote_id]
    assert stored["message"] == "Contrôles radar ce week-end"
    assert [fake.photos[p]["alt_text_custom"] for p in stored["media"]] == ["Radar", "Carte"]
    assert all(not fake.photos[p]["published"] for p in stored["media"])
    assert len(fake.requests_to(r"/feed$")) == 1
    assert all("access_token" not in r.query for r in fake.requests)  # the token travels in a header


def test_follow_up_is_a_comment(facebook):
    fake, adapter = facebook
    original = adapter.publish(Post(text="Alerte", language="fr"), "k1")
    update = adapter.publish(Post(text="Levée de l'alerte", language="fr", reply_to=original), "k2")
    assert fake.comments[update.remote_id]["post"] == original.remote_id


def test_expired_token_is_auth_error(facebook):
    fake, adapter = facebook
    fake.expire_token()
    with pytest.raises(AuthError, match="code 190/463"):
        adapter.publish(Post(text="x", language="fr"), "k")


def test_business_use_case_limit_gives_wait(facebook):
    fake, adapter = facebook
    fake.rate_limit_next(minutes=12)
    with pytest.raises(RateLimited) as caught:
        adapter.publish(Post(text="x", language="fr"), "k")
    assert caught.value.retry_after == 720


def test_feed_timeout_is_unknown_outcome(facebook):
    fake, adapter = facebook
    fake.slow_next(1.5, path=r"/feed$")
    with pytest.raises(UnknownOutcome):
        adapter.publish(Post(text="Peut-être", language="fr"), "k")
    assert len(fake.posts) == 1


def test_retract_deletes_the_post(facebook):
    fake, adapter = facebook
    receipt = adapter.publish(Post(text="x", language="fr"), "k")
    adapter.retract(receipt)
    assert fake.posts == {}
