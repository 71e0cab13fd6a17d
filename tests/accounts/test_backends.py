import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory, override_settings

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def sign_in(username, password):
    # django-axes refuses authenticate() without the request it counts failures against.
    return authenticate(RequestFactory().post("/admin/login/"), username=username, password=password)


def test_demo_accounts_only_authenticate_in_demo_mode():
    user = UserFactory(username="redacteur", password="redacteur-demo-2026")
    user.is_demo = True
    user.save()
    with override_settings(TANDEM_DEMO=True):
        assert sign_in("redacteur", "redacteur-demo-2026") == user
    with override_settings(TANDEM_DEMO=False):
        assert sign_in("redacteur", "redacteur-demo-2026") is None


def test_regular_accounts_authenticate_outside_demo_mode():
    user = UserFactory(username="officer", password="a-long-real-password")
    with override_settings(TANDEM_DEMO=False):
        assert sign_in("officer", "a-long-real-password") == user
