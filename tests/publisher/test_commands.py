import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings

from accounts.models import User
from publisher.models import Channel, Message, Municipality, PoliceZone, Province, Segment

pytestmark = pytest.mark.django_db


def test_load_municipalities_is_idempotent(capsys):
    call_command("load_municipalities")
    call_command("load_municipalities")
    assert Municipality.objects.count() == 565
    assert Province.objects.count() == 10
    assert PoliceZone.objects.filter(pk="5339").exists()
    assert "565 municipalities" in capsys.readouterr().out


@override_settings(TANDEM_DEMO=True)
def test_load_demo_twice_creates_everything_once(capsys):
    call_command("load_demo")
    call_command("load_demo")
    assert set(User.objects.values_list("username", flat=True)) == {"redacteur", "approbateur", "admin"}
    redacteur = User.objects.get(username="redacteur")
    assert redacteur.preferred_language == "nl"
    assert redacteur.is_demo
    assert redacteur.groups.filter(name="author").exists()
    assert User.objects.get(username="approbateur").has_perm("publisher.approve_message")
    # Eight outboxes (four of them counting like Mastodon or X), two Atom feeds and one CAP feed.
    assert sorted(Channel.objects.values_list("kind", flat=True)) == ["atom", "atom", "cap", *["outbox"] * 8]
    rules = Channel.objects.filter(kind="outbox").values_list("config__counts_like", flat=True)
    assert sorted(rule for rule in rules if rule) == ["mastodon", "mastodon", "x", "x"]
    assert Segment.objects.count() == 1
    assert Message.objects.count() == 1
    out = capsys.readouterr().out
    assert "redacteur-demo-2026" in out


@override_settings(TANDEM_DEMO=False)
def test_load_demo_refuses_outside_demo_mode():
    with pytest.raises(ImproperlyConfigured):
        call_command("load_demo")
    assert not User.objects.exists()
