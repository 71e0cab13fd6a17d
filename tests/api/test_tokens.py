import re
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import ApiToken
from accounts.tokens import (
    api_token_area,
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
    audience_outside_area,
)
from publisher.models import AuditEvent, Municipality
from publisher.workflow.services import Audience
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_token_is_stored_hashed_with_a_clear_prefix_only(roles):
    user = UserFactory(roles=["api_client"])
    token, plaintext = api_token_create(user=user, name="CAD Brussels", scopes=["alert", "read"])
    assert plaintext.startswith(f"tdm_{token.prefix}_")
    assert len(plaintext) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert plaintext not in (stored.key_hash, stored.prefix, stored.name)
    assert len(stored.key_hash) == 64
    assert api_token_authenticate(plaintext) == stored
    assert AuditEvent.objects.filter(verb="api_token.created", object_id=str(token.pk)).exists()


def test_wrong_secret_with_a_real_prefix_is_refused(roles):
    token, plaintext = api_token_create(user=UserFactory(), name="x", scopes=["read"])
    forged = plaintext[:-4] + ("aaaa" if not plaintext.endswith("aaaa") else "bbbb")
    assert api_token_authenticate(forged) is None
    assert api_token_authenticate("tdm_") is None
    assert api_token_authenticate("not-a-token") is None


def test_revoked_expired_and_inactive_tokens_do_not_authenticate(roles):
    user = UserFactory()
    revoked, revoked_text = api_token_create(user=user, name="r", scopes=["read"])
    api_token_revoke(token=revoked)
    assert api_token_authenticate(revoked_text) is None
    soon = timezone.now() + timedelta(hours=1)
    expiring, expiring_text = api_token_create(user=user, name="e", scopes=["read"], expires_at=soon)
    assert api_token_authenticate(expiring_text) is not None
    with time_machine.travel(soon + timedelta(seconds=1)):
        assert api_token_authenticate(expiring_text) is None
    other, other_text = api_token_create(user=UserFactory(is_active=False), name="i", scopes=["read"])
    assert api_token_authenticate(other_text) is None


def test_last_use_is_recorded_at_most_once_a_minute(roles):
    token, plaintext = api_token_create(user=UserFactory(), name="x", scopes=["read"])
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        api_token_authenticate(plaintext)
        token.refresh_from_db()
        assert token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        api_token_authenticate(plaintext)
        token.refresh_from_db()
        assert token.last_used_at == start
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        api_token_authenticate(plaintext)
        token.refresh_from_db()
        assert token.last_used_at == start + timedelta(minutes=2)


def test_create_refuses_unknown_scopes_codes_and_past_expiry(roles):
    user = UserFactory()
    with pytest.raises(ValidationError) as exc:
        api_token_create(
            user=user,
            name="x",
            scopes=["read", "superpower"],
            municipalities=["99999"],
            zones=["0000"],
            expires_at=timezone.now() - timedelta(days=1),
        )
    assert set(exc.value.message_dict) == {"scopes", "municipalities", "zones", "expires_at"}
    assert not ApiToken.objects.exists()


def test_zone_area_is_the_zone_municipalities(roles):
    token, _ = api_token_create(user=UserFactory(), name="z", scopes=["alert"], zones=["5339"])
    area = api_token_area(token)
    assert area.nis_codes == frozenset(Municipality.objects.filter(police_zone="5339").values_list("pk", flat=True))
    assert "21004" in area.nis_codes
    assert audience_outside_area(area=area, audience=Audience(municipalities=["21004"])) == []
    assert audience_outside_area(area=area, audience=Audience(municipalities=["21004", "11002"])) == ["11002"]
    assert audience_outside_area(area=area, audience=Audience(all=True)) == ["*"]
    assert audience_outside_area(area=area, audience=Audience(zones=["5339"])) == []


def test_unlimited_token_has_no_area(roles):
    token, _ = api_token_create(user=UserFactory(), name="u", scopes=["alert"])
    assert not api_token_area(token).limited
    assert audience_outside_area(area=api_token_area(token), audience=Audience(all=True)) == []


def test_command_prints_the_token_once_and_it_works(roles):
    UserFactory(username="cad", roles=["api_client"])
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_token",
        "--user",
        "cad",
        "--scopes",
        "alert,read",
        "--zones",
        "5339",
        "--name",
        "CAD",
        stdout=out,
        stderr=err,
    )
    plaintext = out.getvalue().strip()
    assert re.fullmatch(r"tdm_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}", plaintext)
    token = api_token_authenticate(plaintext)
    assert token is not None
    assert token.scopes == ["alert", "read"]
    assert list(token.zones.values_list("pk", flat=True)) == ["5339"]
    assert plaintext not in err.getvalue()


def test_command_refuses_bad_input(roles):
    UserFactory(username="cad")
    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_token", "--user", "nobody", "--scopes", "read", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="scopes"):
        call_command("create_api_token", "--user", "cad", "--scopes", "fly", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="municipalities"):
        call_command(
            "create_api_token",
            "--user",
            "cad",
            "--scopes",
            "read",
            "--municipalities",
            "99999",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not ApiToken.objects.exists()


def test_admin_shows_the_token_once_and_stores_only_its_hash(admin_client, roles):
    user = UserFactory(username="cad")
    response = admin_client.post(
        "/admin/accounts/apitoken/add/",
        {"user": user.pk, "name": "CAD", "scopes": ["alert", "read"], "zones": ["5339"], "municipalities": []},
    )
    assert response.status_code == 200, response.content[:2000]
    token = ApiToken.objects.get()
    plaintext = response.context["plaintext"]
    assert plaintext.startswith(f"tdm_{token.prefix}_")
    assert plaintext.encode() in response.content
    assert "no-store" in response["Cache-Control"]
    assert api_token_authenticate(plaintext) == token
    assert list(token.zones.values_list("pk", flat=True)) == ["5339"]
    # The change page never shows it again.
    page = admin_client.get(f"/admin/accounts/apitoken/{token.pk}/change/")
    assert page.status_code == 200
    assert plaintext.encode() not in page.content


def test_admin_revoke_action(admin_client, roles):
    token, plaintext = api_token_create(user=UserFactory(), name="x", scopes=["read"])
    response = admin_client.post(
        "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert api_token_authenticate(plaintext) is None


def test_admin_add_page_offers_scopes_and_limits(admin_client, roles):
    page = admin_client.get("/admin/accounts/apitoken/add/")
    assert page.status_code == 200
    for scope in ("read", "compose", "approve", "alert", "admin"):
        assert f'value="{scope}"'.encode() in page.content
    assert b'name="zones"' in page.content
    assert b'name="municipalities"' in page.content
