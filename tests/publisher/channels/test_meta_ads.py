import json
from datetime import UTC, datetime

import pytest

from publisher.channels.base import AuthError, PermanentError
from publisher.channels.meta_ads import MetaAds, PromotionSpec, minor_units, review_reason

TOKEN = "EAAB-page-token-secret"
SHARED = {"geo_locations": {"zips": [{"key": "BE:1050"}, {"key": "BE:1000"}]}, "locales": [1003]}
HOME = {"geo_locations": {"zips": [{"key": "BE:5000"}]}}


@pytest.fixture
def ads(fake_meta_ads, make_channel):
    fake_meta_ads.token = TOKEN
    channel = make_channel(
        "facebook",
        config={
            "graph_url": f"{fake_meta_ads.url}/v21.0",
            "page_id": fake_meta_ads.page_id,
            "ad_account_id": "1234567890",
            "dsa_beneficiary": "Zone de police Bruxelles-Capitale/Ixelles",
            "dsa_payor": "Zone de police Bruxelles-Capitale/Ixelles",
        },
        secret=TOKEN,
    )
    post_id = f"{fake_meta_ads.page_id}_42"
    fake_meta_ads.posts[post_id] = {"message": "Prévention cambriolages", "media": []}
    return fake_meta_ads, MetaAds(channel), post_id


def spec(post_id, *, budget_minor=2000, days=7, targetings=(SHARED,), network="facebook"):
    return PromotionSpec(
        name="Tandem #1 fr",
        network=network,
        post_id=post_id,
        budget_minor=budget_minor,
        starts_at=datetime(2026, 12, 2, 8, tzinfo=UTC),
        ends_at=datetime(2026, 12, 2 + days, 8, tzinfo=UTC),
        targetings=list(targetings),
    )


def test_promotion_is_created_paused_from_the_existing_post(ads):
    fake, client, post_id = ads
    ids = client.promotion_create(spec(post_id))
    campaign = fake.campaigns[ids.campaign_id]
    assert campaign["objective"] == "OUTCOME_AWARENESS"
    assert campaign["special_ad_categories"] == []
    assert campaign["lifetime_budget"] == 2000
    (adset_id,) = ids.adset_ids
    adset = fake.adsets[adset_id]
    assert adset["targeting"]["geo_locations"]["zips"] == [{"key": "BE:1050"}, {"key": "BE:1000"}]
    assert adset["targeting"]["locales"] == [1003]
    assert adset["targeting"]["publisher_platforms"] == ["facebook"]
    assert fake.creatives[ids.creative_id]["object_story_id"] == post_id
    assert {campaign["status"], adset["status"], fake.ads[ids.ad_ids[0]]["status"]} == {"PAUSED"}
    assert fake.effective_status(ids.ad_ids[0]) == "CAMPAIGN_PAUSED"


def test_two_targets_share_the_campaign_budget(ads):
    fake, client, post_id = ads
    ids = client.promotion_create(spec(post_id, targetings=(HOME, SHARED)))
    assert len(ids.adset_ids) == len(ids.ad_ids) == 2
    home, shared = (fake.adsets[a]["targeting"] for a in ids.adset_ids)
    assert "locales" not in home
    assert shared["locales"] == [1003]
    assert {fake.ads[a]["creative_id"] for a in ids.ad_ids} == {ids.creative_id}
    assert all(fake.adsets[a]["lifetime_budget"] is None for a in ids.adset_ids)
    assert all("access_token" not in r.query for r in fake.requests)


def test_activate_then_pause_at_once(ads):
    fake, client, post_id = ads
    ids = client.promotion_create(spec(post_id))
    client.promotion_activate(ids)
    (ad_id,) = ids.ad_ids
    assert fake.effective_status(ad_id) == "PENDING_REVIEW"
    fake.review_pass(ad_id)
    assert fake.effective_status(ad_id) == "ACTIVE"
    before = len(fake.requests)
    client.promotion_pause(ids)
    assert len(fake.requests) == before + 1  # one call stops everything under the campaign
    assert fake.effective_status(ad_id) == "CAMPAIGN_PAUSED"


def test_results_and_rejection_reason(ads):
    fake, client, post_id = ads
    ids = client.promotion_create(spec(post_id, targetings=(HOME, SHARED)))
    client.promotion_activate(ids)
    fake.review_pass(ids.ad_ids[0])
    fake.deliver(ids.campaign_id, spend="12.34", reach=4100, impressions=9050)
    assert client.promotion_results(ids).effective_status == "PENDING_REVIEW"  # one ad still is
    fake.review_reject(ids.ad_ids[1], "The ad makes a claim that cannot be verified.")
    results = client.promotion_results(ids)
    assert results.effective_status == "DISAPPROVED"
    assert "cannot be verified" in results.review_feedback
    assert (results.spend_minor, results.reach, results.impressions) == (1234, 4100, 9050)


def test_budget_too_low_is_refused_and_nothing_is_left_behind(ads):
    fake, client, post_id = ads
    with pytest.raises(PermanentError, match="budget is too low.*1885272"):
        client.promotion_create(spec(post_id, budget_minor=300, days=7))
    assert fake.campaigns == {}  # the campaign made before the ad set was deleted again


def test_expired_token_is_an_auth_error_without_the_token(ads):
    fake, client, post_id = ads
    fake.expire_token()
    with pytest.raises(AuthError, match="190/463") as caught:
        client.promotion_create(spec(post_id))
    assert TOKEN not in str(caught.value)


def test_separate_ad_account_credential_wins(fake_meta_ads, make_channel):
    fake_meta_ads.token = "ads-only-token"
    fake_meta_ads.dsa_defaults = True
    channel = make_channel(
        "facebook",
        config={"graph_url": f"{fake_meta_ads.url}/v21.0", "ad_account_id": "act_1234567890"},
        secret="page-token",
        ads="ads-only-token",
    )
    fake_meta_ads.posts["1_2"] = {"message": "x", "media": []}
    ids = MetaAds(channel).promotion_create(spec("1_2"))
    assert ids.ad_ids[0] in fake_meta_ads.ads


def test_instagram_media_is_the_creative(fake_meta_ads, make_channel):
    fake_meta_ads.token = TOKEN
    fake_meta_ads.dsa_defaults = True
    fake_meta_ads.ig_media.add("17900000000000001")
    channel = make_channel(
        "instagram",
        config={
            "graph_url": f"{fake_meta_ads.url}/v21.0",
            "ig_user_id": "17841400000000000",
            "ad_account_id": "1234567890",
        },
        secret=TOKEN,
    )
    ids = MetaAds(channel).promotion_create(spec("17900000000000001", network="instagram"))
    assert fake_meta_ads.creatives[ids.creative_id]["source_instagram_media_id"] == "17900000000000001"
    assert fake_meta_ads.adsets[ids.adset_ids[0]]["targeting"]["publisher_platforms"] == ["instagram"]


def test_dry_run_builds_every_request_and_sends_none(ads):
    fake, client, post_id = ads
    client.send = False
    ids = client.promotion_create(spec(post_id))
    client.promotion_activate(ids)
    assert fake.requests == []
    paths = [(r.method, r.path) for r in client.built]
    assert paths[:4] == [
        ("POST", "act_1234567890/campaigns"),
        ("POST", "act_1234567890/adsets"),
        ("POST", "act_1234567890/adcreatives"),
        ("POST", "act_1234567890/ads"),
    ]
    assert json.loads(client.built[1].params["targeting"])["geo_locations"]["zips"][0] == {"key": "BE:1050"}


def test_helpers():
    assert minor_units("0.07") == 7
    assert minor_units(None) == 0
    assert review_reason({"global": {"Policy": "Why"}}) == "Policy: Why"
    assert review_reason(None) == ""


def test_eu_ads_name_beneficiary_and_payer(ads):
    fake, client, post_id = ads
    ids = client.promotion_create(spec(post_id))
    assert fake.adsets[ids.adset_ids[0]]["dsa_payor"] == "Zone de police Bruxelles-Capitale/Ixelles"
    client.channel.config.pop("dsa_payor")
    with pytest.raises(PermanentError, match="dsa_beneficiary and dsa_payor"):
        client.promotion_create(spec(post_id))
    fake.dsa_defaults = True  # the ad account's defaults apply
    assert client.promotion_create(spec(post_id)).ad_ids
