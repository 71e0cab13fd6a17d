import re

import pytest
import time_machine
from django.test import Client, override_settings
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.second_factor import second_factor_enrol, second_factor_enrolment_device, second_factor_required
from accounts.tokens import api_token_create
from publisher.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"
START = "2026-12-01 09:00:00 +00:00"


def totp_code(device, *, at=None):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def sign_in(client, username):
    return client.post(reverse("admin:login"), {"username": username, "password": PASSWORD, "next": "/admin/"})


@pytest.fixture
def approver_user(roles):
    return UserFactory(username="approbateur", roles=["approver"], preferred_language="en")


@pytest.fixture
def enrolled(approver_user):
    """An approver with a confirmed TOTP app and recovery codes, enrolled at START."""
    with time_machine.travel(START, tick=False):
        device = second_factor_enrolment_device(approver_user)
        codes = second_factor_enrol(user=approver_user, device=device, code=totp_code(device))
    device.refresh_from_db()
    return device, codes


def test_enrolment_shows_qr_and_secret_then_confirms_with_a_code_and_shows_recovery_codes_once(client, approver_user):
    client.force_login(approver_user)
    with time_machine.travel(START, tick=False):
        page = client.get(reverse("accounts:second_factor_enrol"))
        assert page.status_code == 200
        assert "no-store" in page["Cache-Control"]
        html = page.content.decode()
        assert "<svg" in html  # the QR code is inline: nothing to fetch
        device = TOTPDevice.objects.get(user=approver_user, confirmed=False)
        secret = re.search(r'id="second-factor-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
        import base64

        assert base64.b32decode(secret) == device.bin_key
        # A reload keeps the same secret: the app the user already scanned stays valid.
        client.get(reverse("accounts:second_factor_enrol"))
        assert TOTPDevice.objects.filter(user=approver_user).count() == 1

        wrong = client.post(reverse("accounts:second_factor_enrol"), {"code": "000000"})
        assert wrong.status_code == 200
        assert "This code is not valid" in wrong.content.decode()
        device.refresh_from_db()
        assert not device.confirmed

    with time_machine.travel("2026-12-01 09:00:31 +00:00", tick=False):  # past django-otp's 1 s throttle
        done = client.post(reverse("accounts:second_factor_enrol"), {"code": totp_code(device)})
    assert done.status_code == 200
    codes = re.findall(r"<li>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</li>", done.content.decode())
    assert len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed
    # Stored as digests only: no code appears in the database.
    stored = set(StaticToken.objects.filter(device__user=approver_user).values_list("token", flat=True))
    assert len(stored) == 10
    assert not stored & {c.replace("-", "") for c in codes}
    assert AuditEvent.objects.filter(verb="second_factor.enrolled", object_id=str(approver_user.pk)).exists()
    # The session that enrolled is verified: the admin opens.
    assert client.get(reverse("admin:index")).status_code == 200


def test_sign_in_asks_for_the_code_once_enrolled(enrolled, approver_user):
    device, _codes = enrolled
    client = Client()
    with time_machine.travel("2026-12-01 10:00:00 +00:00", tick=False):
        response = sign_in(client, "approbateur")
        assert response.status_code == 302
        # The password alone opens nothing: every admin page leads to the second step.
        held = client.get(reverse("admin:publisher_message_changelist"))
        assert held.status_code == 302
        assert held["Location"].startswith(reverse("accounts:second_factor_verify"))
        # Nor does the API's session authentication see a signed-in user.
        assert client.get("/api/v1/messages/").status_code in (401, 403)

        page = client.get(held["Location"])
        assert page.status_code == 200
        assert "6-digit code" in page.content.decode()
        verified = client.post(
            reverse("accounts:second_factor_verify"),
            {"code": totp_code(device), "next": reverse("admin:publisher_message_changelist")},
        )
        assert verified.status_code == 302
        assert verified["Location"] == reverse("admin:publisher_message_changelist")
        assert client.get(reverse("admin:publisher_message_changelist")).status_code == 200
        assert client.get("/api/v1/messages/").status_code == 200


def test_wrong_code_is_refused_and_the_same_code_works_only_once(enrolled, approver_user):
    device, _codes = enrolled
    client = Client()
    with time_machine.travel("2026-12-01 10:00:00 +00:00", tick=False):
        sign_in(client, "approbateur")
        refused = client.post(reverse("accounts:second_factor_verify"), {"code": "123456"})
        assert refused.status_code == 200
        assert "This code is not valid" in refused.content.decode()
        assert client.get(reverse("admin:index")).status_code == 302
        # django-otp throttles the device after a wrong code: even the right one waits.
        throttled = client.post(reverse("accounts:second_factor_verify"), {"code": totp_code(device)})
        assert "Wait 1 seconds" in throttled.content.decode()
    with time_machine.travel("2026-12-01 10:00:02 +00:00", tick=False):
        code = totp_code(device)
        assert client.post(reverse("accounts:second_factor_verify"), {"code": code}).status_code == 302
        assert client.get(reverse("admin:index")).status_code == 200
        # A code seen once is spent: replaying it in another session fails.
        other = Client()
        sign_in(other, "approbateur")
        replay = other.post(reverse("accounts:second_factor_verify"), {"code": code})
        assert replay.status_code == 200


def test_recovery_code_works_once(enrolled, approver_user):
    _device, codes = enrolled
    with time_machine.travel("2026-12-01 10:00:00 +00:00", tick=False):
        first = Client()
        sign_in(first, "approbateur")
        used = first.post(reverse("accounts:second_factor_verify"), {"code": codes[0].upper().replace("-", " ")})
        assert used.status_code == 302
        assert first.get(reverse("admin:index")).status_code == 200
    assert StaticToken.objects.filter(device__user=approver_user).count() == 9
    with time_machine.travel("2026-12-01 10:05:00 +00:00", tick=False):
        second = Client()
        sign_in(second, "approbateur")
        again = second.post(reverse("accounts:second_factor_verify"), {"code": codes[0]})
        assert again.status_code == 200
        assert "This code is not valid" in again.content.decode()


@override_settings(TANDEM_REQUIRE_2FA=True)
def test_required_outside_debug_sends_a_user_without_one_to_enrolment_first(client, approver_user, roles):
    sign_in(client, "approbateur")
    held = client.get(reverse("admin:index"))
    assert held.status_code == 302
    assert held["Location"] == reverse("accounts:second_factor_enrol")
    assert client.get(reverse("admin:publisher_message_changelist"))["Location"].startswith(
        reverse("accounts:second_factor_enrol")
    )
    page = client.get(reverse("accounts:second_factor_enrol"))
    assert "needs a second factor before you can continue" in page.content.decode()
    # An author who can neither approve nor administer is not held.
    author = UserFactory(username="redacteur", roles=["author"])
    other = Client()
    other.force_login(author)
    assert other.get(reverse("admin:index")).status_code == 200


def test_not_required_in_the_demo_and_tests_sign_in_with_password_only(client, approver_user):
    sign_in(client, "approbateur")
    assert client.get(reverse("admin:index")).status_code == 200


@override_settings(TANDEM_REQUIRE_2FA=True)
def test_required_user_in_the_french_interface(client, roles):
    UserFactory(username="admin-fr", roles=["channel_admin"], preferred_language="fr")
    sign_in(client, "admin-fr")
    page = client.get(reverse("accounts:second_factor_enrol"))
    assert "second facteur" in page.content.decode()


def test_admin_resets_a_users_second_factor_audited(enrolled, approver_user):
    admin_user = UserFactory(username="chef", is_superuser=True)
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [approver_user.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=approver_user).exists()
    assert not StaticDevice.objects.filter(user=approver_user).exists()
    event = AuditEvent.objects.get(verb="second_factor.reset")
    assert event.actor == admin_user
    assert event.object_id == str(approver_user.pk)
    assert event.summary == {"user": "approbateur", "had_second_factor": True}
    # Signing in again asks for no code (not required here) and offers to set one up.
    other = Client()
    sign_in(other, "approbateur")
    assert other.get(reverse("admin:index")).status_code == 200


def test_user_regenerates_recovery_codes_and_removes_the_device_with_a_code(enrolled, approver_user):
    device, old_codes = enrolled
    client = Client()
    client.force_login(approver_user)
    with time_machine.travel("2026-12-01 10:00:00 +00:00", tick=False):
        client.post(reverse("accounts:second_factor_verify"), {"code": totp_code(device)})
        page = client.get(reverse("accounts:second_factor"))
        assert "10 recovery codes left" in page.content.decode()
        refused = client.post(reverse("accounts:second_factor"), {"action": "regenerate", "regenerate-code": "999999"})
        assert "This code is not valid" in refused.content.decode()
    with time_machine.travel("2026-12-01 10:01:00 +00:00", tick=False):
        fresh = client.post(
            reverse("accounts:second_factor"), {"action": "regenerate", "regenerate-code": totp_code(device)}
        )
        new_codes = re.findall(r"<li>([a-z2-7-]{19})</li>", fresh.content.decode())
        assert len(new_codes) == 10
        assert not set(new_codes) & set(old_codes)
    with time_machine.travel("2026-12-01 10:02:00 +00:00", tick=False):
        removed = client.post(reverse("accounts:second_factor"), {"action": "remove", "remove-code": new_codes[0]})
        assert removed.status_code == 302
    assert not TOTPDevice.objects.filter(user=approver_user).exists()
    verbs = set(AuditEvent.objects.filter(object_id=str(approver_user.pk)).values_list("verb", flat=True))
    assert {"second_factor.recovery_codes_regenerated", "second_factor.removed"} <= verbs


def test_replacing_the_app_needs_a_code_from_the_current_one(enrolled, approver_user):
    device, _codes = enrolled
    client = Client()
    client.force_login(approver_user)
    with time_machine.travel("2026-12-01 10:00:00 +00:00", tick=False):
        client.post(reverse("accounts:second_factor_verify"), {"code": totp_code(device)})
    with time_machine.travel("2026-12-01 10:01:00 +00:00", tick=False):
        client.get(reverse("accounts:second_factor_enrol"))
        new = TOTPDevice.objects.get(user=approver_user, confirmed=False)
        refused = client.post(reverse("accounts:second_factor_enrol"), {"code": totp_code(new)})
        assert "This field is required" in refused.content.decode()
        done = client.post(
            reverse("accounts:second_factor_enrol"), {"code": totp_code(new), "current_code": totp_code(device)}
        )
        assert done.status_code == 200
    assert list(TOTPDevice.objects.filter(user=approver_user).values_list("pk", "confirmed")) == [(new.pk, True)]
    assert AuditEvent.objects.get(verb="second_factor.enrolled", summary__replaced=True)


def test_force_login_without_a_device_is_not_held(client, approver_user):
    client.force_login(approver_user)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("accounts:second_factor_verify")).status_code == 302


def test_who_must_have_a_second_factor(roles):
    author = UserFactory(username="redacteur", roles=["author"])
    approver = UserFactory(username="goedkeurder", roles=["approver"])
    channel_admin = UserFactory(username="kanaalbeheerder", roles=["channel_admin"])
    superuser = UserFactory(username="chef", is_superuser=True)
    with override_settings(TANDEM_REQUIRE_2FA=True):
        assert [second_factor_required(u) for u in (author, approver, channel_admin, superuser)] == [
            False,
            True,
            True,
            True,
        ]
        # Holding a live API token is enough, whatever the roles.
        token, _plaintext = api_token_create(user=author, name="dispatch", scopes=["read"])
        author = type(author).objects.get(pk=author.pk)
        assert second_factor_required(author)
    with override_settings(TANDEM_REQUIRE_2FA=False):
        assert not second_factor_required(superuser)
