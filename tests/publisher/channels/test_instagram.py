import pytest
from PIL import Image

from publisher.channels.base import AuthError, PermanentError, Post, RateLimited, Receipt
from publisher.channels.instagram import InstagramAdapter

TOKEN = "IGQV-user-token"


@pytest.fixture
def instagram(fake_instagram, make_channel):
    fake_instagram.token = TOKEN
    channel = make_channel(
        "instagram",
        config={"graph_url": f"{fake_instagram.url}/v21.0", "ig_user_id": fake_instagram.user_id},
        secret=TOKEN,
    )
    return fake_instagram, InstagramAdapter(channel)


def test_single_image_fetched_from_our_url_then_published(instagram, media_server, stored_image):
    fake, adapter = instagram
    png = stored_image(2000, 400, alt="Bannière", fmt="PNG")  # PNG and 5:1: must become a padded JPEG
    receipt = adapter.publish(Post(text="Journée portes ouvertes #police", language="fr", images=(png,)), "k1")

    (url,) = fake.fetched
    assert url.startswith(media_server.url + "/media/renditions/")
    assert url.endswith(".jpg")
    container = fake.media[receipt.remote_id]
    assert container["alt_text"] == "Bannière"
    assert container["caption"] == "Journée portes ouvertes #police"
    assert receipt.url == f"https://www.instagram.com/p/{receipt.remote_id}/"
    assert len(fake.requests_to(r"/\d+$")) >= 2  # status polled before publishing


def test_carousel(instagram, stored_image):
    fake, adapter = instagram
    images = (stored_image(alt="Un"), stored_image(1200, 1200, alt="Deux"), stored_image(1080, 1350, alt="Trois"))
    receipt = adapter.publish(Post(text="Trois photos", language="fr", images=images), "k1")
    parent = fake.media[receipt.remote_id]
    assert [fake.containers[c]["alt_text"] for c in parent["children"]] == ["Un", "Deux", "Trois"]


def test_no_image_is_refused_before_any_call(instagram):
    fake, adapter = instagram
    with pytest.raises(PermanentError, match="at least one image"):
        adapter.publish(Post(text="Texte seul", language="fr"), "k")
    assert fake.requests == []


def test_unreachable_public_url_is_refused_by_instagram(instagram, stored_image, settings):
    fake, adapter = instagram
    settings.TANDEM_PUBLIC_URL = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(PermanentError, match="Media download has failed"):
        adapter.publish(Post(text="x", language="fr", images=(stored_image(),)), "k")


def test_quota_used_is_rate_limited(instagram, stored_image):
    fake, adapter = instagram
    fake.quota_usage = fake.quota_total
    with pytest.raises(RateLimited) as caught:
        adapter.publish(Post(text="x", language="fr", images=(stored_image(),)), "k")
    assert caught.value.retry_after == 86400


def test_expired_token(instagram, stored_image):
    fake, adapter = instagram
    fake.expire_token()
    with pytest.raises(AuthError):
        adapter.publish(Post(text="x", language="fr", images=(stored_image(),)), "k")


def test_renditions_are_jpeg_within_bounds(instagram, stored_image):
    _fake, adapter = instagram
    from publisher.media.images import RenditionSpec, rendition_for

    rendition = rendition_for(stored_image(400, 2000).path, RenditionSpec.from_limits(adapter.limits), kind="instagram")
    with Image.open(rendition.path) as img:
        assert img.format == "JPEG"
        assert 0.8 <= img.width / img.height <= 1.91
        assert max(img.size) <= 1440


def test_a_follow_up_is_a_comment_on_the_original_post(instagram, media_server, stored_image):
    fake, adapter = instagram
    original = adapter.publish(Post(text="Avis de recherche", language="fr", images=(stored_image(),)), "k-1")
    quota = fake.quota_usage
    follow_up = Post(text="Correction : personne retrouvée", language="fr", reply_to=original, correction=True)

    assert adapter.check(follow_up) == []  # no image needed for a comment
    receipt = adapter.publish(follow_up, "k-2")

    comment = fake.comments[receipt.remote_id]
    assert (comment["media"], comment["message"], comment["parent"]) == (original.remote_id, follow_up.text, None)
    assert fake.quota_usage == quota
    assert len(fake.media) == 1


def test_a_comment_on_an_unknown_post_fails_with_graphs_words(instagram):
    _fake, adapter = instagram

    with pytest.raises(PermanentError, match="Unsupported post request"):
        adapter.publish(Post(text="Mise à jour", language="fr", reply_to=Receipt(remote_id="1")), "k-3")
