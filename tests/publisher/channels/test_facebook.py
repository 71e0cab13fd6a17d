import pytest

from publisher.channels.base import AuthError, PermanentError, Post, RateLimited, Receipt, UnknownOutcome
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


def test_edit_updates_the_page_post_and_keeps_its_photos(facebook, stored_image):
    fake, adapter = facebook
    original = adapter.publish(Post(text="Contrôles samedi", language="fr", images=(stored_image(),)), "k-1")

    edited = adapter.edit(original, Post(text="Contrôles dimanche", language="fr", correction=True), "k-2")

    assert edited.remote_id == original.remote_id
    assert fake.posts[original.remote_id]["message"] == "Contrôles dimanche"
    assert fake.posts[original.remote_id]["edits"] == ["Contrôles samedi"]
    assert len(fake.posts[original.remote_id]["media"]) == 1
    assert len(fake.posts) == 1


def test_edit_of_a_deleted_post_fails_with_graphs_words(facebook):
    _fake, adapter = facebook

    with pytest.raises(PermanentError, match="does not exist"):
        adapter.edit(Receipt(remote_id=f"{_fake.page_id}_1"), Post(text="Correction", language="fr"), "k-3")
