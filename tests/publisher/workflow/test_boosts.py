"""Paid promotions: proposal per language, four eyes on the spend, limits, stop, retract,
and the results read back, against the fake Marketing API."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from publisher.delivery import tasks
from publisher.errors import NotAllowed, ValidationError
from publisher.models import (
    AdAccountWallet,
    AuditEvent,
    Boost,
    BoostState,
    Channel,
    CredentialRefused,
    Message,
    MessageState,
    MessageStatus,
)
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


def test_metas_calls_are_queued_after_the_commit_not_made_in_the_request(
    world, proposer, monkeypatch, django_capture_on_commit_callbacks
):
    fake, message, _channels = world
    queued = []
    monkeypatch.setattr(boosts.enqueue, "enqueue_boosts_remote", lambda action, ids: queued.append((action, ids)))
    calls_before = len(fake.requests)

    made = propose(message, proposer, django_capture_on_commit_callbacks, fr="20", nl="15")

    assert queued == [("create", [b.pk for b in made])]
    assert len(fake.requests) == calls_before  # nothing reached Meta from the request
    # The task does it (its path is what the worker imports).
    tasks.boosts_remote("create", [b.pk for b in made])
    assert {b.state for b in Boost.objects.filter(pk__in=[b.pk for b in made])} == {BoostState.PROPOSED}


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
    (first,) = propose(message, proposer, django_capture_on_commit_callbacks, fr="40")
    # Over, having spent 30 €: what it spent counts, and the French post may be promoted again.
    Boost.objects.filter(pk=first.pk).update(state=BoostState.COMPLETED, spend_minor=3000)
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
    # Meta's `message` is a bare "Invalid parameter": the reason is in error_user_title/_msg.
    assert "Budget Is Too Low" in boost.last_error
    assert "budget is too low" in boost.last_error
    assert "100/1885272" in boost.last_error
    assert boost.credential_refused == ""


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


# --- the monthly budget under concurrent proposals ------------------------------------------


def test_a_proposal_locks_its_ad_accounts_wallet(world, proposer, django_capture_on_commit_callbacks):
    _fake, message, _channels = world
    propose(message, proposer, django_capture_on_commit_callbacks, fr="20", nl="20")
    # One row for the one account both channels share, made on first use.
    assert list(AdAccountWallet.objects.values_list("ad_account", flat=True)) == ["1234567890"]


def _second_message_on(channel, author, fake):
    message, (delivery,) = message_with_deliveries(
        author=author,
        title="Second",
        due_at=NOW - timedelta(hours=1),
        routes=[(channel, "sent")],
        state=MessageState.PUBLISHED,
        approved_audience=["44021"],  # Gent: the Dutch post, no language targeting
    )
    delivery.remote_id = f"{fake.page_id}_900"
    delivery.save(update_fields=["remote_id"])
    fake.posts[delivery.remote_id] = {"message": "nl", "media": []}
    return message


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_channels_sharing_an_ad_account_cannot_both_pass_the_monthly_budget(world, proposer, settings, monkeypatch):
    """Two proposals at once, on different channels and messages drawing on one ad account:
    30 € + 30 € against 50 €. Each reads what is committed, then waits (up to 3 s) for the
    other to have read too: without a lock per ad account both read 0 € and both pass."""
    if connection.vendor != "postgresql":
        pytest.skip("Row locks: PostgreSQL (SQLite serialises every writer anyway).")
    fake, message, channels = world
    settings.TANDEM_BOOST_MONTHLY_BUDGET_EUR = 50
    other = _second_message_on(channels["nl"], proposer, fake)
    monkeypatch.setattr(boosts, "boosts_create_remote", lambda ids: None)  # Meta is not the point here
    both_read = threading.Barrier(2, timeout=3)
    read_committed = boosts.month_committed_minor

    def committed_then_wait(*args, **kwargs):
        total = read_committed(*args, **kwargs)
        try:
            both_read.wait()
        except threading.BrokenBarrierError:
            pass  # the other proposal waits on the lock: it reads after this one commits
        return total

    monkeypatch.setattr(boosts, "month_committed_minor", committed_then_wait)
    outcomes: dict[str, object] = {}

    def run(name, msg, language):
        try:
            request = boosts.BoostRequest(
                network="facebook",
                budgets={language: Decimal("30")},
                starts_at=NOW + timedelta(hours=1),
                ends_at=NOW + timedelta(days=7),
            )
            outcomes[name] = boosts.message_boost_propose(message=msg, request=request, actor=proposer)
        except Exception as exc:  # noqa: BLE001 - the test reads which one was refused
            outcomes[name] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("fr", message, "fr")),
        threading.Thread(target=run, args=("nl", other, "nl")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    refused = [o for o in outcomes.values() if isinstance(o, ValidationError)]
    passed = [o for o in outcomes.values() if isinstance(o, list)]
    assert len(passed) == 1, outcomes
    assert len(refused) == 1, outcomes
    assert "already committed" in str(refused[0])
    assert Boost.objects.filter(ad_account="1234567890").count() == 1


# --- a token Meta refuses -------------------------------------------------------------------


def test_expired_channel_token_flags_the_channel_for_reconnection(world, proposer, django_capture_on_commit_callbacks):
    fake, message, channels = world
    fake.expire_token()
    (boost,) = propose(message, proposer, django_capture_on_commit_callbacks, fr="20")
    boost.refresh_from_db()
    channel = Channel.objects.get(pk=channels["fr"].pk)
    assert boost.state == BoostState.FAILED
    assert boost.credential_refused == CredentialRefused.CHANNEL
    assert channel.needs_reconnect
    assert "190/463" in channel.needs_reconnect_reason
    assert TOKEN not in channel.needs_reconnect_reason
    assert "needs reconnecting" in boosts.boost_access_problem(boost)
    assert not Channel.objects.get(pk=channels["nl"].pk).needs_reconnect


def test_expired_ads_credential_leaves_the_channel_alone(
    world, proposer, make_channel, django_capture_on_commit_callbacks
):
    fake, message, channels = world
    # A separate ad-account token (<secret_ref>_ADS): it is the one Meta sees and refuses.
    ads = make_channel("facebook", config=channels["fr"].config, secret=TOKEN, language="fr", ads="EAAB-ads-secret")
    Channel.objects.filter(pk=channels["fr"].pk).update(secret_ref=ads.secret_ref)
    fake.token = "EAAB-ads-secret"
    fake.expire_token()
    (boost,) = propose(message, proposer, django_capture_on_commit_callbacks, fr="20")
    boost.refresh_from_db()
    assert boost.state == BoostState.FAILED
    assert boost.credential_refused == CredentialRefused.ADS
    assert not Channel.objects.get(pk=channels["fr"].pk).needs_reconnect
    assert "The ad account's access expired" in boosts.boost_access_problem(boost)
    assert "EAAB-ads-secret" not in boost.last_error


def test_expired_token_on_stop_and_on_the_periodic_pull(world, proposer, approver, django_capture_on_commit_callbacks):
    fake, message, channels = world
    made = propose(message, proposer, django_capture_on_commit_callbacks, fr="20", nl="20")
    for boost in made:
        with django_capture_on_commit_callbacks(execute=True):
            boosts.boost_approve(boost=boost, actor=approver)
    fr, nl = (Boost.objects.get(pk=b.pk) for b in sorted(made, key=lambda b: b.language))
    fake.expire_token()
    assert boosts.boosts_refresh() == 0
    nl.refresh_from_db()
    assert nl.credential_refused == CredentialRefused.CHANNEL
    assert Channel.objects.get(pk=channels["nl"].pk).needs_reconnect
    with django_capture_on_commit_callbacks(execute=True):
        boosts.boost_stop(boost=fr, actor=proposer)
    fr.refresh_from_db()
    assert fr.state == BoostState.STOPPED
    assert fr.credential_refused == CredentialRefused.CHANNEL
    assert "190/463" in fr.last_error
    # Reconnected: the next pull retries the pause, reads the results and clears the warnings.
    fake.token = TOKEN
    boosts.boosts_refresh()
    fr.refresh_from_db()
    nl.refresh_from_db()
    assert (fr.credential_refused, fr.last_error) == ("", "")
    assert nl.credential_refused == ""
    assert fake.effective_status(fr.ad_ids[0]) == "CAMPAIGN_PAUSED"


# --- hostile input --------------------------------------------------------------------------


def _request(**changes):
    base = {
        "network": "facebook",
        "budgets": {"fr": Decimal("20")},
        "starts_at": NOW + timedelta(hours=1),
        "ends_at": NOW + timedelta(days=7),
        "age_min": None,
        "age_max": None,
    }
    return boosts.BoostRequest(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"budgets": {"fr": Decimal("-5")}}, "budget_fr"),
        ({"budgets": {"fr": Decimal("0")}}, "budget_fr"),
        ({"budgets": {"fr": Decimal("1e12")}}, "budget_fr"),
        ({"budgets": {"fr": Decimal("NaN")}}, "budget_fr"),
        ({"budgets": {"fr": Decimal("Infinity")}}, "budget_fr"),
        ({"budgets": {}}, "budget"),
        ({"budgets": {"xx": Decimal("5")}}, "budget"),
        ({"ends_at": NOW}, "ends_at"),
        ({"ends_at": NOW + timedelta(minutes=30)}, "ends_at"),  # before the start
        ({"starts_at": NOW - timedelta(days=1)}, "starts_at"),
        ({"age_min": 12}, "age_min"),
        ({"age_max": 66}, "age_min"),
        ({"age_min": 40, "age_max": 30}, "age_min"),
        ({"age_min": 10**30}, "age_min"),
        ({"network": "mastodon"}, "network"),
    ],
)
def test_hostile_requests_are_clear_errors_and_save_nothing(world, proposer, changes, field):
    fake, message, _channels = world
    with pytest.raises(ValidationError) as caught:
        boosts.message_boost_propose(message=message, request=_request(**changes), actor=proposer)
    assert field in caught.value.message_dict
    assert not Boost.objects.exists()
    assert not AuditEvent.objects.filter(verb="boost.proposed").exists()
    assert fake.requests == []


def test_a_start_typed_minutes_ago_still_means_now(world, proposer, django_capture_on_commit_callbacks):
    _fake, message, _channels = world
    with django_capture_on_commit_callbacks(execute=True):
        (boost,) = boosts.message_boost_propose(
            message=message, request=_request(starts_at=NOW - timedelta(minutes=5)), actor=proposer
        )
    assert Boost.objects.get(pk=boost.pk).state == BoostState.PROPOSED


def test_a_second_boost_of_a_post_under_way_is_refused(world, proposer, django_capture_on_commit_callbacks):
    """A double submit (or two people at once) would double the spend."""
    fake, message, _channels = world
    propose(message, proposer, django_capture_on_commit_callbacks, fr="20")
    with pytest.raises(ValidationError) as caught:
        propose(message, proposer, django_capture_on_commit_callbacks, fr="20", nl="10")
    assert "budget_fr" in caught.value.message_dict
    assert Boost.objects.count() == 1  # the Dutch one of the refused pair is not made either
    assert len(fake.campaigns) == 1
    (first,) = Boost.objects.all()
    with django_capture_on_commit_callbacks(execute=True):
        boosts.boost_stop(boost=first, actor=proposer)
    propose(message, proposer, django_capture_on_commit_callbacks, fr="20")  # stopped: allowed again
    assert Boost.objects.count() == 2


@pytest.mark.parametrize("state", [MessageState.DRAFT, MessageState.SCHEDULED, MessageState.RETRACTED])
def test_no_boost_of_an_unpublished_or_retracted_message(world, proposer, state, django_capture_on_commit_callbacks):
    _fake, message, _channels = world
    Message.objects.filter(pk=message.pk).update(state=state)
    with pytest.raises(ValidationError, match="published"):
        propose(message, proposer, django_capture_on_commit_callbacks, fr="10")
    assert not Boost.objects.exists()
