import pytest
from rest_framework.test import APIClient

from accounts.tokens import api_token_create
from tests.factories import ChannelFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    # Throttle counters live in the cache; one test's requests must not count against the next.
    # A shared Redis cache is never flushed here (it is the broker's database too): its keys
    # are per token prefix, random for every token, so tests cannot meet each other's counters.
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture(autouse=True)
def _reset_language():
    # A request activates its Accept-Language for the thread; later tests must not inherit it.
    from django.utils import translation

    yield
    translation.activate("en")


@pytest.fixture
def make_client(roles):
    """make_client(scopes, user=..., municipalities=..., zones=...) -> APIClient with a Bearer token."""

    def make(scopes=("read",), *, user=None, municipalities=(), zones=(), language="en", expires_at=None):
        user = user or UserFactory(roles=["author", "approver"])
        token, plaintext = api_token_create(
            user=user,
            name="test",
            scopes=list(scopes),
            municipalities=municipalities,
            zones=zones,
            expires_at=expires_at,
        )
        client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        client.token = token
        client.plaintext = plaintext
        client.user = user
        return client

    return make


@pytest.fixture
def api_user(roles):
    """A dispatch centre's service account: API client role only."""
    return UserFactory(username="dispatch", roles=["api_client"])


@pytest.fixture
def alert_client(make_client, api_user):
    return make_client(["alert", "read"], user=api_user)


@pytest.fixture
def brussels_channels(db):
    """FR and NL accounts covering Brussels (21004) and the whole country."""
    return [
        ChannelFactory(name="FR Bruxelles", language="fr", coverage=["21004"]),
        ChannelFactory(name="NL Brussel", language="nl", coverage=["21004"]),
    ]


def alert_body(**overrides):
    body = {
        "audience": {"municipalities": ["21004"]},
        "variants": {"fr": {"text": "Incendie rue Neuve: évitez le quartier."}, "nl": {"text": "Brand Nieuwstraat."}},
        "category": "Fire",
        "severity": "Severe",
        "urgency": "Immediate",
        "certainty": "Observed",
        "event": "Incendie / Brand",
        "instruction": "Fermez portes et fenêtres.",
        "status": "actual",
    }
    body.update(overrides)
    return body


def message_body(**overrides):
    body = {
        "title": "Prévention vols",
        "variants": {"fr": {"text": "Fermez votre voiture."}, "nl": {"text": "Sluit uw auto."}},
        "audience": {"municipalities": ["21004"]},
        "publish_at": "2031-03-03T09:00:00+01:00",
    }
    body.update(overrides)
    return body
