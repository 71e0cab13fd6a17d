"""Atom (RFC 4287, read back with feedparser) and CAP 1.2 (validated against the official XSD)."""

import re
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import feedparser
import pytest
import xmlschema

from publisher.channels.atom import AtomAdapter
from publisher.channels.base import Post, Receipt
from publisher.channels.cap import CapAdapter
from publisher.feeds.syndication import cap_document, cap_time
from publisher.models import Delivery, DeliveryState, Message, MessageKind, MessageStatus, Occurrence, PoliceZone
from tests.factories import ChannelFactory, SegmentFactory, make_message

CAP_SCHEMA = xmlschema.XMLSchema(str(Path(__file__).resolve().parents[2] / "data" / "cap12.xsd"))
ATOM = "{http://www.w3.org/2005/Atom}"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
WHEN = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


def deliver(message, channel, language, *, receipt=None, state=DeliveryState.SENT, when=WHEN):
    occurrence, _ = Occurrence.objects.get_or_create(message=message, due_at=when)
    return Delivery.objects.create(
        occurrence=occurrence,
        channel=channel,
        language=language,
        due_at=when,
        state=state,
        sent_at=when if state == DeliveryState.SENT else None,
        receipt=receipt or {},
    )


@pytest.fixture
def atom_channels(db):
    return (
        ChannelFactory(kind="atom", language="fr", covers_all=True, name="Flux FR"),
        ChannelFactory(kind="atom", language="nl", covers_all=True, name="Feed NL"),
    )


def test_language_feed_is_valid_atom(client, author, atom_channels, stored_image, django_assert_num_queries):
    fr, nl = atom_channels
    message = make_message(author=author, variants={"fr": "Travaux rue Haute\nDétails…", "nl": "Werken Hoogstraat"})
    receipt = AtomAdapter(fr).publish(Post(text="x", language="fr", images=(stored_image(),)), "k1")
    deliver(message, fr, "fr", receipt=receipt.extra)
    deliver(message, nl, "nl")
    exercise = make_message(author=author, variants={"fr": "Exercice", "nl": "Oefening"})
    Message.objects.filter(pk=exercise.pk).update(status=MessageStatus.EXERCISE)
    deliver(exercise, fr, "fr")
    retracted = make_message(author=author, variants={"fr": "Retiré", "nl": "Ingetrokken"})
    deliver(retracted, fr, "fr", state=DeliveryState.RETRACTED)

    with django_assert_num_queries(2):
        response = client.get("/feeds/fr.atom")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "fr-BE"
    assert len(root.findall(f"{ATOM}id")) == len(root.findall(f"{ATOM}updated")) == 1
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 1  # no exercise, no retracted, no Dutch
    for entry in entries:
        assert len(entry.findall(f"{ATOM}id")) == len(entry.findall(f"{ATOM}updated")) == 1
        assert len(entry.findall(f"{ATOM}title")) == 1
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo
    (entry,) = parsed.entries
    assert entry.title == "Travaux rue Haute"
    assert entry.updated_parsed[:5] == (2026, 11, 27, 13, 0)
    assert entry.id.startswith("tag:")
    (enclosure,) = entry.enclosures
    assert enclosure.type == "image/jpeg"
    assert "/media/renditions/" in enclosure.href
    assert parsed.feed.language == "fr-BE"


def test_channel_feed_and_unknown_feed(client, author, atom_channels):
    fr, nl = atom_channels
    message = make_message(author=author)
    deliver(message, nl, "nl")
    parsed = feedparser.parse(client.get(f"/feeds/{nl.pk}.atom").content)
    assert [e.title for e in parsed.entries] == ["Hallo"]
    assert client.get("/feeds/en.atom").status_code == 404
    assert client.get("/feeds/999999.atom").status_code == 404


def test_rendition_url_serves_the_file(client, atom_channels, stored_image):
    receipt = AtomAdapter(atom_channels[0]).publish(Post(text="x", language="fr", images=(stored_image(),)), "k")
    path = receipt.extra["images"][0]["url"].split("://", 1)[1].split("/", 1)[1]
    response = client.get("/" + path)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert client.get("/media/renditions/../../settings.py").status_code in {400, 404}  # refused either way
    assert client.get("/media/renditions/" + "0" * 64 + "-x-0123456789.jpg").status_code == 404


# --- CAP ---------------------------------------------------------------------------------


@pytest.fixture
def alert(author):
    message = make_message(
        author=author,
        variants={"fr": "Inondation à Bruxelles\nÉvitez le centre.", "nl": "Overstroming in Brussel"},
        municipalities=["21004", "21009"],
    )
    Message.objects.filter(pk=message.pk).update(
        approved_at=WHEN,
        cap={
            "category": "Met",
            "event": {"fr": "Inondation", "nl": "Overstroming"},
            "urgency": "Immediate",
            "severity": "Severe",
            "certainty": "Observed",
            "instruction": {"fr": "Restez chez vous.", "nl": "Blijf binnen."},
        },
    )
    message.refresh_from_db()
    return message


def test_cap_alert_is_valid_with_one_info_per_language(alert):
    document = cap_document(alert)

    CAP_SCHEMA.validate(document)
    root = ET.fromstring(document)
    assert root.findtext(f"{CAP}status") == "Actual"
    assert root.findtext(f"{CAP}msgType") == "Alert"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", root.findtext(f"{CAP}sent"))
    assert root.findtext(f"{CAP}sent") == "2026-11-27T14:00:00+01:00"
    infos = root.findall(f"{CAP}info")
    assert [i.findtext(f"{CAP}language") for i in infos] == ["fr-BE", "nl-BE"]
    assert [i.findtext(f"{CAP}event") for i in infos] == ["Inondation", "Overstroming"]
    assert infos[0].findtext(f"{CAP}headline") == "Inondation à Bruxelles"
    assert infos[1].findtext(f"{CAP}instruction") == "Blijf binnen."
    areas = infos[1].findall(f"{CAP}area")
    assert [a.findtext(f"{CAP}areaDesc") for a in areas] == ["Brussel", "Elsene"]
    assert [a.findtext(f"{CAP}geocode/{CAP}value") for a in areas] == ["21004", "21009"]
    assert areas[0].findtext(f"{CAP}geocode/{CAP}valueName") == "NIS"


def test_cap_update_references_the_original_and_exercise_status(author, alert, settings):
    settings.TANDEM_PUBLIC_URL = "https://tandem.police.example"
    update = make_message(author=author, variants={"fr": "Fin de l'alerte", "nl": "Einde alarm"})
    Message.objects.filter(pk=update.pk).update(
        kind=MessageKind.CANCEL, follows=alert, status=MessageStatus.EXERCISE, approved_at=WHEN
    )
    update.refresh_from_db()

    document = cap_document(update)

    CAP_SCHEMA.validate(document)
    root = ET.fromstring(document)
    assert root.findtext(f"{CAP}msgType") == "Cancel"
    assert root.findtext(f"{CAP}status") == "Exercise"
    assert root.findtext(f"{CAP}sender") == "tandem@tandem.police.example"
    assert root.findtext(f"{CAP}references") == (
        f"tandem@tandem.police.example,tandem.police.example-tandem-{alert.pk},2026-11-27T14:00:00+01:00"
    )


def test_cap_zone_audience_and_german(author):
    zone = PoliceZone.objects.filter(municipalities__language_region="de").first()
    message = make_message(
        author=author, variants={"fr": "Alerte", "de": "Warnung"}, municipalities=[], zones=[zone.pk]
    )
    document = cap_document(message)
    CAP_SCHEMA.validate(document)
    root = ET.fromstring(document)
    languages = [i.findtext(f"{CAP}language") for i in root.findall(f"{CAP}info")]
    assert languages == ["fr-BE", "de-BE"]
    infos = root.findall(f"{CAP}info")
    # The zone's label is in one language; each block names it by its municipalities, in its own.
    french = next(a for a in infos[0].findall(f"{CAP}area") if "Zone de police" in a.findtext(f"{CAP}areaDesc"))
    german = infos[1].findall(f"{CAP}area")[-1]
    members = list(zone.municipalities.order_by("nis_code"))
    assert french.findtext(f"{CAP}areaDesc") == f"Zone de police {zone.code} : " + ", ".join(m.name_fr for m in members)
    assert german.findtext(f"{CAP}areaDesc").endswith(", ".join(m.name_de or m.name_fr for m in members))
    assert len(french.findall(f"{CAP}geocode")) == len(members) > 1


def test_cap_area_of_a_segment_stays_the_approved_audience(author):
    segment = SegmentFactory(name_fr="Centre", name_nl="Centrum", nis=["21004"])
    message = make_message(author=author, municipalities=[], segments=[segment.pk])
    Message.objects.filter(pk=message.pk).update(approved_at=WHEN, approved_audience=["21004"])
    segment.municipalities.add("21009")  # widened after approval
    message.refresh_from_db()
    root = ET.fromstring(cap_document(message))
    areas = root.find(f"{CAP}info").findall(f"{CAP}area")
    codes = {
        a.findtext(f"{CAP}areaDesc"): [g.findtext(f"{CAP}value") for g in a.findall(f"{CAP}geocode")] for a in areas
    }
    assert codes["Centre"] == ["21004"]
    assert "21009" not in {code for found in codes.values() for code in found}


def test_cap_time_never_uses_z():
    assert cap_time(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == "2026-07-01T14:00:00+02:00"


def test_cap_feed_lists_delivered_alerts(client, alert):
    channel = ChannelFactory(kind="cap", language="fr", covers_all=True)
    deliver(alert, channel, "fr")
    parsed = feedparser.parse(client.get("/feeds/cap.xml").content)
    (entry,) = parsed.entries
    assert entry.link.endswith(f"/feeds/cap/{alert.pk}.xml")
    response = client.get(f"/feeds/cap/{alert.pk}.xml")
    assert response["Content-Type"].startswith("application/cap+xml")
    CAP_SCHEMA.validate(response.content)


def test_a_correction_in_place_updates_the_atom_entry(client, author, atom_channels):
    fr, _nl = atom_channels
    original = make_message(author=author, variants={"fr": "Rue fermée le 12", "nl": "Straat dicht op 12"})
    first = deliver(original, fr, "fr")
    correction = make_message(author=author, variants={"fr": "Rue fermée le 19", "nl": "Straat dicht op 12"})
    Message.objects.filter(pk=correction.pk).update(follows=original, is_correction=True, kind=MessageKind.UPDATE)
    later = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    second = deliver(correction, fr, "fr", receipt={"edited_in_place": True}, when=later)
    Delivery.objects.filter(pk=second.pk).update(reply_to=first)

    parsed = feedparser.parse(client.get("/feeds/fr.atom").content)

    (entry,) = parsed.entries
    assert entry.title == "Rue fermée le 19"
    assert entry.id.endswith(f":delivery-{first.pk}")
    assert entry.published_parsed[:5] == (2026, 11, 27, 13, 0)
    assert entry.updated_parsed[:5] == (2026, 11, 27, 15, 0)


def test_a_correction_on_the_cap_channel_is_an_update_referencing_the_alert(author, alert, settings):
    settings.TANDEM_PUBLIC_URL = "https://tandem.police.example"
    correction = make_message(author=author, variants={"fr": "Inondation à Ixelles", "nl": "Overstroming in Elsene"})
    Message.objects.filter(pk=correction.pk).update(
        kind=MessageKind.UPDATE, follows=alert, is_correction=True, approved_at=WHEN
    )
    correction.refresh_from_db()
    channel = ChannelFactory(kind="cap", language="fr", covers_all=True)
    original = Receipt(remote_id=f"cap-{alert.pk}")

    receipt = CapAdapter(channel).edit(original, Post(text="x", language="fr", message_id=correction.pk), "k-9")

    assert receipt.remote_id == f"cap-{correction.pk}"
    root = ET.fromstring(cap_document(correction))
    assert root.findtext(f"{CAP}msgType") == "Update"
    assert root.findtext(f"{CAP}references") == (
        f"tandem@tandem.police.example,tandem.police.example-tandem-{alert.pk},2026-11-27T14:00:00+01:00"
    )
    assert root.find(f"{CAP}info").findtext(f"{CAP}headline") == "Inondation à Ixelles"
