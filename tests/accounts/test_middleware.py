import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "expected"),
    [("nl", "Publicatie"), ("fr", "Publication"), ("en", "Publishing")],
)
def test_admin_speaks_the_users_preferred_language(client, roles, language, expected):
    user = UserFactory(username=f"user-{language}", preferred_language=language, roles=["author"])
    client.force_login(user)
    response = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en" if language != "en" else "fr")
    assert response.status_code == 200
    assert response.headers["Content-Language"] == language
    assert expected in response.content.decode()


def test_anonymous_login_page_follows_accept_language(client):
    response = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="nl")
    assert response.headers["Content-Language"] == "nl"
