import pytest

from publisher.channels.base import AuthError, PermanentError, Post, RateLimited
from publisher.channels.bluesky import BlueskyAdapter, link_facets, tid_for
from tests.publisher.metrics_support import Delta

HANDLE = "politie-zone.bsky.social"
PASSWORD = "app-pass-abcd-efgh"


@pytest.fixture
def bluesky(fake_bluesky, make_channel):
    fake_bluesky.add_account(HANDLE, PASSWORD)
    channel = make_channel("bluesky", config={"pds_url": fake_bluesky.url, "identifier": HANDLE}, secret=PASSWORD)
    return fake_bluesky, BlueskyAdapter(channel)


def test_publishes_record_with_link_facet_alt_and_language(bluesky, stored_image):
    fake, adapter = bluesky
    text = "Fermeture du tunnel Léopold II 🚧 infos: https://police.brussels/tunnel"
    post = Post(text=text, language="fr", images=(stored_image(alt="Plan de déviation"),))

    receipt = adapter.publish(post, "tandem-delivery-1")

    (record,) = [r["value"] for r in fake.records.values()]
    assert record["langs"] == ["fr"]
    (facet,) = record["facets"]
    encoded = record["text"].encode()
    assert encoded[facet["index"]["byteStart"] : facet["index"]["byteEnd"]] == b"https://police.brussels/tunnel"
    assert record["embed"]["images"][0]["alt"] == "Plan de déviation"
    assert record["embed"]["images"][0]["aspectRatio"] == {"width": 1600, "height": 1200}
    assert receipt.remote_id.startswith("at://did:plc:")
    assert receipt.url.endswith("/post/" + tid_for("tandem-delivery-1"))


def test_facets_use_utf8_byte_offsets_after_accents_and_emoji():
    text = "Été 🌞 à Liège: https://liege.be/été ok"
    (facet,) = link_facets(text)
    assert facet["index"]["byteStart"] == len("Été 🌞 à Liège: ".encode())
    assert text.encode()[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode() == "https://liege.be/été"


def test_tid_is_valid_and_stable():
    tid = tid_for("tandem-delivery-42")
    assert tid == tid_for("tandem-delivery-42") != tid_for("tandem-delivery-43")
    assert len(tid) == 13
    assert tid[0] in "234567abcdefghij"
    assert set(tid) <= set("234567abcdefghijklmnopqrstuvwxyz")


def test_session_is_reused_and_refreshed_when_expired(bluesky):
    fake, adapter = bluesky
    adapter.publish(Post(text="Un", language="fr"), "k1")
    adapter.publish(Post(text="Deux", language="fr"), "k2")
    assert fake.sessions_created == 1

    fake.expire_sessions()
    adapter.publish(Post(text="Trois", language="fr"), "k3")

    assert fake.sessions_created == 1  # refreshed, not logged in again
    assert len(fake.records) == 3


def test_retry_after_unknown_outcome_finds_the_existing_record(bluesky):
    fake, adapter = bluesky
    post = Post(text="Alerte inondation", language="fr")
    first = adapter.publish(post, "tandem-delivery-9")

    again = adapter.publish(post, "tandem-delivery-9")

    assert again.remote_id == first.remote_id
    assert len(fake.records) == 1


def test_reply_carries_root_and_parent(bluesky):
    fake, adapter = bluesky
    original = adapter.publish(Post(text="Alerte", language="fr"), "k-root")
    update = adapter.publish(Post(text="Mise à jour", language="fr", reply_to=original), "k-up")
    all_clear = adapter.publish(Post(text="Fin d'alerte", language="fr", reply_to=update), "k-end")

    record = next(r["value"] for r in fake.records.values() if r["uri"] == all_clear.remote_id)
    assert record["reply"]["root"]["uri"] == original.remote_id
    assert record["reply"]["parent"]["uri"] == update.remote_id


def test_check_counts_graphemes_and_bytes():
    channel = type("C", (), {"config": {}, "pk": 1})()
    adapter = BlueskyAdapter(channel)  # type: ignore[arg-type]
    family = "👨‍👩‍👧"  # one grapheme, 18 bytes
    assert adapter.check(Post(text=family * 166, language="nl")) == []  # 166 graphemes, 2988 bytes
    assert [p.message for p in adapter.check(Post(text=family * 167, language="nl"))] == ["3006/3000 bytes"]
    assert [p.message for p in adapter.check(Post(text="e\u0301" * 301, language="nl"))] == ["301/300 characters"]


def test_alt_text_is_required(bluesky, stored_image):
    _fake, adapter = bluesky
    post = Post(text="Photo", language="fr", images=(stored_image(alt=""),))
    assert [p.code for p in adapter.check(post)] == ["alt_missing"]
    with pytest.raises(PermanentError, match="no alt text"):
        adapter.publish(post, "k-alt")


def test_wrong_app_password_is_an_auth_error(bluesky, make_channel):
    fake, _adapter = bluesky
    channel = make_channel("bluesky", config={"pds_url": fake.url, "identifier": HANDLE}, secret="wrong-password")
    with pytest.raises(AuthError, match="Invalid identifier or password"):
        BlueskyAdapter(channel).publish(Post(text="x", language="fr"), "k")


def test_rate_limit_honours_retry_after(bluesky):
    fake, adapter = bluesky
    adapter.publish(Post(text="warm up", language="fr"), "k0")
    fake.rate_limit_next(seconds=42)
    with pytest.raises(RateLimited) as caught:
        adapter.publish(Post(text="x", language="fr"), "k")
    assert caught.value.retry_after == 42


def test_blob_over_the_limit_is_rendered_smaller(bluesky, stored_image):
    fake, adapter = bluesky
    adapter.publish(Post(text="Grande photo", language="fr", images=(stored_image(4000, 3000),)), "k-big")
    (blob,) = fake.blobs.values()
    assert blob["size"] <= 1_000_000


def test_retract_deletes_the_record(bluesky):
    fake, adapter = bluesky
    receipt = adapter.publish(Post(text="Oups", language="fr"), "k-del")
    adapter.retract(receipt)
    assert fake.records == {}


def test_revoked_app_password_is_an_auth_error(bluesky):
    fake, adapter = bluesky
    adapter.publish(Post(text="avant", language="fr"), "k1")
    fake.expire_token()
    with pytest.raises(AuthError):
        adapter.publish(Post(text="après", language="fr"), "k2")


def test_a_failed_token_refresh_is_counted_and_a_successful_one_is_not(bluesky):
    fake, adapter = bluesky
    adapter.publish(Post(text="avant", language="fr"), "k1")
    with Delta("tandem_token_refresh_failures_total", network="bluesky") as refreshed:
        fake.expire_sessions()
        adapter.publish(Post(text="rafraîchi", language="fr"), "k2")
    assert refreshed.value == 0
    with Delta("tandem_token_refresh_failures_total", network="bluesky") as revoked:
        fake.expire_token()  # the refresh token goes too: refreshing fails, then logging in
        with pytest.raises(AuthError):
            adapter.publish(Post(text="après", language="fr"), "k3")
    assert revoked.value == 1
