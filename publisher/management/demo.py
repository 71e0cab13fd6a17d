"""Idempotent demo data for `make run`: demo users, outbox, Atom and CAP channels, a segment, a message."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accounts.models import Language as UILanguage
from accounts.models import Role, User
from accounts.services import roles_sync, user_ensure
from publisher.models import Channel, Language, Message, Municipality, Segment
from publisher.workflow import services

# Demo passwords exist only in demo mode (DEBUG on); they are printed by `load_demo`.
DEMO_USERS = [
    # username, email, interface language, roles, superuser
    ("redacteur", "redacteur@demo.tandem.local", UILanguage.NL, [Role.AUTHOR], False),
    ("approbateur", "approbateur@demo.tandem.local", UILanguage.FR, [Role.APPROVER], False),
    ("admin", "admin@demo.tandem.local", UILanguage.FR, [Role.CHANNEL_ADMIN], True),
]
DEMO_PASSWORD_SUFFIX = "-demo-2026"  # noqa: S105 - demo mode only, printed on purpose

BRUSSELS_NIS = [
    "21001", "21002", "21003", "21004", "21005", "21006", "21007", "21008", "21009", "21010",
    "21011", "21012", "21013", "21014", "21015", "21016", "21017", "21018", "21019",
]  # fmt: skip


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    language: str
    created: bool


def demo_password(username: str) -> str:
    return f"{username}{DEMO_PASSWORD_SUFFIX}"


@transaction.atomic
def demo_load() -> list[DemoLogin]:
    """Create demo users, channels, a segment and a draft message once. Safe to run again."""
    if not settings.TANDEM_DEMO:
        raise ImproperlyConfigured("Demo data is only loaded in demo mode (DEBUG on).")
    if not Municipality.objects.exists():
        raise ImproperlyConfigured("Load the municipalities first (manage.py load_municipalities).")
    roles_sync()
    logins = []
    for username, email, language, roles, superuser in DEMO_USERS:
        user, created = user_ensure(
            username=username,
            email=email,
            preferred_language=language,
            roles=[str(r) for r in roles],
            password=demo_password(username),
            is_superuser=superuser,
            is_demo=True,
        )
        logins.append(DemoLogin(username, demo_password(username), user.preferred_language, created))

    brussels = list(Municipality.objects.filter(nis_code__in=BRUSSELS_NIS))
    for name, channel_language, covers_all in (
        ("Police fédérale (outbox FR)", Language.FR, True),
        ("Federale politie (outbox NL)", Language.NL, True),
        ("Police Bruxelles-Capitale Ixelles (outbox FR)", Language.FR, False),
        ("Politie Brussel Hoofdstad Elsene (outbox NL)", Language.NL, False),
    ):
        channel, created = Channel.objects.get_or_create(
            name=name, defaults={"kind": "outbox", "language": channel_language, "covers_all": covers_all}
        )
        if created and not covers_all:
            channel.municipalities.set([m for m in brussels if m.police_zone_id == "5339"])
    # Outboxes that count like Mastodon (500, links 23) and X (280 weighted, twitter-text): the
    # demo's previews and checks show a text that is too long, as the real networks would.
    for name, channel_language, rule in (
        ("Police fédérale (démo Mastodon FR)", Language.FR, "mastodon"),
        ("Federale politie (demo Mastodon NL)", Language.NL, "mastodon"),
        ("Police fédérale (démo X FR)", Language.FR, "x"),
        ("Federale politie (demo X NL)", Language.NL, "x"),
    ):
        config = {"counts_like": rule, "text_max": 500} if rule == "mastodon" else {"counts_like": rule}
        Channel.objects.get_or_create(
            name=name,
            defaults={"kind": "outbox", "language": channel_language, "covers_all": True, "config": config},
        )
    # Tandem's own feeds, so /feeds/fr.atom, /feeds/nl.atom and /feeds/cap.xml fill as soon as
    # a message is published (one CAP channel: its documents hold every language).
    for name, kind, channel_language in (
        ("Flux public (Atom FR)", "atom", Language.FR),
        ("Publieke feed (Atom NL)", "atom", Language.NL),
        ("Alertes CAP-waarschuwingen (CAP)", "cap", Language.FR),
    ):
        Channel.objects.get_or_create(
            name=name, defaults={"kind": kind, "language": channel_language, "covers_all": True}
        )

    segment, created = Segment.objects.get_or_create(
        name_fr="Région de Bruxelles-Capitale", defaults={"name_nl": "Brussels Hoofdstedelijk Gewest"}
    )
    if created:
        segment.municipalities.set(brussels)

    author = User.objects.get(username="redacteur")
    if not Message.objects.filter(author=author, title="Demo: prévention cambriolages").exists():
        services.message_create(
            author=author,
            title="Demo: prévention cambriolages",
            variants={
                "fr": services.VariantInput(
                    "Vous partez en vacances ? Signalez votre absence à la police : nous passerons voir votre maison.",
                    "https://www.police.be",
                ),
                "nl": services.VariantInput(
                    "Op vakantie? Meld uw afwezigheid aan de politie: wij houden een oogje in het zeil.",
                    "https://www.politie.be",
                ),
            },
            audience=services.Audience(segments=[segment.pk]),
        )
    return logins
