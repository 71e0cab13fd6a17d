"""Connecting by signing in at the network (Mastodon, X, Meta), against fake authorization
servers that check the client, the redirect URI, the code's single use and the PKCE verifier."""

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import Role
from publisher.channels import registry
from publisher.channels.base import AuthError, Credential, Post
from publisher.channels.credentials import credential_get, encrypt
from publisher.delivery import renewal
from publisher.errors import ValidationError
from publisher.models import Channel, ChannelCredential, ConnectFlow, OAuthApp
from publisher.workflow import connections, oauth
from tests.factories import UserFactory
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks
from tests.fakes.oauth import consent

pytestmark = pytest.mark.django_db

REDIRECT = "https://tandem.zone.example.be/admin/publisher/channel/connect/oauth/callback/"


@pytest.fixture
def admin_user():
    user = UserFactory(email="channels@zone.example.be")
    user.groups.add(Group.objects.get_or_create(name=Role.CHANNEL_ADMIN)[0])
    return user


def _fresh(channel):
    return Channel.objects.select_related("credential").get(pk=channel.pk)


def _credential(channel) -> Credential:
    found = credential_get(_fresh(channel))
    assert found is not None
    return found


def _query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# --- Mastodon ------------------------------------------------------------------------------


@pytest.fixture
def mastodon_channel(make_channel, fake_mastodon):
    return make_channel("mastodon", config={"base_url": fake_mastodon.url})


def _mastodon_connect(channel, user, session, fake):
    url = oauth.oauth_start(
        channel=channel, actor=user, session=session, redirect_uri=REDIRECT, base_url=fake.url, language="fr"
    )
    answer = consent(url)
    return oauth.oauth_finish(session=session, actor=user, state=answer["state"], code=answer["code"])


def test_mastodon_registers_once_signs_in_with_pkce_and_stores_the_token_account_and_limits(
    mastodon_channel, fake_mastodon, admin_user
):
    fake_mastodon.max_characters = 1000
    session: dict[str, Any] = {}
    url = oauth.oauth_start(
        channel=mastodon_channel,
        actor=admin_user,
        session=session,
        redirect_uri=REDIRECT,
        base_url=fake_mastodon.url,
        language="nl",
    )
    query = _query(url)
    assert url.startswith(f"{fake_mastodon.url}/oauth/authorize?")
    assert query["code_challenge_method"] == "S256"
    assert query["scope"] == "write:statuses write:media read:accounts"
    assert query["redirect_uri"] == REDIRECT
    assert query["lang"] == "nl"
    registration = fake_mastodon.requests_to(r"/api/v1/apps$")[0]
    assert registration.field("redirect_uris") == REDIRECT
    assert registration.field("scopes") == "write:statuses write:media read:accounts"
    answer = consent(url)
    finished = oauth.oauth_finish(session=session, actor=admin_user, state=answer["state"], code=answer["code"])
    channel = _fresh(finished.channel)
    credential = credential_get(channel)
    assert credential is not None
    assert credential.flow == ConnectFlow.OAUTH
    assert credential.account == f"@zone_bxl@{urlsplit(fake_mastodon.url).netloc}"
    assert credential.expires_at is None  # Mastodon's tokens do not expire
    assert fake_mastodon.oauth.account_of(credential.secrets["secret"]) == "1"
    assert channel.config["max_characters"] == 1000
    assert channel.config["max_media_attachments"] == 4
    # The verifier went to the token endpoint and matched the challenge sent to authorize.
    token_call = fake_mastodon.requests_to(r"/oauth/token$")[0]
    assert token_call.field("code_verifier")
    assert token_call.field("code_verifier") not in url
    # The token publishes.
    receipt = registry.get_adapter(channel).publish(Post(text="Test", language="fr"), "k-1")
    assert receipt.remote_id in fake_mastodon.statuses


def test_a_connection_failing_after_the_token_was_issued_revokes_it_and_saves_nothing(
    mastodon_channel, fake_mastodon, admin_user
):
    fake_mastodon.fail_next(503, {"error": "down for maintenance"}, path=r"/api/v1/accounts/verify_credentials")
    session: dict[str, Any] = {}

    with pytest.raises(ValidationError):
        _mastodon_connect(mastodon_channel, admin_user, session, fake_mastodon)

    assert credential_get(_fresh(mastodon_channel)) is None
    # The token the instance issued is no longer live there either.
    (issued,) = fake_mastodon.oauth.access
    assert fake_mastodon.oauth.account_of(issued) is None
    assert fake_mastodon.requests_to(r"/oauth/revoke$")


def test_the_app_registration_is_reused_per_instance_and_its_secret_is_encrypted(
    make_channel, fake_mastodon, admin_user
):
    first = make_channel("mastodon", config={"base_url": fake_mastodon.url})
    second = make_channel("mastodon", config={"base_url": fake_mastodon.url})
    _mastodon_connect(first, admin_user, {}, fake_mastodon)
    _mastodon_connect(second, admin_user, {}, fake_mastodon)
    assert len(fake_mastodon.requests_to(r"/api/v1/apps$")) == 1
    app = OAuthApp.objects.get()
    assert app.server == fake_mastodon.url
    client = fake_mastodon.oauth.clients[app.client_id]
    assert client.secret not in app.client_secret_ciphertext
    assert ChannelCredential.objects.count() == 2


def test_a_state_is_single_use(mastodon_channel, fake_mastodon, admin_user):
    session: dict[str, Any] = {}
    url = oauth.oauth_start(
        channel=mastodon_channel, actor=admin_user, session=session, redirect_uri=REDIRECT, base_url=fake_mastodon.url
    )
    answer = consent(url)
    oauth.oauth_finish(session=session, actor=admin_user, state=answer["state"], code=answer["code"])
    ChannelCredential.objects.all().delete()
    with pytest.raises(ValidationError, match="already used"):
        oauth.oauth_finish(session=session, actor=admin_user, state=answer["state"], code=answer["code"])
    assert not ChannelCredential.objects.exists()
    assert len(fake_mastodon.requests_to(r"/oauth/token$")) == 1


def test_a_state_expires_after_ten_minutes_and_the_code_is_never_exchanged(mastodon_channel, fake_mastodon, admin_user):
    session: dict[str, Any] = {}
    url = oauth.oauth_start(
        channel=mastodon_channel, actor=admin_user, session=session, redirect_uri=REDIRECT, base_url=fake_mastodon.url
    )
    answer = consent(url)
    with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=5)):
        with pytest.raises(ValidationError, match="10 minutes"):
            oauth.oauth_finish(session=session, actor=admin_user, state=answer["state"], code=answer["code"])
    assert not fake_mastodon.requests_to(r"/oauth/token$")
    assert not ChannelCredential.objects.exists()
    assert session[oauth.SESSION_KEY] == {}


def test_a_state_is_bound_to_the_session_and_the_user_who_started(mastodon_channel, fake_mastodon, admin_user):
    session: dict[str, Any] = {}
    url = oauth.oauth_start(
        channel=mastodon_channel, actor=admin_user, session=session, redirect_uri=REDIRECT, base_url=fake_mastodon.url
    )
    answer = consent(url)
    with pytest.raises(ValidationError):
        oauth.oauth_finish(session={}, actor=admin_user, state=answer["state"], code=answer["code"])
    someone_else: Any = UserFactory()
    with pytest.raises(ValidationError):
        oauth.oauth_finish(session=session, actor=someone_else, state=answer["state"], code=answer["code"])
    assert not fake_mastodon.requests_to(r"/oauth/token$")
    assert not ChannelCredential.objects.exists()


def test_the_fake_checks_the_pkce_verifier_and_a_refusal_saves_nothing(mastodon_channel, fake_mastodon, admin_user):
    session: dict[str, Any] = {}
    url = oauth.oauth_start(
        channel=mastodon_channel, actor=admin_user, session=session, redirect_uri=REDIRECT, base_url=fake_mastodon.url
    )
    answer = consent(url)
    # Not the verifier the challenge was made of.
    session[oauth.SESSION_KEY][answer["state"]]["verifier"] = encrypt({"verifier": "x" * 64})
    with pytest.raises(ValidationError, match="code verifier does not match"):
        oauth.oauth_finish(session=session, actor=admin_user, state=answer["state"], code=answer["code"])
    assert not ChannelCredential.objects.exists()
    assert _fresh(mastodon_channel).config.get("max_characters") is None


def test_access_denied_at_the_consent_page_is_a_clear_message(mastodon_channel, fake_mastodon, admin_user):
    session: dict[str, Any] = {}
    url = oauth.oauth_start(
        channel=mastodon_channel, actor=admin_user, session=session, redirect_uri=REDIRECT, base_url=fake_mastodon.url
    )
    answer = consent(url, decision="deny")
    assert answer["error"] == "access_denied"
    with pytest.raises(ValidationError, match="cancelled"):
        oauth.oauth_finish(session=session, actor=admin_user, state=answer["state"], error=answer["error"])
    assert not ChannelCredential.objects.exists()


def test_a_registration_the_instance_forgot_is_made_again_at_the_next_connect(
    mastodon_channel, fake_mastodon, admin_user
):
    session: dict[str, Any] = {}
    url = oauth.oauth_start(
        channel=mastodon_channel, actor=admin_user, session=session, redirect_uri=REDIRECT, base_url=fake_mastodon.url
    )
    answer = consent(url)
    fake_mastodon.oauth.clients.clear()  # an admin of the instance removed Tandem's app
    with pytest.raises(ValidationError, match="invalid_client"):
        oauth.oauth_finish(session=session, actor=admin_user, state=answer["state"], code=answer["code"])
    assert not OAuthApp.objects.exists()
    _mastodon_connect(mastodon_channel, admin_user, {}, fake_mastodon)
    assert len(fake_mastodon.requests_to(r"/api/v1/apps$")) == 2
    assert _credential(mastodon_channel).flow == ConnectFlow.OAUTH


def test_an_instance_without_v2_instance_still_connects_with_the_default_limits(
    mastodon_channel, fake_mastodon, admin_user
):
    fake_mastodon.fail_next(404, {"error": "Not found"}, path=r"/api/v2/instance$")
    _mastodon_connect(mastodon_channel, admin_user, {}, fake_mastodon)
    assert "max_characters" not in _fresh(mastodon_channel).config
    assert _credential(mastodon_channel).account.startswith("@zone_bxl@")


@pytest.mark.parametrize("typed", ["http://169.254.169.254", "https://10.1.2.3", ""])
def test_the_instance_url_must_pass_the_outgoing_request_policy(mastodon_channel, admin_user, typed):
    mastodon_channel.config = {}
    with pytest.raises(ValidationError) as caught:
        oauth.oauth_start(channel=mastodon_channel, actor=admin_user, session={}, redirect_uri=REDIRECT, base_url=typed)
    assert "base_url" in caught.value.message_dict
    assert not OAuthApp.objects.exists()


def test_a_server_giving_refresh_tokens_is_renewed_before_expiry_and_revoked_on_disconnect(
    mastodon_channel, fake_mastodon, admin_user
):
    fake_mastodon.oauth.token_lifetime = 600  # within the 900 s margin at once
    finished = _mastodon_connect(mastodon_channel, admin_user, {}, fake_mastodon)
    before = _credential(finished.channel)
    assert before is not None
    assert before.expires_at is not None
    renewal.credentials_refresh(channel_ids=[mastodon_channel.pk])
    after = _credential(mastodon_channel)
    assert after is not None
    assert after.secrets["secret"] != before.secrets["secret"]
    assert after.secrets["client_id"] == before.secrets["client_id"]
    assert fake_mastodon.oauth.refreshes == 1
    refusal = connections.channel_disconnect(channel=_fresh(mastodon_channel), actor=admin_user)
    assert refusal == ""
    revoke = fake_mastodon.requests_to(r"/oauth/revoke$")[0]
    assert revoke.field("token") == after.secrets["secret"]
    assert fake_mastodon.oauth.account_of(after.secrets["secret"]) is None
    assert _fresh(mastodon_channel).needs_reconnect


def test_a_refresh_refused_by_the_server_is_an_auth_error(mastodon_channel, fake_mastodon, admin_user):
    fake_mastodon.oauth.token_lifetime = 600
    _mastodon_connect(mastodon_channel, admin_user, {}, fake_mastodon)
    fake_mastodon.oauth.revoke_grants()
    channel = _fresh(mastodon_channel)
    with pytest.raises(AuthError, match="invalid_grant"):
        registry.get_adapter(channel).refresh(_credential(channel))


# --- X ---------------------------------------------------------------------------------------


@pytest.fixture
def x_channel(make_channel, fake_x, settings):
    settings.TANDEM_X_CLIENT_ID = "x-client-id"
    settings.TANDEM_X_CLIENT_SECRET = "x-client-secret"  # noqa: S105 - a test value
    settings.TANDEM_X_AUTHORIZE_URL = f"{fake_x.url}/i/oauth2/authorize"
    fake_x.oauth.add_client("x-client-id", "x-client-secret", [REDIRECT], set(fake_x.oauth.known_scopes or ()))
    return make_channel("x", config={"api_url": fake_x.url})


def _x_connect(channel, user, fake):
    session: dict[str, Any] = {}
    url = oauth.oauth_start(channel=channel, actor=user, session=session, redirect_uri=REDIRECT)
    answer = consent(url)
    return oauth.oauth_finish(session=session, actor=user, state=answer["state"], code=answer["code"])


def test_x_signs_in_with_pkce_and_basic_auth_and_stores_a_refresh_token(x_channel, fake_x, admin_user):
    finished = _x_connect(x_channel, admin_user, fake_x)
    authorize = fake_x.requests_to(r"/i/oauth2/authorize$")[0]
    assert authorize.query["scope"] == ["tweet.read tweet.write users.read offline.access media.write"]
    assert authorize.query["code_challenge_method"] == ["S256"]
    assert fake_x.requests_to(r"/2/oauth2/token$")[0].headers["authorization"].startswith("Basic ")
    channel = _fresh(finished.channel)
    credential = credential_get(channel)
    assert credential is not None
    assert credential.account == "@PolitieBrussel"
    assert credential.secrets["refresh"]
    assert credential.expires_at is not None
    assert timedelta(minutes=119) < credential.expires_at - timezone.now() <= timedelta(hours=2)
    assert channel.config["username"] == "PolitieBrussel"
    receipt = registry.get_adapter(channel).publish(Post(text="Test X", language="fr"), "k-x")
    assert receipt.url.startswith("https://x.com/PolitieBrussel/status/")


def test_x_refresh_tokens_are_single_use_and_the_new_one_is_stored(x_channel, fake_x, admin_user):
    _x_connect(x_channel, admin_user, fake_x)
    first = _credential(x_channel)
    with time_machine.travel(timezone.now() + timedelta(minutes=110)):
        renewal.credentials_refresh(channel_ids=[x_channel.pk])
    second = _credential(x_channel)
    assert second.secrets["refresh"] != first.secrets["refresh"]
    assert second.secrets["secret"] != first.secrets["secret"]
    # The former refresh token was used up: X refuses it.
    with pytest.raises(AuthError, match="invalid_grant"):
        registry.get_adapter(_fresh(x_channel)).refresh(first)
    assert fake_x.oauth.account_of(second.secrets["secret"]) == "1"


def test_x_disconnect_revokes_at_x(x_channel, fake_x, admin_user):
    _x_connect(x_channel, admin_user, fake_x)
    credential = _credential(x_channel)
    assert connections.channel_disconnect(channel=_fresh(x_channel), actor=admin_user) == ""
    assert {r.field("token_type_hint") for r in fake_x.requests_to(r"/2/oauth2/revoke$")} == {
        "refresh_token",
        "access_token",
    }
    assert fake_x.oauth.account_of(credential.secrets["secret"]) is None


def test_x_without_a_client_id_says_what_the_operator_must_do(make_channel, fake_x, admin_user, settings):
    settings.TANDEM_X_CLIENT_ID = ""
    channel = make_channel("x", config={"api_url": fake_x.url})
    with pytest.raises(ValidationError, match="TANDEM_X_CLIENT_ID"):
        oauth.oauth_start(channel=channel, actor=admin_user, session={}, redirect_uri=REDIRECT)


def test_a_token_endpoint_error_is_a_clear_message_and_saves_nothing(x_channel, fake_x, admin_user):
    session: dict[str, Any] = {}
    url = oauth.oauth_start(channel=x_channel, actor=admin_user, session=session, redirect_uri=REDIRECT)
    answer = consent(url)
    fake_x.fail_next(503, {"error": "temporarily_unavailable"}, path=r"/2/oauth2/token$")
    with pytest.raises(ValidationError, match="did not answer as expected"):
        oauth.oauth_finish(session=session, actor=admin_user, state=answer["state"], code=answer["code"])
    assert not ChannelCredential.objects.exists()


# --- Meta: Facebook Page and its Instagram account ----------------------------------------


@pytest.fixture
def meta_app(settings, fake_facebook):
    settings.TANDEM_META_APP_ID = "meta-app"
    settings.TANDEM_META_APP_SECRET = "meta-secret"  # noqa: S105 - a test value
    settings.TANDEM_META_DIALOG_URL = f"{fake_facebook.url}/v21.0/dialog/oauth"
    fake_facebook.set_app("meta-app", "meta-secret", REDIRECT)
    return fake_facebook


def _meta_sign_in(channel, user, fake, session):
    url = oauth.oauth_start(channel=channel, actor=user, session=session, redirect_uri=REDIRECT)
    assert "pages_manage_posts" in _query(url)["scope"]
    answer = consent(url)
    return oauth.oauth_finish(session=session, actor=user, state=answer["state"], code=answer["code"])


def test_facebook_lists_the_pages_connects_the_chosen_one_and_makes_its_instagram_channel(
    make_channel, meta_app, admin_user
):
    graph = f"{meta_app.url}/v21.0"
    facebook = make_channel("facebook", config={"graph_url": graph})
    session: dict[str, Any] = {}
    finished = _meta_sign_in(facebook, admin_user, meta_app, session)
    assert finished.pages_key
    assert not ChannelCredential.objects.exists()
    # The long-lived user token was asked for, and the Pages listed with it.
    assert meta_app.requests_to(r"/oauth/access_token$")[1].field("grant_type") == "fb_exchange_token"
    channel, pages = oauth.meta_pages(session=session, key=finished.pages_key, actor=admin_user)
    assert [(p.name, p.may_post, p.instagram_username) for p in pages] == [
        ("Politie Brussel", True, "politie.brussel"),
        ("Fanclub (read only)", False, ""),
    ]
    with pytest.raises(ValidationError):
        oauth.meta_page_choose(session=session, key=finished.pages_key, actor=admin_user, page_id="104000000000002")
    connected = oauth.meta_page_choose(
        session=session,
        key=finished.pages_key,
        actor=admin_user,
        page_id=meta_app.page_id,
        instagram=oauth.INSTAGRAM_NEW,
    )
    assert [c.kind for c in connected] == ["facebook", "instagram"]
    page_channel = _fresh(facebook)
    assert page_channel.config["page_id"] == meta_app.page_id
    assert _credential(page_channel).secrets["secret"] == meta_app.token
    assert _credential(page_channel).account == "Politie Brussel"
    instagram = _fresh(connected[1])
    assert instagram.config["ig_user_id"] == "17841400000000001"
    assert instagram.config["username"] == "politie.brussel"  # the inbox leaves its own answers out
    assert instagram.config["graph_url"] == graph
    assert instagram.language == facebook.language
    assert _credential(instagram).account == "@politie.brussel"
    # The choice is single-use too.
    with pytest.raises(ValidationError):
        oauth.meta_pages(session=session, key=finished.pages_key, actor=admin_user)
    receipt = registry.get_adapter(page_channel).publish(Post(text="Test FB", language="fr"), "k-fb")
    assert receipt.remote_id in meta_app.posts


def test_an_instagram_channel_is_connected_through_its_page(make_channel, meta_app, admin_user):
    instagram = make_channel("instagram", config={"graph_url": f"{meta_app.url}/v21.0"})
    session: dict[str, Any] = {}
    finished = _meta_sign_in(instagram, admin_user, meta_app, session)
    connected = oauth.meta_page_choose(
        session=session, key=finished.pages_key, actor=admin_user, page_id=meta_app.page_id
    )
    assert [c.pk for c in connected] == [instagram.pk]
    assert _fresh(instagram).config["ig_user_id"] == "17841400000000001"
    assert Channel.objects.filter(kind="facebook").count() == 0


def test_meta_access_denied_and_a_reused_code(make_channel, meta_app, admin_user):
    facebook = make_channel("facebook", config={"graph_url": f"{meta_app.url}/v21.0"})
    session: dict[str, Any] = {}
    url = oauth.oauth_start(channel=facebook, actor=admin_user, session=session, redirect_uri=REDIRECT)
    answer = consent(url, decision="deny")
    with pytest.raises(ValidationError, match="cancelled"):
        oauth.oauth_finish(
            session=session, actor=admin_user, state=answer["state"], error=answer["error"], error_description="x"
        )
    url = oauth.oauth_start(channel=facebook, actor=admin_user, session=session, redirect_uri=REDIRECT)
    answer = consent(url)
    meta_app.codes[answer["code"]]["used"] = True  # as if another tab had exchanged it
    with pytest.raises(ValidationError, match="authorization code has been used"):
        oauth.oauth_finish(session=session, actor=admin_user, state=answer["state"], code=answer["code"])
    assert not ChannelCredential.objects.exists()
