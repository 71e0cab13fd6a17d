import pytest

from publisher.reference_data import municipalities_load


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Every test database holds the real 565 municipalities, as production does."""
    with django_db_blocker.unblock():
        municipalities_load()


@pytest.fixture
def roles(db):
    from accounts.services import roles_sync

    return roles_sync()


@pytest.fixture
def author(roles):
    from tests.factories import UserFactory

    return UserFactory(username="author", roles=["author"])


@pytest.fixture
def approver(roles):
    from tests.factories import UserFactory

    return UserFactory(username="approver", roles=["approver"])


@pytest.fixture(autouse=True)
def _english_by_default():
    """Requests activate the user's language on the test thread; start every test in English."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()
