"""A channel administrator connects a Mastodon channel by signing in at the instance (the
consent page of a fake Mastodon on 127.0.0.1), Tandem publishes to it, the token nears its
end and the dispatcher's routine step renews it with nobody acting; the grant is revoked at
the instance, the channel says it needs reconnection, a Dutch-speaking colleague reconnects
it through the same flow and the held delivery goes out.

The fake answers expires_in and a refresh token (tests/fakes/oauth.py: `token_lifetime`),
as a Doorkeeper server with refresh tokens enabled does; Mastodon's own tokens never expire.
"""

from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from accounts.services import roles_sync
from publisher.channels.credentials import credential_get
from publisher.delivery import dispatch, publishing
from publisher.models import Channel, Delivery, DeliveryState, Message, MessageState, Occurrence, Variant
from tests.factories import ChannelFactory, UserFactory
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks

pytestmark = pytest.mark.browser


@pytest.fixture
def people(db):
    roles_sync()
    return {
        "fr": UserFactory(username="kanaal_fr", roles=["channel_admin"], preferred_language="fr"),
        "nl": UserFactory(username="kanaal_nl", roles=["channel_admin"], preferred_language="nl"),
        "author": UserFactory(username="auteur", roles=["author"], preferred_language="fr"),
    }


def _delivery(channel, author, text):
    now = timezone.now()
    message = Message.objects.create(
        title=text, author=author, state=MessageState.SCHEDULED, publish_at=now, status="actual"
    )
    Variant.objects.create(message=message, language="fr", text=text)
    occurrence = Occurrence.objects.create(message=message, due_at=now)
    return Delivery.objects.create(
        occurrence=occurrence, channel=channel, language="fr", due_at=now, next_attempt_at=now
    )


def _send(delivery):
    """What the dispatcher and a worker do with a due delivery."""
    dispatch.deliveries_claim(ids=[delivery.pk])
    publishing.deliveries_publish(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    return delivery


def _sign_in_at_the_fake(page, shot=None):
    page.wait_for_selector("#approve")
    assert "write:statuses write:media read:accounts" in page.inner_text("body")
    if shot:
        shot()
    page.click("#approve")


def test_connect_publish_refresh_revoke_reconnect(login, people, live_server, fake_mastodon, settings):
    settings.TANDEM_PUBLIC_URL = live_server.url
    fake_mastodon.oauth.token_lifetime = 600  # within the 15-minute renewal margin at once
    fake_mastodon.max_characters = 1000
    channel = ChannelFactory(
        name="Police Bruxelles (Mastodon)", kind="mastodon", language="fr", covers_all=True, config={}
    )
    change = f"/admin/publisher/channel/{channel.pk}/change/"

    admin_fr = login("kanaal_fr", locale="fr-BE")
    page = admin_fr.page
    admin_fr.goto(change)
    assert "Non connecté" in page.inner_text("#connection")
    page.click("#connection a.button:has-text('Connecter')")
    page.fill("#id_base_url", fake_mastodon.url)
    admin_fr.shot("oauth-01-fr-mastodon-server")
    page.click("input[type=submit][value='Continuer vers Mastodon']")
    _sign_in_at_the_fake(page, lambda: admin_fr.shot("oauth-02-fake-consent"))
    page.wait_for_url(f"**{change}")
    host = urlsplit(fake_mastodon.url).netloc
    box = page.inner_text("#connection")
    assert f"Connecté en tant que @zone_bxl@{host}" in box
    assert "Limites du serveur : 1000 caractères par message" in box
    admin_fr.shot("oauth-03-fr-connected")

    first = _send(_delivery(channel, people["author"], "Contrôle de vitesse avenue Louise ce matin."))
    assert first.state == DeliveryState.SENT
    assert len(fake_mastodon.statuses) == 1

    # The token nears its end: the dispatcher's routine step renews it, nobody acts.
    before = credential_get(Channel.objects.select_related("credential").get(pk=channel.pk))
    fake_mastodon.oauth.expire_access_tokens()
    assert dispatch.credentials_refresh_hand_over() == [channel.pk]
    after = credential_get(Channel.objects.select_related("credential").get(pk=channel.pk))
    assert before is not None
    assert after is not None
    assert fake_mastodon.oauth.refreshes == 1
    assert after.secrets["secret"] != before.secrets["secret"]
    admin_fr.goto(change)
    assert "Dernier renouvellement le" in page.inner_text("#connection")
    admin_fr.shot("oauth-04-fr-renewed")
    assert _send(_delivery(channel, people["author"], "Marché de Noël : circulation adaptée.")).state == (
        DeliveryState.SENT
    )

    # The grant is revoked at the instance: the next post holds the channel.
    fake_mastodon.oauth.revoke_grants()
    held = _send(_delivery(channel, people["author"], "Travaux rue Neuve : déviation."))
    assert held.state != DeliveryState.SENT
    assert Channel.objects.get(pk=channel.pk).needs_reconnect
    admin_fr.goto(change)
    assert "À reconnecter" in page.inner_text("#connection")
    admin_fr.shot("oauth-05-fr-needs-reconnection")

    # A Dutch-speaking colleague reconnects through the same flow; the held post goes out.
    admin_nl = login("kanaal_nl", locale="nl-BE")
    page = admin_nl.page
    admin_nl.goto(change)
    assert "Opnieuw te koppelen" in page.inner_text("#connection")
    admin_nl.shot("oauth-06-nl-needs-reconnection")
    page.click("#connection a.button:has-text('Opnieuw koppelen')")
    assert page.input_value("#id_base_url") == fake_mastodon.url
    page.click("input[type=submit][value='Verder naar Mastodon']")
    _sign_in_at_the_fake(page)
    page.wait_for_url(f"**{change}")
    assert "is gekoppeld" in page.inner_text("body")
    admin_nl.shot("oauth-07-nl-reconnected")
    assert not Channel.objects.get(pk=channel.pk).needs_reconnect
    assert len(fake_mastodon.requests_to(r"/api/v1/apps$")) == 1  # the registration was reused
    assert _send(Delivery.objects.get(pk=held.pk)).state == DeliveryState.SENT
    assert len(fake_mastodon.statuses) == 3


def test_a_facebook_page_and_its_instagram_account_are_connected_in_dutch(
    login, people, live_server, fake_facebook, settings
):
    settings.TANDEM_PUBLIC_URL = live_server.url
    settings.TANDEM_META_APP_ID, settings.TANDEM_META_APP_SECRET = "meta-app", "meta-secret"
    settings.TANDEM_META_DIALOG_URL = f"{fake_facebook.url}/v21.0/dialog/oauth"
    fake_facebook.set_app(
        "meta-app", "meta-secret", f"{live_server.url}/admin/publisher/channel/connect/oauth/callback/"
    )
    channel = ChannelFactory(
        name="Politie Brussel (Facebook)",
        kind="facebook",
        language="nl",
        covers_all=True,
        config={"graph_url": f"{fake_facebook.url}/v21.0"},
    )
    admin_nl = login("kanaal_nl", locale="nl-BE")
    page = admin_nl.page
    admin_nl.goto(f"/admin/publisher/channel/{channel.pk}/change/")
    page.click("#connection a.button:has-text('Koppelen')")
    page.click("input[type=submit][value='Verder naar Facebook']")
    page.wait_for_selector("#approve")
    page.click("#approve")
    page.wait_for_selector("input[name=page]")
    assert "(u mag er niet publiceren)" in page.inner_text("body")
    page.check(f"input[name=page][value='{fake_facebook.page_id}']")
    page.select_option("select[name=instagram]", "new")
    admin_nl.shot("oauth-08-nl-facebook-page-choice")
    page.click("input[type=submit][value='Deze Pagina koppelen']")
    page.wait_for_url(f"**/admin/publisher/channel/{channel.pk}/change/")
    body = page.inner_text("body")
    assert "Politie Brussel (Facebook) is gekoppeld." in body
    assert "Instagram @politie.brussel is gekoppeld." in body
    assert "Gekoppeld als Politie Brussel" in page.inner_text("#connection")
    admin_nl.shot("oauth-09-nl-facebook-connected")
    instagram = Channel.objects.get(kind="instagram")
    assert instagram.config["ig_user_id"] == "17841400000000001"
    assert instagram.language == "nl"
