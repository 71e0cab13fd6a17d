"""The "Boost" panel of the message page and the home page's promotions (dry run: the
network side is tested in tests/publisher/workflow/test_boosts.py against the fake API)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from publisher.models import AuditEvent, Boost, BoostState, MessageState
from tests.factories import ChannelFactory, UserFactory
from tests.publisher.newsroom_support import message_with_deliveries


@pytest.fixture(autouse=True)
def _dry_run(settings):
    settings.TANDEM_BOOST_DRY_RUN = True


@pytest.fixture
def published(author, approver):
    get_user_model().objects.filter(pk__in=[author.pk, approver.pk]).update(preferred_language="en")
    config = {"page_id": "104000000000001", "ad_account_id": "1234567890"}
    fr = ChannelFactory(name="Police Bruxelles FB", kind="facebook", language="fr", covers_all=True, config=config)
    nl = ChannelFactory(name="Politie Brussel FB", kind="facebook", language="nl", covers_all=True, config=config)
    message, deliveries = message_with_deliveries(
        author=author,
        title="Cambriolages",
        due_at=timezone.now() - timedelta(hours=1),
        routes=[(fr, "sent"), (nl, "sent")],
        state=MessageState.PUBLISHED,
        approved_audience=["21009"],
    )
    for delivery in deliveries:
        delivery.remote_id = f"104000000000001_{delivery.pk}"
        delivery.save(update_fields=["remote_id"])
    return message


def page(message):
    return reverse("admin:publisher_message_change", args=[message.pk])


def boost_post(client, message, follow=False, **extra):
    local = timezone.localtime(timezone.now() + timedelta(days=1), timezone.get_fixed_timezone(60))
    data = {
        "boost-network": "facebook",
        "boost-budget_fr": "20",
        "boost-budget_nl": "15",
        "boost-starts_at": local.strftime("%Y-%m-%dT%H:%M"),
        "boost-ends_at": (local + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
        "boost-age_min": "",
        "boost-age_max": "",
        **extra,
    }
    return client.post(reverse("admin:publisher_message_boost", args=[message.pk]), data, follow=follow)


def test_author_proposes_and_another_approves_the_spend(
    client, author, approver, published, django_capture_on_commit_callbacks
):
    client.force_login(author)
    assert b'id="boost-form"' in client.get(page(published)).content
    with django_capture_on_commit_callbacks(execute=True):
        response = boost_post(client, published)
    assert response.status_code == 302
    made = {b.language: b for b in Boost.objects.all()}
    assert set(made) == {"fr", "nl"}
    assert all(b.state == BoostState.PROPOSED and b.dry_run for b in made.values())
    body = client.get(page(published)).content.decode()
    assert "Approve the spend" not in body  # never for the proposer
    assert "What would be sent to Meta" in body
    assert "BE:1050" in body

    client.force_login(approver)
    body = client.get(page(published)).content.decode()
    assert "Approve the spend (20.00 €)" in body
    home = client.get("/admin/").content.decode()
    assert 'id="home-boosts"' in home
    assert "Cambriolages" in home
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:publisher_message_boost_approve", args=[made["fr"].pk]))
    assert Boost.objects.get(pk=made["fr"].pk).state == BoostState.ACTIVE
    assert AuditEvent.objects.filter(verb="boost.approved", actor=approver).exists()


def test_proposer_posting_approval_is_refused(client, roles, published, django_capture_on_commit_callbacks):
    both = UserFactory(username="both", roles=["author", "approver"], preferred_language="en")
    client.force_login(both)
    with django_capture_on_commit_callbacks(execute=True):
        boost_post(client, published, **{"boost-budget_nl": ""})
    boost = Boost.objects.get()
    response = client.post(reverse("admin:publisher_message_boost_approve", args=[boost.pk]), follow=True)
    assert Boost.objects.get(pk=boost.pk).state == BoostState.PROPOSED
    assert "someone else must approve its spend" in response.content.decode()


def test_bad_input_is_a_clear_error_not_a_500(client, author, published):
    client.force_login(author)
    response = boost_post(client, published, follow=True, **{"boost-budget_fr": "5000"})
    assert response.status_code == 200
    assert "at most" in response.content.decode()
    assert not Boost.objects.exists()


def test_stop_from_the_page(client, author, published):
    client.force_login(author)
    boost_post(client, published, **{"boost-budget_nl": ""})
    boost = Boost.objects.get()
    client.post(reverse("admin:publisher_message_boost_stop", args=[boost.pk]))
    assert Boost.objects.get(pk=boost.pk).state == BoostState.STOPPED


def test_panel_in_dutch(client, author, published):
    get_user_model().objects.filter(pk=author.pk).update(preferred_language="nl")
    client.force_login(author)
    body = client.get(page(published)).content.decode()
    assert "Betaalde promotie" in body
    assert "Boosten" in body


def _boosts(message, proposer, count, state):
    delivery = message.occurrences.get().deliveries.first()
    for _ in range(count):
        Boost.objects.create(
            message=message,
            delivery=delivery,
            channel=delivery.channel,
            post_id=delivery.remote_id,
            language=delivery.language,
            state=state,
            budget_minor=1000,
            starts_at=timezone.now(),
            ends_at=timezone.now() + timedelta(days=2),
            postal_codes=["1050"],
            ad_account="1234567890",
            proposed_by=proposer,
        )


def _queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_query_counts_do_not_grow_with_the_promotions(client, author, approver, published):
    client.force_login(approver)
    _boosts(published, author, 1, BoostState.PROPOSED)
    _boosts(published, author, 1, BoostState.ACTIVE)
    home, message_page = _queries(client, "/admin/"), _queries(client, page(published))
    _boosts(published, author, 5, BoostState.PROPOSED)
    _boosts(published, author, 5, BoostState.ACTIVE)
    assert _queries(client, "/admin/") == home
    assert _queries(client, page(published)) == message_page


# --- hostile input: a clear translated error, no 500, nothing saved ----------------------------


def _local(delta):
    return timezone.localtime(timezone.now() + delta, timezone.get_fixed_timezone(60)).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(
    "extra",
    [
        {"boost-budget_fr": "-5"},
        {"boost-budget_fr": "0", "boost-budget_nl": ""},
        {"boost-budget_fr": "1e12"},
        {"boost-budget_fr": "99999999999999999999"},
        {"boost-budget_fr": "NaN"},
        {"boost-budget_fr": "abc"},
        {"boost-budget_fr": "", "boost-budget_nl": ""},
        {"boost-ends_at": _local(timedelta(hours=2))},  # before the start (tomorrow)
        {"boost-starts_at": _local(-timedelta(days=2)), "boost-ends_at": _local(timedelta(days=1))},
        {"boost-ends_at": "not a date"},
        {"boost-starts_at": "9999-12-31T23:59"},
        {"boost-age_min": "10"},
        {"boost-age_max": "70"},
        {"boost-age_min": "50", "boost-age_max": "20"},
        {"boost-age_min": "999999999999999999999999"},
        {"boost-age_min": "-1"},
        {"boost-network": "mastodon"},
        {"boost-network": "instagram"},  # no Instagram post
        {"boost-network": ""},
    ],
)
def test_hostile_form_input_is_a_clear_error(client, author, published, extra):
    client.force_login(author)
    response = boost_post(client, published, follow=True, **extra)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="error"' in body
    assert not Boost.objects.exists()
    assert not AuditEvent.objects.filter(verb="boost.proposed").exists()


def test_hostile_form_input_is_refused_in_french(client, author, published):
    get_user_model().objects.filter(pk=author.pk).update(preferred_language="fr")
    client.force_login(author)
    body = boost_post(client, published, follow=True, **{"boost-starts_at": _local(-timedelta(days=2))}).content
    assert "Le début est déjà passé" in body.decode()


@pytest.mark.parametrize("state", [MessageState.DRAFT, MessageState.RETRACTED])
def test_no_boost_of_an_unpublished_or_retracted_message(client, author, published, state):
    published.__class__.objects.filter(pk=published.pk).update(state=state)
    client.force_login(author)
    response = boost_post(client, published, follow=True)
    assert response.status_code == 200
    assert "Only a published message can be promoted." in response.content.decode()
    assert not Boost.objects.exists()


def test_unknown_ids_are_404s(client, author, approver, published):
    client.force_login(author)
    assert client.post(reverse("admin:publisher_message_boost", args=[999999]), {}).status_code == 404
    client.force_login(approver)
    for name in ("admin:publisher_message_boost_approve", "admin:publisher_message_boost_stop"):
        assert client.post(reverse(name, args=[999999])).status_code == 404


def test_a_double_submit_proposes_once(client, author, published, django_capture_on_commit_callbacks):
    client.force_login(author)
    with django_capture_on_commit_callbacks(execute=True):
        boost_post(client, published)
        response = boost_post(client, published, follow=True)
    assert sorted(Boost.objects.values_list("language", flat=True)) == ["fr", "nl"]
    assert "already has a promotion under way" in response.content.decode()


# --- a token Meta refused, in words --------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "refused", "words"),
    [
        ("en", "ads", "access expired (Meta refused its credential)"),
        ("fr", "ads", "L’accès au compte publicitaire a expiré"),
        ("nl", "ads", "De toegang tot het advertentieaccount is verlopen"),
        ("en", "channel", "needs reconnecting"),
        ("fr", "channel", "doit être reconnecté"),
        ("nl", "channel", "moet opnieuw verbonden worden"),
    ],
)
def test_a_refused_credential_is_said_on_the_message_page_and_the_home_page(
    client, author, approver, published, language, refused, words
):
    get_user_model().objects.filter(pk=approver.pk).update(preferred_language=language)
    _boosts(published, author, 1, BoostState.ACTIVE)
    Boost.objects.update(credential_refused=refused, last_error="HTTP 400: Session has expired (code 190/463)")
    client.force_login(approver)
    assert words in client.get(page(published)).content.decode()
    home = client.get("/admin/").content.decode()
    assert 'class="boost-access-refused"' in home
    assert words in home
