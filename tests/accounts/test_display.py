"""Django's and the third-party apps' own names, in the reader's language (accounts.display)."""

import pytest
from django.contrib.admin.templatetags.admin_list import _boolean_icon
from django.contrib.auth.models import Group, Permission
from django.utils import translation

from publisher.models import Message

pytestmark = pytest.mark.django_db


def test_a_role_group_is_named_by_its_role_any_other_group_by_its_name(roles):
    with translation.override("fr"):
        assert str(Group.objects.get(name="channel_admin")) == "Administrateur des canaux"
    with translation.override("nl"):
        assert str(Group.objects.get(name="approver")) == "Goedkeurder"
    assert str(Group.objects.create(name="Porte-parole")) == "Porte-parole"


@pytest.mark.parametrize(
    ("codename", "language", "label"),
    [
        ("add_message", "fr", "Publication | message | Peut ajouter : message"),
        ("view_delivery", "nl", "Publicatie | verzending | Kan bekijken: verzending"),
        ("approve_message", "fr", "Publication | message | Peut approuver ou refuser des messages"),
        (
            "add_totpdevice",
            "nl",
            "Tweede factor: authenticator-apps | authenticator-app | Kan toevoegen: authenticator-app",
        ),
    ],
)
def test_a_permission_reads_in_the_readers_language(codename, language, label):
    permission = Permission.objects.select_related("content_type").get(codename=codename)
    with translation.override(language):
        assert str(permission) == label


def test_the_yes_no_icons_say_yes_and_no_in_words():
    with translation.override("nl"):
        assert 'alt="Ja"' in _boolean_icon(True)
        assert 'alt="Nee"' in _boolean_icon(False)
        assert 'alt="Onbekend"' in _boolean_icon(None)


def test_a_many_to_many_link_is_named_by_its_two_ends():
    through = Message.audience_segments.through
    with translation.override("fr"):
        assert str(through._meta.verbose_name) == "lien entre message et segment"
        assert str(through._meta.verbose_name_plural) == "liens entre message et segment"
    with translation.override("nl"):
        assert str(through._meta.verbose_name) == "koppeling tussen bericht en segment"


def test_a_sign_in_row_is_named_in_words_at_brussels_time():
    from datetime import UTC, datetime

    from axes.models import AccessLog

    log = AccessLog(username="redacteur", attempt_time=datetime(2026, 12, 1, 16, 25, tzinfo=UTC))
    with translation.override("nl"):
        assert str(log) == "Aanmelding van redacteur, 1-12-2026 17:25"
