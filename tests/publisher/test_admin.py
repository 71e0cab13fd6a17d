import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_fr(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def test_municipality_list_does_a_constant_number_of_queries(admin_client_fr):
    def count(url):
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client_fr.get(url)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    few = count("/admin/publisher/municipality/?language_region__exact=de")  # 9 rows
    many = count("/admin/publisher/municipality/")  # 100 rows on the first page
    assert few == many


@pytest.mark.parametrize(("term", "nis"), [("braine lalleud", "25014"), ("Liège", "62063"), ("1050", "21009")])
def test_municipality_admin_search_is_accent_and_apostrophe_insensitive(admin_client_fr, term, nis):
    response = admin_client_fr.get("/admin/publisher/municipality/", {"q": term})
    assert response.status_code == 200
    assert f"/admin/publisher/municipality/{nis}/change/" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/publisher/message/",
        "/admin/publisher/channel/",
        "/admin/publisher/segment/",
        "/admin/publisher/delivery/",
        "/admin/publisher/auditevent/",
        "/admin/publisher/policezone/",
        "/admin/publisher/province/",
        "/admin/accounts/user/",
    ],
)
def test_every_list_page_renders(admin_client_fr, path):
    assert admin_client_fr.get(path).status_code == 200
