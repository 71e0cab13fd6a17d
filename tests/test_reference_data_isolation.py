"""The reference data survives a transactional test's flush (see tests/conftest.py).

pytest-django runs transactional tests last and empties every table after each of them:
without the reload, the second one here would see no municipality.
"""

import pytest

from publisher.models import Municipality


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_sees_the_municipalities():
    assert Municipality.objects.count() == 565


@pytest.mark.django_db(transaction=True)
def test_the_next_one_still_sees_them_after_the_flush():
    assert Municipality.objects.count() == 565
