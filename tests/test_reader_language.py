"""Not one English word for a French or Dutch reader: every admin page (found from the admin
registry and the URLconf), every mail, the iCalendar feed, the Atom feeds and the CAP feed.

How English is detected, and the allow-lists, are in tests/reader_language.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import icalendar
import pytest
import xmlschema
from django.conf import settings
from django.contrib import admin
from django.core import mail
from django.template.loader import render_to_string
from django.test import Client, TestCase
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone, translation

from accounts.tokens import api_token_create, calendar_link_create
from publisher.channels import registry
from publisher.delivery import dispatch, publishing
from publisher.models import AuditEvent, Channel, Delivery, DeliveryState, Message, MessageTemplate
from publisher.workflow import alerts, notifications, retraction, services
from publisher.workflow.checklist import checklist_all_ticked
from tests.factories import ChannelFactory, SegmentFactory, UserFactory
from tests.reader_language import Finding, english_in, english_in_html, visible_texts

LANGUAGES = ["fr", "nl"]
CAP_SCHEMA = xmlschema.XMLSchema(str(Path(__file__).resolve().parent / "data" / "cap12.xsd"))
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FEED_LANGUAGE = {"fr-BE": "fr", "nl-BE": "nl"}


# Identifiers shown as identifiers: not words, so not translatable. Each is (page, pattern, why);
# a finding matches only on its page. Every entry must still match something (an entry nothing
# needs any more fails the test), so the list cannot grow stale.
IDENTIFIERS = [
    (
        "/admin/publisher/delivery/",
        r"^(tag:[\w.:]+:)?tandem-delivery-\d+$",
        "a post's id at the network (the outbox names its posts so), shown to find the post there",
    ),
    ("/admin/publisher/delivery/", r"^\{.*\}$", "the network's receipt: JSON, as the network sent it"),
    ("/admin/django_q/success/", r"^\{.*\}$", "a task's return value: Python data, as the worker stored it"),
    ("/admin/django_q/", r"^publisher\.delivery\.tasks\.\w+$", "the dotted path of a task's function"),
    (
        "/admin/axes/accessattempt/",
        r"^[\w-]+=\S*$",
        "a failed sign-in's form data: a field name the browser posted (the value masked)",
    ),
    (
        "/admin/django_q/",
        r"^urgent$",
        "the configured name of a worker cluster (Q_CLUSTER_NAME, see Procfile); French has the word too",
    ),
]
# Identifiers that are also words of a language are found only in the other one.
FOUND_ONLY_IN = {r"^urgent$": "nl"}
# Identifiers made of random words, inside a longer text: the text without them must be clean.
# django-q2 names each task by four words drawn from its id (django_q.humanhash), one of which
# is "failed": whether a page shows it depends on the ids, so an unused entry is no error here.
RANDOM_IDENTIFIERS = [("/admin/django_q/", r"\b[a-z]+(-[a-z]+){3}\b", "a task's name, drawn from its id")]


def _random_identifier_only(finding, language):
    import re

    for page, pattern, _why in RANDOM_IDENTIFIERS:
        if finding.where.startswith(page) and re.search(pattern, finding.text):
            rest = re.sub(pattern, " ", finding.text)
            return not list(english_in([rest], language=language, where=finding.where))
    return False


def _split_known(findings, language):
    import re

    used = set()
    left = []
    for finding in findings:
        if _random_identifier_only(finding, language):
            continue
        matches = [
            i
            for i, (page, pattern, _why) in enumerate(IDENTIFIERS)
            if finding.where.startswith(page) and re.search(pattern, finding.text)
        ]
        used.update(matches)
        if not matches:
            left.append(finding)
    unused = [
        entry
        for i, entry in enumerate(IDENTIFIERS)
        if i not in used and FOUND_ONLY_IN.get(entry[1], language) == language
    ]
    return left, unused


# --- the detector itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("fr", "No results found"),
        ("nl", "Loading more results…"),
        ("fr", "#1 3 fr retracted"),
        ("fr", "kind: Alert"),
        ("nl", "Message"),
        ("fr", "DELIVERY"),
        ("nl", "sent"),
        ("fr", "[Published] Contrôle"),
        ("nl", "Tandem publications"),
    ],
)
def test_the_detector_sees_the_english_the_issue_reported(language, text):
    assert list(english_in([text], language=language, where="sample"))


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("fr", "Message"),
        ("fr", "Publications Tandem"),
        ("nl", "Tandem-publicaties"),
        ("nl", "API-token"),
        ("fr", "Canal : Tous"),
        ("nl", "Bericht — Federale politie"),
        ("fr", "Bluesky, Mastodon, CAP, Atom"),
    ],
)
def test_the_detector_leaves_french_dutch_and_names_alone(language, text):
    assert list(english_in([text], language=language, where="sample")) == []


def test_visible_text_includes_attributes_and_skips_scripts():
    html = (
        '<p title="Close">Fermer</p><script>var x = "the results";</script><style>a{}</style>'
        '<input type="submit" value="Save"><input type="hidden" value="the">'
    )
    assert visible_texts(html) == ["Close", "Fermer", "Save"]


# --- the world every page is rendered in -------------------------------------------------------


def _publish_due() -> None:
    """What the dispatcher and a worker do, here and now (tasks run in-process in the tests)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispatch.dispatch_once(now=timezone.now() + timedelta(minutes=5))


def _approved(*, author, approver, title, fr, nl, **audience):
    message = services.message_create(
        author=author,
        title=title,
        variants={"fr": services.VariantInput(fr, "https://www.police.be"), "nl": services.VariantInput(nl)},
        audience=services.Audience(**audience),
    )
    services.message_submit(message=message, actor=author)
    return services.message_approve(message=message, actor=approver, checklist=checklist_all_ticked())


@pytest.fixture
def world(roles, language):
    """Users reading in `language`; messages in every state; deliveries sent, failed and
    retracted; an alert approved by policy; an API token; a calendar link."""
    mail.outbox.clear()
    admin_user = UserFactory(username="beheerder", is_superuser=True, preferred_language=language)
    author = UserFactory(username="redacteur", roles=["author"], preferred_language=language)
    approver = UserFactory(username="approbateur", roles=["approver"], preferred_language=language)
    ChannelFactory(name="Police fédérale", kind="outbox", language="fr", covers_all=True)
    ChannelFactory(name="Federale politie", kind="outbox", language="nl", covers_all=True)
    ChannelFactory(name="Fil de la police", kind="atom", language="fr", covers_all=True)
    ChannelFactory(name="Nieuwsstroom politie", kind="atom", language="nl", covers_all=True)
    ChannelFactory(name="Alertes CAP", kind="cap", language="fr", covers_all=True)
    # One channel per way of connecting an account, covering no municipality (so no message
    # routes to them): their connect pages are walked too.
    for kind, language_code in (("bluesky", "nl"), ("telegram", "fr"), ("webhook", "nl"), ("email", "fr")):
        ChannelFactory(name=f"Connexion {kind}", kind=kind, language=language_code, coverage=[])
    ChannelFactory(name="Mastodon zone", kind="mastodon", language="nl", coverage=[], config={"base_url": ""})
    segment = SegmentFactory(name_fr="Centre-ville", name_nl="Binnenstad", nis=["21004", "21009"])
    with TestCase.captureOnCommitCallbacks(execute=True):
        published = _approved(
            author=author,
            approver=approver,
            title="Prévention cambriolages",
            fr="Vous partez en vacances ? Signalez votre absence à la police.",
            nl="Op vakantie? Meld uw afwezigheid aan de politie.",
            municipalities=["21009"],
            segments=[segment.pk],
        )
        withdrawn = _approved(
            author=author,
            approver=approver,
            title="Fermeture du tunnel",
            fr="Le tunnel Léopold II est fermé cette nuit.",
            nl="De Leopold II-tunnel is vannacht gesloten.",
            municipalities=["21004"],
        )
    _publish_due()
    # One post that did not go out, as a network refusal leaves it.
    failed = Delivery.objects.filter(occurrence__message=published, channel__kind="outbox", language="nl").get()
    Delivery.objects.filter(pk=failed.pk).update(state=DeliveryState.FAILED, last_error="HTTP 422")
    with TestCase.captureOnCommitCallbacks(execute=True):
        publishing.message_state_refresh(message_id=published.pk)
        publishing.deliveries_failure_notify(delivery_ids=[failed.pk])
        retraction.message_retract(message=withdrawn, actor=approver, reason="Erreur de date / Verkeerde datum")
        draft = services.message_create(
            author=author,
            title="Collecte de sang",
            variants={"fr": services.VariantInput("Donnez votre sang."), "nl": services.VariantInput("Geef bloed.")},
            audience=services.Audience(all=True),
        )
        submitted = services.message_create(
            author=author,
            title="Marché de Noël",
            variants={"fr": services.VariantInput("Marché ce week-end."), "nl": services.VariantInput("Markt.")},
            audience=services.Audience(zones=["5339"]),
        )
        services.message_submit(message=submitted, actor=author)
        rejected = services.message_create(
            author=author,
            title="Rappel",
            variants={"fr": services.VariantInput("Rappel."), "nl": services.VariantInput("Herinnering.")},
            audience=services.Audience(municipalities=["21004"]),
        )
        services.message_submit(message=rejected, actor=author)
        services.message_reject(message=rejected, actor=approver, comment="Trop vague / Te vaag")
        services.message_cancel(message=draft, actor=author, reason="Doublon / Dubbel")
        token, _plaintext = api_token_create(
            user=admin_user, name="Centrale 101", scopes=["alert", "read"], zones=["5339"], actor=admin_user
        )
        alert = alerts.alert_create(
            token_or_actor=token,
            audience=services.Audience(zones=["5339"]),
            variants={
                "fr": services.VariantInput("Incendie rue Haute : évitez le quartier."),
                "nl": services.VariantInput("Brand in de Hoogstraat: vermijd de buurt."),
            },
            cap={"category": "Fire", "urgency": "Immediate", "severity": "Severe", "certainty": "Observed"},
        )
    _publish_due()
    calendar_token = calendar_link_create(user=admin_user, actor=admin_user)
    # A mistyped password: the sign-in attempts pages have a row to show.
    Client(HTTP_USER_AGENT="Firefox/140.0").post(reverse("admin:login"), {"username": "redacteur", "password": "x"})
    # Mails of every template, even those this world did not trigger.
    for event in notifications.EVENTS:
        notifications.message_notify(message_id=published.pk, event=event, comment="Bien / Goed")
    return {
        "admin": admin_user,
        "author": author,
        "approver": approver,
        "calendar_token": calendar_token,
        "messages": [published, withdrawn, draft, submitted, rejected, alert],
        "alert": alert,
        "outbox": list(mail.outbox),
    }


@pytest.fixture(params=LANGUAGES)
def language(request):
    return request.param


# --- admin pages ---------------------------------------------------------------------------------


def _named_patterns(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _named_patterns(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield namespace + pattern.name, pattern


def _model_admin_for(url_name: str):
    """The registered ModelAdmin whose URLs start with `admin:<app>_<model>_`."""
    for model, model_admin in admin.site._registry.items():
        if url_name.startswith(f"admin:{model._meta.app_label}_{model._meta.model_name}_"):
            return model, model_admin
    return None, None


def admin_urls(world) -> tuple[list[str], list[str]]:
    """Every GET-able admin and second-factor URL, from the URLconf; what could not be filled."""
    urls: list[str] = []
    skipped: list[str] = []
    for name, pattern in _named_patterns(get_resolver().url_patterns):
        if not name.startswith(("admin:", "accounts:")):
            continue
        arguments = list(pattern.pattern.converters) if hasattr(pattern.pattern, "converters") else []
        arguments = arguments or list(pattern.pattern.regex.groupindex)
        if not arguments:
            urls.append(reverse(name))
        elif arguments == ["app_label"]:
            urls += [reverse(name, args=[label]) for label in {m._meta.app_label for m in admin.site._registry}]
        elif arguments in (["object_id"], ["id"]):
            model, _model_admin = _model_admin_for(name.replace("admin:auth_user_", "admin:accounts_user_"))
            if model is None:
                skipped.append(name)
                continue
            objects = model._default_manager.order_by("pk")
            limit = None if model is Message or model is AuditEvent else 4
            urls += [reverse(name, args=[obj.pk]) for obj in objects[:limit]]
        elif arguments == ["object_id", "flow"]:
            classes = registry.adapter_classes()
            urls += [
                reverse(name, args=[channel.pk, classes[channel.kind].connect_flow])
                for channel in Channel.objects.order_by("pk")
                if classes[channel.kind].connect_flow
            ]
        elif arguments == ["token"]:
            urls.append(reverse(name, args=[world["calendar_token"]]))
        elif arguments == ["template_id"]:
            urls += [
                reverse(name, args=[pk]) for pk in MessageTemplate.objects.order_by("pk").values_list("pk", flat=True)
            ]
        else:
            skipped.append(name)
    return list(dict.fromkeys(urls)), skipped


def test_every_admin_page_reads_in_the_users_language(world, language):
    client = Client()
    client.force_login(world["admin"])
    urls, skipped = admin_urls(world)
    findings: list[Finding] = []
    pages = 0
    select2_pages = 0
    for url in urls:
        response = client.get(url)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        html = response.content.decode()
        pages += 1
        findings += english_in_html(html, language=language, where=url)
        if "admin-autocomplete" in html:
            # select2's own strings ("No results found") come from its i18n file, chosen per request.
            select2_pages += 1
            if f"select2/i18n/{language}.js" not in html:
                findings.append(Finding(url, "select2", f"select2/i18n/{language}.js not loaded"))
    anonymous = Client(HTTP_ACCEPT_LANGUAGE=language)
    login = anonymous.get(reverse("admin:login"))
    findings += english_in_html(login.content.decode(), language=language, where="login")
    # Not vacuous: the walk reached the model pages, the message pages and the calendar.
    assert pages >= 60, (pages, skipped)
    assert select2_pages >= 3
    # Skipped: pages needing what no fixture has, and the home page's decisions (POST only,
    # answered by a redirect to the home page, which is walked).
    assert set(skipped) <= {
        "admin:view_on_site",
        "admin:password_reset_confirm",
        "admin:publisher_message_delivery_decision",
        # POST-only buttons (each answers with a redirect to a page that is walked).
        "admin:publisher_message_boost_approve",
        "admin:publisher_message_boost_stop",
        "admin:publisher_message_follow_up",
        "admin:publisher_inboxitem_state",
        "admin:publisher_inboxitem_reply",
        "admin:publisher_inboxitem_forward",
        "admin:publisher_inboxitem_draft",
        "admin:publisher_inboxitem_approve",
        # The Facebook Page choice: only within a Meta sign-in (tests/admin/test_connect_oauth_admin.py).
        "admin:publisher_channel_oauth_pages",
    }, skipped
    _report(findings)
    left, unused = _split_known(findings, language)
    assert not left, "\n".join(map(str, left))
    assert not unused, f"allowed identifiers no page shows any more: {unused}"


def _report(findings):
    import os
    from collections import Counter

    if os.environ.get("TANDEM_LANGUAGE_REPORT"):
        counts = Counter((f.text[:160], f.why) for f in findings)
        with open(os.environ["TANDEM_LANGUAGE_REPORT"], "a") as out:
            for (text, why), n in counts.most_common():
                print(n, repr(text), why, next(f.where for f in findings if f.text[:160] == text), file=out)


def test_the_calendar_filters_agree_in_gender(world, language):
    client = Client()
    client.force_login(world["admin"])
    html = client.get(reverse("admin:publisher_message_calendar")).content.decode()
    if language == "fr":
        assert "Toutes</option>" in html  # la langue, la zone
        assert "Tous</option>" in html  # le canal


# --- mails -------------------------------------------------------------------------------------------


def test_every_mail_reads_in_the_recipients_language(world, language):
    findings: list[Finding] = []
    assert len(world["outbox"]) >= 8
    for sent in world["outbox"]:
        findings += english_in([sent.subject, *sent.body.splitlines()], language=language, where=sent.subject)
    # Every template, with a context as rich as the workflow's.
    templates = sorted((Path(settings.BASE_DIR) / "templates" / "emails").glob("*.txt"))
    assert templates
    message = world["messages"][0]
    context = {"message": message, "user": world["author"], "url": "https://tandem.example/", "comment": "Bien"}
    for template in templates:
        with translation.override(language):
            text = render_to_string(f"emails/{template.name}", context)
        findings += english_in(text.splitlines(), language=language, where=template.name)
    assert [str(f) for f in findings] == []


# --- feeds -----------------------------------------------------------------------------------------


def _ical_texts(body: bytes) -> list[str]:
    feed = icalendar.Calendar.from_ical(body)
    texts = [str(feed.get("x-wr-calname"))]
    for event in feed.walk("VEVENT"):
        texts += [str(event.get("summary")), *str(event.get("description")).splitlines()]
    return texts


def test_the_calendar_feed_reads_in_its_owners_language(world, language):
    response = Client().get(reverse("admin:publisher_message_ical", args=[world["calendar_token"]]))
    texts = _ical_texts(response.content)
    assert len(texts) > 3
    assert [str(f) for f in english_in(texts, language=language, where="ical")] == []


def _atom_texts(root: ET.Element) -> list[str]:
    texts = [root.findtext(f"{ATOM}title") or "", root.findtext(f"{ATOM}subtitle") or ""]
    for entry in root.findall(f"{ATOM}entry"):
        texts += [entry.findtext(f"{ATOM}title") or "", *(entry.findtext(f"{ATOM}summary") or "").splitlines()]
    return [t for t in texts if t]


@pytest.mark.parametrize("language", ["fr"])  # the feeds do not depend on who reads them
def test_each_atom_feed_is_in_its_own_language(world, language):
    findings: list[Finding] = []
    for feed_language in LANGUAGES:
        root = ET.fromstring(Client().get(f"/feeds/{feed_language}.atom").content)
        assert root.get(XML_LANG) == f"{feed_language}-BE"
        assert root.findall(f"{ATOM}entry")
        findings += english_in(_atom_texts(root), language=feed_language, where=f"{feed_language}.atom")
    assert [str(f) for f in findings] == []


@pytest.mark.parametrize("language", ["fr"])
def test_the_cap_feed_and_documents_speak_each_blocks_language(world, language):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    root = ET.fromstring(client.get("/feeds/cap.xml").content)
    # A bilingual index: no single language claimed, least of all the request's English.
    assert root.get(XML_LANG) in (None, "")
    entries = root.findall(f"{ATOM}entry")
    assert entries
    findings: list[Finding] = []
    for feed_language in LANGUAGES:
        findings += english_in(_atom_texts(root), language=feed_language, where="cap.xml")
    for entry in entries:
        href = entry.find(f"{ATOM}link").get("href")
        document = client.get(urlsplit(href).path).content
        CAP_SCHEMA.validate(document)
        for info in ET.fromstring(document).findall(f"{CAP}info"):
            block = FEED_LANGUAGE[info.findtext(f"{CAP}language")]
            texts = [info.findtext(f"{CAP}{tag}") or "" for tag in ("event", "headline", "description", "instruction")]
            areas = [a.findtext(f"{CAP}areaDesc") for a in info.findall(f"{CAP}area")]
            findings += english_in([t for t in texts + areas if t], language=block, where=f"{href} {block}")
            other = {"fr": ("Elsene", "Brussel"), "nl": ("Ixelles", "Bruxelles")}[block]
            findings += [
                Finding(href, area, f"names the area in the other language for {block}")
                for area in areas
                if any(name in area for name in other)
            ]
    assert [str(f) for f in findings] == []


@pytest.mark.parametrize("language", ["nl"])
def test_a_task_name_drawn_from_its_id_is_allowed_and_nothing_around_it(language):
    """django-q2's four-word task names may hold "failed": the name is allowed, other English is not."""
    name = Finding("/admin/django_q/success/", "Selecteer dit object voor een actie - juliet-failed-two-lion", "x")
    other = Finding("/admin/django_q/success/", "Select this object - juliet-failed-two-lion", "x")
    elsewhere = Finding("/admin/publisher/message/", "juliet-failed-two-lion", "x")
    left, _unused = _split_known([name, other, elsewhere], language)
    assert left == [other, elsewhere]


def test_content_marked_as_another_language_is_not_the_pages_words():
    html = '<p>Datum</p><div lang="fr"><label>Date</label><div><p>Lieu</p></div></div><p>Plaats</p>'
    assert visible_texts(html, "nl") == ["Datum", "Plaats"]
    assert visible_texts(html, "fr") == ["Datum", "Date", "Lieu", "Plaats"]
