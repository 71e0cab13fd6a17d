"""Paid promotions: proposal per language, four eyes on the spend, limits, stop, retract,
and the results read back, against the fake Marketing API."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from publisher.errors import NotAllowed, ValidationError
from publisher.models import AuditEvent, Boost, BoostState, Channel, Message, MessageState, MessageStatus
from publisher.workflow import boosts
from publisher.workflow.retraction import message_retract
from tests.factories import UserFactory
from tests.fakes.fixtures import *  # noqa: F403 - the fake-network fixtures
from tests.publisher.newsroom_support import message_with_deliveries

TOKEN = "EAAB-page-token-secret"
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
IXELLES = "21009"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def proposer(roles):
    # An author who is also an approver: the four-eyes rule must still hold for the spend.
    return UserFactory(username="proposer", roles=["author", "approver"])


@pytest.fixture
def world(fake_meta_ads, make_channel, proposer):
    fake = fake_meta_ads
    fake.token = TOKEN
    config = {
        "graph_url": f"{fake.url}/v21.0",
        "page_id": fake.page_id,
        "ad_account_id": "1234567890",
        "dsa_beneficiary": "Zone de police Bruxelles-Capitale/Ixelles",
        "dsa_payor": "Commune d'Ixelles",
    }
    channels = {lang: make_channel("facebook", config=config, secret=TOKEN, language=lang) for lang in ("fr", "nl")}
    message, deliveries = message_with_deliveries(
        author=proposer,
        due_at=NOW - timedelta(hours=1),
        routes=[(channels["fr"], "sent"), (channels["nl"], "sent")],
        state=MessageState.PUBLISHED,
        approved_audience=[IXELLES],
    )
    message.audience_municipalities.set([IXELLES])
    for index, delivery in enumerate(deliveries):
        delivery.remote_id = f"{fake.page_id}_{500 + index}"
        delivery.save(update_fields=["remote_id"])
        fake.posts[delivery.remote_id] = {"message": delivery.language, "media": []}
    return fake, message, channels


def ask(**budgets):
    return boosts.BoostRequest(
        network="facebook",
        budgets={lang: Decimal(amount) for lang, amount in budgets.items()},
        starts_at=NOW + timedelta(hours=1),
        ends_at=NOW + timedelta(days=7),
        age_min=18,
        age_max=None,
    )


def propose(message, actor, django_capture_on_commit_callbacks, **budgets):
    with django_capture_on_commit_callbacks(execute=True):
        return boosts.message_boost_propose(message=message, request=ask(**budgets), actor=actor)


def test_brussels_message_gets_one_paused_promotion_per_language(world, proposer, django_capture_on_commit_callbacks):
    fake, message, _channels = world
    made = propose(message, proposer, django_capture_on_commit_callbacks, fr="20", nl="15.50")
    rows = {b.language: b for b in Boost.objects.filter(pk__in=[b.pk for b in made])}
    assert {lang: b.state for lang, b in rows.items()} == {"fr": BoostState.PROPOSED, "nl": BoostState.PROPOSED}
    assert rows["nl"].budget_minor == 1550
    for language, locales in (("fr", [1003]), ("nl", [14, 83])):
        (adset_id,) = rows[language].adset_ids  # Brussels only: one target, with language targeting
        adset = fake.adsets[adset_id]
        assert adset["targeting"]["geo_locations"]["zips"] == [{"key": "BE:1050"}]
        assert adset["targeting"]["locales"] == locales
        assert adset["targeting"]["age_min"] == 18
        assert adset["start_time"] == "2026-12-01T11:00:00+01:00"  # Brussels time
        assert fake.effective_status(rows[language].ad_ids[0]) == "CAMPAIGN_PAUSED"
        assert fake.creatives[rows[language].creative_id]["object_story_id"] == rows[language].delivery.remote_id
    proposed = AuditEvent.objects.filter(verb="boost.proposed", object_id=str(message.pk))
    assert {e.summary["budget"] for e in proposed} == {"20.00 EUR", "15.50 EUR"}
    assert all(e.summary["postal_codes"] == ["1050"] for e in proposed)


def test_the_proposer_never_approves_the_spend(world, proposer, approver, django_capture_on_commit_callbacks):
    fake, message, _channels = world
    (boost,) = propose(message, proposer, django_capture_on_commit_callbacks, fr="20")
    boost.refresh_from_db()
    with pytest.raises(NotAllowed):
        boosts.boost_approve(boost=boost, actor=proposer)
    with pytest.raises(NotAllowed):
        boosts.boost_approve(boost=boost, actor=UserFactory(username="writer2", roles=["author"]))
    assert fake.effective_status(boost.ad_ids[0]) == "CAMPAIGN_PAUSED"
    with django_capture_on_commit_callbacks(execute=True):
        boosts.boost_approve(boost=boost, actor=approver)
    boost.refresh_from_db()
    assert boost.state == BoostState.ACTIVE
    assert boost.approved_by == approver
    assert fake.effective_status(boost.ad_ids[0]) == "PENDING_REVIEW"
    approved = AuditEvent.objects.get(verb="boost.approved")
    assert approved.actor == approver
    assert approved.summary["budget"] == "20.00 EUR"
    assert approved.summary["postal_codes"] == ["1050"]
    assert approved.summary["language_targeting"] == [1003]


def test_monthly_budget_refused_beyond_and_nothing_half_made(
    world, proposer, settings, django_capture_on_commit_callbacks
):
    fake, message, _channels = world
    settings.TANDEM_BOOST_MONTHLY_BUDGET_EUR = 50
    propose(message, proposer, django_capture_on_commit_callbacks, fr="30")
    with pytest.raises(ValidationError, match="already committed"):
        propose(message, proposer, django_capture_on_commit_callbacks, fr="10", nl="15")
    assert Boost.objects.count() == 1  # the French one of the refused pair rolled back too
    assert len(fake.campaigns) == 1


def test_maximum_per_promotion(world, proposer, settings, django_capture_on_commit_callbacks):
    _fake, message, _channels = world
    settings.TANDEM_BOOST_MAX_EUR = 25
    with pytest.raises(ValidationError) as caught:
        propose(message, proposer, django_capture_on_commit_callbacks, fr="25.01")
    assert "budget_fr" in caught.value.message_dict
    assert not Boost.objects.exists()


def test_stop_pauses_at_once(world, proposer, approver, django_capture_on_commit_callbacks):
    fake, message, _channels = world
    (boost,) = propose(message, proposer, django_capture_on_commit_callbacks, fr="20")
    with django_capture_on_commit_callbacks(execute=True):
        boosts.boost_approve(boost=boost, actor=approver)
    boost.refresh_from_db()
    fake.review_pass(boost.ad_ids[0])
    with django_capture_on_commit_callbacks(execute=True):
        boosts.boost_stop(boost=boost, actor=proposer)
    assert fake.effective_status(boost.ad_ids[0]) == "CAMPAIGN_PAUSED"
    assert Boost.objects.get(pk=boost.pk).state == BoostState.STOPPED


def test_retracting_stops_the_promotions_before_deleting_the_posts(
    world, proposer, approver, django_capture_on_commit_callbacks
):
    fake, message, _channels = world
    made = propose(message, proposer, django_capture_on_commit_callbacks, fr="20", nl="20")
    for boost in made:
        with django_capture_on_commit_callbacks(execute=True):
            boosts.boost_approve(boost=boost, actor=approver)
    with django_capture_on_commit_callbacks(execute=True):
        message_retract(message=message, actor=approver, reason="Erreur de lieu")
    assert set(Boost.objects.values_list("state", flat=True)) == {BoostState.STOPPED}
    calls = [(r.method, r.path.split("/")[-1]) for r in fake.requests]
    campaigns = {Boost.objects.get(pk=b.pk).campaign_id for b in made}
    pauses = [i for i, (method, last) in enumerate(calls) if method == "POST" and last in campaigns]
    deletions = [i for i, (method, _last) in enumerate(calls) if method == "DELETE"]
    assert len(pauses) >= 2
    assert deletions
    assert max(pauses[-2:]) < min(deletions)
    assert all(fake.effective_status(Boost.objects.get(pk=b.pk).ad_ids[0]) == "CAMPAIGN_PAUSED" for b in made)


def test_results_rejection_and_completion_per_language(world, proposer, approver, django_capture_on_commit_callbacks):
    fake, message, _channels = world
    made = {b.language: b for b in propose(message, proposer, django_capture_on_commit_callbacks, fr="20", nl="20")}
    for boost in made.values():
        with django_capture_on_commit_callbacks(execute=True):
            boosts.boost_approve(boost=boost, actor=approver)
    fr, nl = (Boost.objects.get(pk=made[lang].pk) for lang in ("fr", "nl"))
    assert boosts.boost_display_state(fr) == "Running"
    assert boosts.boosts_refresh() == 2
    fr.refresh_from_db()
    assert boosts.boost_display_state(fr) == "In review at Meta"
    fake.review_pass(fr.ad_ids[0])
    fake.deliver(fr.campaign_id, spend="7.25", reach=3100, impressions=5200)
    fake.review_reject(nl.ad_ids[0], "Unverifiable claim.")
    fake.deliver(nl.campaign_id, spend="0.40", reach=80, impressions=90)
    boosts.boosts_refresh()
    fr.refresh_from_db()
    nl.refresh_from_db()
    assert (fr.state, fr.meta_status) == (BoostState.ACTIVE, "ACTIVE")
    assert nl.state == BoostState.REJECTED
    assert "Unverifiable claim." in nl.rejection_reason
    results = {r.language: r for r in boosts.message_boost_results(message)}
    assert (results["fr"].spend, results["fr"].reach, results["fr"].impressions) == (Decimal("7.25"), 3100, 5200)
    assert (results["nl"].spend_minor, results["nl"].reach) == (40, 80)
    with time_machine.travel(NOW + timedelta(days=8), tick=False):
        boosts.boosts_refresh()
    fr.refresh_from_db()
    assert fr.state == BoostState.COMPLETED


def test_exercise_builds_every_request_and_sends_none(world, proposer, approver, django_capture_on_commit_callbacks):
    fake, message, _channels = world
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.EXERCISE)
    message.refresh_from_db()
    (boost,) = propose(message, proposer, django_capture_on_commit_callbacks, fr="20")
    with django_capture_on_commit_callbacks(execute=True):
        boosts.boost_approve(boost=boost, actor=approver)
    boost.refresh_from_db()
    assert fake.requests == []
    assert boost.dry_run
    assert [r["path"].rsplit("/", 1)[-1] for r in boost.requests[:4]] == ["campaigns", "adsets", "adcreatives", "ads"]
    assert [r["params"] for r in boost.requests[4:]] == [{"status": "ACTIVE"}] * 3
    assert all(TOKEN not in str(r) for r in boost.requests)


def test_dry_run_setting(world, proposer, settings, django_capture_on_commit_callbacks):
    fake, message, _channels = world
    settings.TANDEM_BOOST_DRY_RUN = True
    (boost,) = propose(message, proposer, django_capture_on_commit_callbacks, fr="20")
    assert fake.requests == []
    assert len(Boost.objects.get(pk=boost.pk).requests) == 4


def test_expired_token_fails_the_promotion_with_its_reason(world, proposer, django_capture_on_commit_callbacks):
    fake, message, _channels = world
    fake.expire_token()
    (boost,) = propose(message, proposer, django_capture_on_commit_callbacks, fr="20")
    boost.refresh_from_db()
    assert boost.state == BoostState.FAILED
    assert "190/463" in boost.last_error
    assert TOKEN not in boost.last_error
    assert AuditEvent.objects.filter(verb="boost.failed").exists()


def test_budget_too_low_fails_with_metas_reason(world, proposer, django_capture_on_commit_callbacks):
    _fake, message, _channels = world
    (boost,) = propose(message, proposer, django_capture_on_commit_callbacks, fr="2")
    boost.refresh_from_db()
    assert boost.state == BoostState.FAILED
    assert "budget is too low" in boost.last_error


def test_only_published_messages_and_existing_posts(world, proposer, django_capture_on_commit_callbacks):
    _fake, message, channels = world
    Channel.objects.filter(pk=channels["nl"].pk).update(kind="mastodon")
    with pytest.raises(ValidationError) as caught:
        propose(message, proposer, django_capture_on_commit_callbacks, nl="10")
    assert "budget_nl" in caught.value.message_dict
    Message.objects.filter(pk=message.pk).update(state=MessageState.RETRACTED)
    with pytest.raises(ValidationError, match="published"):
        propose(message, proposer, django_capture_on_commit_callbacks, fr="10")


def test_pruning_the_delivery_history_keeps_the_promotion(world, proposer, django_capture_on_commit_callbacks):
    from publisher.models import Delivery
    from publisher.workflow.retention import history_prune

    _fake, message, _channels = world
    (boost,) = propose(message, proposer, django_capture_on_commit_callbacks, fr="20")
    post_id = Boost.objects.get(pk=boost.pk).post_id
    with time_machine.travel(NOW + timedelta(days=400), tick=False):
        history_prune(days=30)
    assert not Delivery.objects.filter(occurrence__message=message).exists()
    kept = Boost.objects.get(pk=boost.pk)
    assert kept.delivery is None
    assert kept.post_id == post_id
    assert kept.budget_minor == 2000


def test_mixed_audience_targets_everyone_in_flanders_and_dutch_readers_in_brussels(
    world, proposer, django_capture_on_commit_callbacks
):
    fake, message, _channels = world
    Message.objects.filter(pk=message.pk).update(approved_audience=[IXELLES, "44021"])  # + Gent
    message.refresh_from_db()
    made = {b.language: b for b in propose(message, proposer, django_capture_on_commit_callbacks, fr="20", nl="20")}
    nl = Boost.objects.get(pk=made["nl"].pk)
    home, shared = (fake.adsets[a]["targeting"] for a in nl.adset_ids)
    assert "locales" not in home
    assert "BE:9000" in {z["key"] for z in home["geo_locations"]["zips"]}
    assert shared["geo_locations"]["zips"] == [{"key": "BE:1050"}]
    assert shared["locales"] == [14, 83]
    assert fake.campaigns[nl.campaign_id]["lifetime_budget"] == 2000  # one budget for both
    fr = Boost.objects.get(pk=made["fr"].pk)
    assert len(fr.adset_ids) == 1  # Gent gets no French post
    assert "9000" not in fr.postal_codes
