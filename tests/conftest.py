import importlib
from pathlib import Path

import pytest

from publisher.territory.reference_data import municipalities_load

# Fails the run if a stored credential shows up in clear in any log record of it.
pytest_plugins = ["tests.credential_scan"]


def message_templates_seed() -> None:
    """The default templates as their data migration seeds them (found by name: the migration's
    number may change when branches merge)."""
    from django.apps import apps

    (path,) = Path(__file__).resolve().parents[1].glob("publisher/migrations/*_templates.py")
    importlib.import_module(f"publisher.migrations.{path.stem}").templates_seed(apps, None)


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


def _flushed_after(item: pytest.Item) -> bool:
    """pytest-django empties every table after a transactional test (and a live-server one)."""
    fixtures = set(getattr(item, "fixturenames", ()))
    marker = item.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    return transactional or bool(fixtures & {"transactional_db", "live_server"})


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """Put the 565 municipalities (and the default templates) back once a transactional test's flush has run, so every
    later test sees the reference data whatever the order."""
    yield
    # After the session's last test the test database is already destroyed (and the
    # connection points at the developer's database again): nothing to put back.
    if nextitem is None or not _flushed_after(item):
        return
    from pytest_django.plugin import blocking_manager_key

    from publisher.models import MessageTemplate, Municipality

    with item.config.stash[blocking_manager_key].unblock():
        if not Municipality.objects.exists():
            municipalities_load()
        if not MessageTemplate.objects.exists():
            message_templates_seed()
