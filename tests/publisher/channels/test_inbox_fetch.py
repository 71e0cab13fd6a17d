"""fetch_replies of each network against its fake: cursors, paging, filtering, rate limits."""

import pytest

from publisher.channels.base import PermanentError, Post, RateLimited, Receipt
from publisher.channels.bluesky import BlueskyAdapter
from publisher.channels.facebook import FacebookAdapter
from publisher.channels.instagram import InstagramAdapter
from publisher.channels.mastodon import _INSTANCE_CACHE, MastodonAdapter, status_text
from publisher.channels.outbox import OutboxAdapter
from publisher.channels.telegram import TelegramAdapter
from publisher.channels.x import XAdapter

TOKEN = "mastodon-inbox-token"
HANDLE = "zone-inbox.bsky.social"
PASSWORD = "app-pass-inbox"


@pytest.fixture
def mastodon(fake_mastodon, make_channel):
    _INSTANCE_CACHE.clear()
    fake_mastodon.add_token(TOKEN)
    channel = make_channel("mastodon", config={"base_url": fake_mastodon.url}, secret=TOKEN, language="fr")
    return fake_mastodon, MastodonAdapter(channel)


@pytest.fixture
def bluesky(fake_bluesky, make_channel):
    fake_bluesky.add_account(HANDLE, PASSWORD)
    channel = make_channel("bluesky", config={"pds_url": fake_bluesky.url, "identifier": HANDLE}, secret=PASSWORD)
    return fake_bluesky, BlueskyAdapter(channel)


def drain(adapter, cursor=None, *, pages=50):
    """Every page until the cursor stops moving: (items in order, final cursor, pages read)."""
    items, count = [], 0
    while count < pages:
        page, after = adapter.fetch_replies(cursor)
        count += 1
        items += page
        if after == (cursor or {}):
            break
        cursor = after
    return items, cursor, count


def test_status_html_becomes_the_text_typed():
    assert status_text("<p>Hello &amp; <br>bye</p><p>next</p>") == "Hello & \nbye\n\nnext"


def test_mastodon_first_fetch_reads_the_newest_page_then_only_what_is_new(mastodon):
    fake, adapter = mastodon
    ours = adapter.publish(Post(text="Appel à témoins", language="fr"), "k-1")
    fake.add_notification("mention", acct="old@example.social", text="avant")
    fake.add_notification("favourite", acct="fan@example.social")

    items, cursor, _pages = drain(adapter)

    assert [i.author_handle for i in items] == ["@old@example.social"]  # the favourite is not read
    fake.add_notification(
        "mention", acct="alice@example.social", text="J'ai vu une voiture rouge", in_reply_to=ours.remote_id
    )
    fake.add_notification("mention", acct="bob@example.social", text="@zone bonjour")

    new, cursor, _pages = drain(adapter, cursor)

    assert [i.author_handle for i in new] == ["@alice@example.social", "@bob@example.social"]
    reply = new[0]
    assert reply.kind == "reply"
    assert reply.answers == (ours.remote_id,)
    assert reply.text.endswith("J'ai vu une voiture rouge")
    assert reply.url.startswith("https://example.social/@alice/")
    assert new[1].kind == "mention"
    requests = fake.requests_to(r"/api/v1/notifications$")
    assert requests[-1].query["types[]"] == ["mention"]
    assert all("min_id" in r.query for r in requests[1:])
    assert drain(adapter, cursor)[0] == []


def test_mastodon_pages_forward_with_min_id_without_gap_or_repeat(mastodon):
    fake, adapter = mastodon
    fake.add_notification("mention", text="start")
    _items, cursor, _pages = drain(adapter)
    texts = [f"message {n}" for n in range(200)]
    for text in texts:
        fake.add_notification("mention", text=text)

    items, _cursor, pages = drain(adapter, cursor)

    assert [i.text.split(" ", 1)[1] for i in items] == texts  # oldest first, each once
    assert pages == 4  # 80 + 80 + 40, then an empty page says "nothing more"


def test_mastodon_rate_limit_is_typed_with_the_reset_time(mastodon):
    fake, adapter = mastodon
    fake.rate_limit_remaining = 0

    with pytest.raises(RateLimited) as caught:
        adapter.fetch_replies(None)

    assert caught.value.retry_after is not None
    assert 100 < caught.value.retry_after <= 120


def test_bluesky_walks_down_to_what_it_saw_last_time(bluesky):
    fake, adapter = bluesky
    ours = adapter.publish(Post(text="Getuigenoproep", language="nl"), "k-bsky")
    parent = {"uri": ours.extra["uri"], "cid": ours.extra["cid"]}
    fake.add_notification("reply", handle="early.bsky.social", text="eerste", parent=parent)

    first, cursor, _pages = drain(adapter)
    assert [i.text for i in first] == ["eerste"]

    fake.add_notification("like", handle="fan.bsky.social", parent=parent)
    for n in range(230):
        fake.add_notification("reply", handle="w.bsky.social", text=f"reply {n}", parent=parent)
    fake.add_notification("mention", handle="m.bsky.social", text="@zone hallo")
    fake.add_notification("quote", handle="q.bsky.social", text="kijk", parent=parent)

    items, cursor, pages = drain(adapter, cursor)

    texts = [i.text for i in items]
    assert sorted(texts) == sorted([f"reply {n}" for n in range(230)] + ["@zone hallo", "kijk"])
    assert len({i.remote_id for i in items}) == len(items)
    assert pages == 4  # 100 + 100 + 32 down to "eerste", then one look at the top
    reply = next(i for i in items if i.text == "reply 0")
    assert reply.answers == (ours.remote_id, ours.remote_id)
    assert reply.thread["root_uri"] == ours.extra["uri"]
    quote = next(i for i in items if i.kind == "quote")
    assert quote.answers == (ours.remote_id,)
    request = fake.requests_to(r"listNotifications$")[-1]
    assert request.query["reasons"] == ["reply", "mention", "quote"]
    assert request.query["limit"] == ["100"]


def test_bluesky_walk_stopped_half_way_resumes_at_its_next_page(bluesky):
    fake, adapter = bluesky
    fake.add_notification("mention", text="first")
    _first, cursor, _pages = drain(adapter)
    for n in range(150):
        fake.add_notification("mention", text=f"m{n}")

    page_one, halfway = adapter.fetch_replies(cursor)
    assert halfway["walk"]  # not finished: the next page's cursor is kept
    fake.add_notification("mention", text="arrived during the outage")
    rest, cursor, _pages = drain(adapter, halfway)

    texts = [i.text for i in page_one + rest]
    assert sorted(texts) == sorted([f"m{n}" for n in range(150)] + ["arrived during the outage"])
    assert len(texts) == len(set(texts))


def test_bluesky_rate_limit_carries_retry_after(bluesky):
    fake, adapter = bluesky
    adapter.fetch_replies(None)  # logs in
    fake.rate_limit_next(seconds=42)

    with pytest.raises(RateLimited) as caught:
        adapter.fetch_replies(None)

    assert caught.value.retry_after == 42


def test_a_network_without_an_inbox_says_so(make_channel, tmp_path):
    adapter = OutboxAdapter(make_channel("outbox", config={"path": str(tmp_path)}))

    assert not adapter.supports_inbox
    with pytest.raises(PermanentError):
        adapter.fetch_replies(None)


TELEGRAM_TOKEN = "123456:inbox-bot-token"
GROUP = -1001234567890


@pytest.fixture
def telegram(fake_telegram, make_channel):
    fake_telegram.tokens.add(TELEGRAM_TOKEN)
    fake_telegram.chats.update({"@politie_zone", str(GROUP)})
    channel = make_channel(
        "telegram",
        config={
            "api_url": fake_telegram.url,
            "chat_id": "@politie_zone",
            "chat_username": "politie_zone",
            "discussion_chat_id": str(GROUP),
        },
        secret=TELEGRAM_TOKEN,
        language="nl",
    )
    return fake_telegram, TelegramAdapter(channel)


def test_telegram_reads_comments_from_the_discussion_group_and_answers_there(telegram):
    fake, adapter = telegram
    ours = adapter.publish(Post(text="Getuigenoproep: wie zag iets?", language="nl"), "k-tg")
    mirror = fake.mirror(int(ours.remote_id), channel_chat_id=-100999, group_chat_id=GROUP)
    fake.add_comment(GROUP, "Ik zag een grijze Golf", reply_to=mirror, username="jan")
    fake.add_comment(-100777, "another group the bot is in")

    items, cursor, pages = drain(adapter)

    (comment,) = items
    assert comment.author_handle == "@jan"
    assert comment.answers == (ours.remote_id,)
    assert comment.kind == "comment"
    assert comment.url == f"https://t.me/politie_zone/{ours.remote_id}?comment={comment.remote_id}"
    assert pages == 2
    assert fake.updates == []  # confirmed by the second call's offset: Telegram forgets them
    receipt = adapter.publish(
        Post(
            text="Dank u, we nemen contact op.",
            language="nl",
            reply_to=Receipt(comment.remote_id, extra=comment.thread),
        ),
        "k-answer",
    )
    sent = fake.messages[int(receipt.remote_id)]
    assert sent["chat"]["id"] == GROUP
    assert sent["reply_to"] == int(comment.remote_id)


def test_telegram_offset_moves_only_past_what_was_returned(telegram):
    fake, adapter = telegram
    for n in range(150):
        fake.add_comment(GROUP, f"comment {n}")

    first, after_first = adapter.fetch_replies(None)
    again, _ = adapter.fetch_replies(None)  # the first page was never confirmed: read again
    rest, cursor, _pages = drain(adapter, after_first)

    assert len(first) == 100
    assert [i.text for i in again] == [i.text for i in first]
    assert [i.text for i in first + rest] == [f"comment {n}" for n in range(150)]


def test_telegram_without_a_discussion_group_has_no_inbox(fake_telegram, make_channel):
    channel = make_channel("telegram", config={"api_url": fake_telegram.url, "chat_id": "@x"}, secret=TELEGRAM_TOKEN)

    with pytest.raises(PermanentError):
        TelegramAdapter(channel).fetch_replies(None)


def test_telegram_flood_wait_is_a_rate_limit(telegram):
    fake, adapter = telegram
    fake.flood_next(seconds=33)

    with pytest.raises(RateLimited) as caught:
        adapter.fetch_replies(None)

    assert caught.value.retry_after == 33


FB_TOKEN = "EAAB-page-token"


@pytest.fixture
def facebook(fake_facebook, make_channel):
    fake_facebook.token = FB_TOKEN
    channel = make_channel(
        "facebook",
        config={"page_id": fake_facebook.page_id, "graph_url": f"{fake_facebook.url}/v21.0"},
        secret=FB_TOKEN,
    )
    return fake_facebook, FacebookAdapter(channel)


def test_facebook_reads_new_comments_on_each_watched_post(facebook):
    fake, adapter = facebook
    first = adapter.publish(Post(text="Appel à témoins", language="fr"), "k-fb-1").remote_id
    second = adapter.publish(Post(text="Marché de Noël", language="fr"), "k-fb-2").remote_id
    comment = fake.add_comment(first, "J'ai vu une Golf grise", name="Marie Dupont")
    fake.add_comment(comment, "Moi aussi", name="Paul Martin")
    adapter.publish(Post(text="Merci", language="fr", reply_to=Receipt(comment)), "k-fb-answer")  # the Page's own
    for n in range(120):
        fake.add_comment(second, f"commentaire {n}")

    items, cursor, pages = drain(adapter, {"watch": [first, second]})

    assert [i.text for i in items[:2]] == ["J'ai vu une Golf grise", "Moi aussi"]
    assert items[0].author_handle == "Marie Dupont"
    assert items[0].answers == (first,)
    assert items[1].answers == (comment, first)
    assert [i.text for i in items[2:]] == [f"commentaire {n}" for n in range(120)]
    assert pages == 3  # 100 on the second post, then the last 20, then nothing new anywhere
    request = fake.requests_to(r"/comments$")[-1]
    assert request.query["filter"] == ["stream"]
    assert request.query["order"] == ["chronological"]
    fake.add_comment(first, "Encore une info")
    new, _cursor, _pages = drain(adapter, cursor)
    assert [i.text for i in new] == ["Encore une info"]


def test_facebook_rate_limit_after_some_posts_keeps_what_was_read(facebook):
    fake, adapter = facebook
    first = adapter.publish(Post(text="Un", language="fr"), "k-fb-a").remote_id
    second = adapter.publish(Post(text="Deux", language="fr"), "k-fb-b").remote_id
    fake.add_comment(first, "sur le premier")
    fake.add_comment(second, "sur le second")
    fake.rate_limit_next(minutes=12)

    with pytest.raises(RateLimited) as caught:
        adapter.fetch_replies({"watch": [first, second]})
    assert caught.value.retry_after == 720

    items, cursor = adapter.fetch_replies({"watch": [first, second]})
    assert [i.text for i in items] == ["sur le premier", "sur le second"]
    fake.add_comment(first, "encore sur le premier")
    fake.add_comment(second, "encore sur le second")
    fake.fail_next(400, {"error": {"message": "(#80001) Too many calls", "code": 80001}}, path=f"{second}/comments$")

    partial_items, partial = adapter.fetch_replies(cursor)

    assert [i.text for i in partial_items] == ["encore sur le premier"]
    assert partial["posts"][first] != cursor["posts"][first]
    assert partial["posts"][second] == cursor["posts"][second]
    rest, _after = adapter.fetch_replies(partial)
    assert [i.text for i in rest] == ["encore sur le second"]


X_TOKEN = "x-user-token"


@pytest.fixture
def x(fake_x, make_channel):
    fake_x.token = X_TOKEN
    channel = make_channel(
        "x", config={"api_url": fake_x.url, "username": "politie", "user_id": fake_x.user_id}, secret=X_TOKEN
    )
    return fake_x, XAdapter(channel)


def test_x_mentions_walk_down_to_since_id_and_resume_half_way(x):
    fake, adapter = x
    _nothing, cursor, _pages = drain(adapter)  # nothing yet: from now on everything is new
    assert "start_time" in cursor
    ours = adapter.publish(Post(text="Getuigenoproep", language="nl"), "k-x").remote_id
    fake.add_mention("Ik zag iets", username="getuige", reply_to=ours)
    for n in range(150):
        fake.add_mention(f"@politie vraag {n}")

    page_one, halfway = adapter.fetch_replies(cursor)
    assert halfway["walk"]
    fake.add_mention("tijdens de onderbreking")
    rest, cursor, _pages = drain(adapter, halfway)
    later, cursor, _pages = drain(adapter, cursor)

    texts = [i.text for i in page_one + rest + later]
    expected = ["Ik zag iets", "tijdens de onderbreking"] + [f"@politie vraag {n}" for n in range(150)]
    assert sorted(texts) == sorted(expected)
    assert len(texts) == len(set(texts))
    witness = next(i for i in page_one + rest if i.text == "Ik zag iets")
    assert witness.answers == (ours, ours)
    assert witness.kind == "reply"
    assert witness.author_handle == "@getuige"
    assert witness.url == f"https://x.com/getuige/status/{witness.remote_id}"
    assert drain(adapter, cursor)[0] == []


def test_x_rate_limit_carries_the_reset(x):
    fake, adapter = x
    fake.rate_limit_next()

    with pytest.raises(RateLimited) as caught:
        adapter.fetch_replies(None)

    assert caught.value.retry_after is not None
    assert 590 <= caught.value.retry_after <= 600


def test_facebook_figures_reactions_comments_shares_and_reach(facebook):
    fake, adapter = facebook
    receipt = adapter.publish(Post(text="Appel à témoins", language="fr"), "k-fb-m")
    fake.posts[receipt.remote_id].update(reactions=17, shares=4, reach=1250)
    fake.add_comment(receipt.remote_id, "Vu !")

    assert adapter.fetch_metrics(receipt) == {"likes": 17, "replies": 1, "reposts": 4, "reach": 1250}
    fake.posts[receipt.remote_id].update(insights_forbidden=True, shares=0)
    assert adapter.fetch_metrics(receipt) == {"likes": 17, "replies": 1, "reposts": 0}


def test_x_public_metrics_of_a_post(x):
    fake, adapter = x
    receipt = adapter.publish(Post(text="Getuigenoproep", language="nl"), "k-x-m")
    fake.metrics[receipt.remote_id] = {
        "like_count": 12,
        "retweet_count": 3,
        "reply_count": 2,
        "quote_count": 1,
        "bookmark_count": 5,
        "impression_count": 840,
    }

    assert adapter.fetch_metrics(receipt) == {"likes": 12, "reposts": 3, "replies": 2, "quotes": 1, "views": 840}
    request = fake.requests_to(r"/2/tweets$")[-1]
    assert request.query["ids"] == [receipt.remote_id]
    assert request.query["tweet.fields"] == ["public_metrics"]
    # Without impression_count (older posts, some access levels) there is no views figure, not a 0.
    del fake.metrics[receipt.remote_id]["impression_count"]
    assert "views" not in adapter.fetch_metrics(receipt)


def test_x_metrics_of_a_deleted_post_are_gone_and_a_rate_limit_is_typed(x):
    fake, adapter = x
    receipt = adapter.publish(Post(text="Weg", language="nl"), "k-x-gone")
    adapter.retract(receipt)

    with pytest.raises(PermanentError, match="Could not find tweet"):
        adapter.fetch_metrics(receipt)
    fake.rate_limit_next()
    with pytest.raises(RateLimited) as caught:
        adapter.fetch_metrics(receipt)
    assert 590 <= caught.value.retry_after <= 600


IG_TOKEN = "IGQV-user-token"


@pytest.fixture
def instagram(fake_instagram, make_channel):
    fake_instagram.token = IG_TOKEN
    channel = make_channel(
        "instagram",
        config={
            "ig_user_id": fake_instagram.user_id,
            "username": fake_instagram.username,
            "graph_url": f"{fake_instagram.url}/v21.0",
        },
        secret=IG_TOKEN,
    )
    return fake_instagram, InstagramAdapter(channel)


def test_instagram_reads_comments_and_their_answers_on_each_watched_media(instagram):
    fake, adapter = instagram
    appeal, market = fake.add_media(), fake.add_media()
    comment = fake.add_comment(appeal, "J'ai vu une Golf grise", username="marie.dupont")
    fake.add_comment(comment, "Moi aussi, vers midi", username="paul.martin")
    adapter.publish(Post(text="Merci", language="fr", reply_to=Receipt(comment, extra={"ig_comment": comment})), "k")
    for n in range(120):
        fake.add_comment(market, f"commentaire {n}")

    items, cursor, pages = drain(adapter, {"watch": [appeal, market]})

    first, answer = items[0], items[1]
    assert (first.text, first.author_handle, first.answers, first.kind) == (
        "J'ai vu une Golf grise",
        "@marie.dupont",
        (appeal,),
        "comment",
    )
    assert (answer.text, answer.answers, answer.thread) == (
        "Moi aussi, vers midi",
        (comment, appeal),
        {"ig_comment": comment},
    )
    assert "Merci" not in [i.text for i in items]  # our own answer
    assert sorted(i.text for i in items[2:]) == sorted(f"commentaire {n}" for n in range(120))
    assert len({i.remote_id for i in items}) == len(items)
    assert pages == 4  # 50 + 50 + 20 on the second media, then nothing new anywhere
    request = fake.requests_to(r"/comments$")[-1]
    assert request.query["fields"] == ["id,text,timestamp,username,replies{id,text,timestamp,username}"]
    assert request.query["limit"] == ["50"]
    fake.add_comment(appeal, "Encore une info")
    fake.add_comment(comment, "Et une réponse tardive")
    new, _cursor, _pages = drain(adapter, cursor)
    assert sorted(i.text for i in new) == ["Encore une info", "Et une réponse tardive"]


def test_instagram_walk_stopped_by_a_rate_limit_resumes_without_duplicates_or_gaps(instagram):
    fake, adapter = instagram
    media = fake.add_media()
    for n in range(120):
        fake.add_comment(media, f"commentaire {n}")
    page_one, halfway = adapter.fetch_replies({"watch": [media]})
    assert halfway["media"][media]["walk"]["after"]
    fake.rate_limit_next(minutes=12)

    with pytest.raises(RateLimited) as caught:
        adapter.fetch_replies(halfway)
    assert caught.value.retry_after == 720
    fake.add_comment(media, "pendant la coupure")
    rest, cursor, _pages = drain(adapter, halfway)
    later, cursor, _pages = drain(adapter, cursor)

    texts = [i.text for i in page_one + rest + later]
    assert sorted(texts) == sorted([f"commentaire {n}" for n in range(120)] + ["pendant la coupure"])
    assert len(texts) == len(set(texts))
    assert [r.query.get("after") for r in fake.requests_to(r"/comments$")][1:3] == [
        [halfway["media"][media]["walk"]["after"]]
    ] * 2  # the page refused, then the same page again: the first was never read twice
    assert drain(adapter, cursor)[0] == []


def test_instagram_answer_goes_under_the_top_level_comment(instagram):
    fake, adapter = instagram
    media = fake.add_media()
    comment = fake.add_comment(media, "Quand la rue rouvre-t-elle ?")
    answer = fake.add_comment(comment, "Oui, quand ?")

    receipt = adapter.publish(
        Post(text="Lundi matin.", language="fr", reply_to=Receipt(answer, extra={"ig_comment": comment})), "k-a"
    )

    assert fake.requests_to(rf"/{comment}/replies$")
    assert fake.comments[receipt.remote_id]["parent"] == comment
    assert fake.comments[receipt.remote_id]["message"] == "Lundi matin."
    follow_up = adapter.publish(Post(text="Rue rouverte.", language="fr", reply_to=Receipt(media)), "k-f")
    assert fake.comments[follow_up.remote_id]["parent"] is None  # a follow-up: a comment on the post


def test_instagram_figures_likes_comments_and_insights_where_allowed(instagram):
    fake, adapter = instagram
    media = fake.add_media(likes=31, reach=900, views=1400)
    comment = fake.add_comment(media, "Bravo")
    fake.add_comment(comment, "Oui")

    assert adapter.fetch_metrics(Receipt(media)) == {"likes": 31, "replies": 2, "reach": 900, "views": 1400}
    assert fake.requests_to(r"/insights$")[-1].query["metric"] == ["reach,views"]
    del fake.media[media]["views"]  # not ready yet: an empty entry, never a 0
    assert adapter.fetch_metrics(Receipt(media)) == {"likes": 31, "replies": 2, "reach": 900}
    fake.media[media]["insights_forbidden"] = True
    assert adapter.fetch_metrics(Receipt(media)) == {"likes": 31, "replies": 2}
