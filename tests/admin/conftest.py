import pytest

from tests.factories import ChannelFactory

BRUSSELS_ZONE_5339 = ["21004", "21009"]  # Brussels (city) and Ixelles


@pytest.fixture
def channels(db):
    """A federal pair and a Brussels zone pair, as in the demo."""
    return {
        "fed_fr": ChannelFactory(name="Police fédérale", language="fr", covers_all=True),
        "fed_nl": ChannelFactory(name="Federale politie", language="nl", covers_all=True),
        "bxl_fr": ChannelFactory(name="Police Bruxelles", language="fr", coverage=BRUSSELS_ZONE_5339),
        "bxl_nl": ChannelFactory(name="PolitieBrussel", language="nl", coverage=BRUSSELS_ZONE_5339),
    }


@pytest.fixture
def author_client(client, author):
    client.force_login(author)
    return client


@pytest.fixture
def approver_client(client, approver):
    client.force_login(approver)
    return client


@pytest.fixture(autouse=True)
def _no_language_leak():
    """accounts.middleware activates the user's language without restoring it afterwards;
    keep that from leaking into the next test."""
    from django.utils import translation

    yield
    translation.deactivate()
