"""Feeds Tandem serves itself: an Atom feed per language or per channel (RFC 4287) and
the CAP 1.2 alerts (an Atom list of alerts plus one CAP document per message).

What appears is what the `atom` and `cap` channels delivered: a Delivery in state `sent`.
A retracted delivery disappears; exercises never appear in the Atom feeds, and appear in
CAP with status Exercise only through the per-message document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest
from django.utils import translation
from django.utils.feedgenerator import Atom1Feed, Enclosure
from django.utils.translation import gettext as _

from publisher.channels.cap import CapAdapter
from publisher.channels.counting import first_line
from publisher.channels.public import public_host, public_url
from publisher.media.images import RenditionSpec, rendition_for, rendition_url
from publisher.models import (
    Attachment,
    Channel,
    Delivery,
    DeliveryState,
    Language,
    Message,
    MessageKind,
    MessageStatus,
    Municipality,
    Variant,
)

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_LANGUAGES = {"fr": "fr-BE", "nl": "nl-BE", "de": "de-BE"}
FEED_LANGUAGES = CAP_LANGUAGES
BRUSSELS = ZoneInfo("Europe/Brussels")
FEED_SIZE = 50


def _first_line(text: str, limit: int = 140) -> str:
    return first_line(text, limit)


# --- Atom --------------------------------------------------------------------------------


def feed_deliveries(*, kind: str, channel: Channel | None = None, language: str = "") -> QuerySet[Delivery]:
    """What a feed shows: sent deliveries of `kind` channels, newest first, fixed query count."""
    qs = Delivery.objects.filter(state=DeliveryState.SENT, channel__kind=kind).exclude(
        occurrence__message__status=MessageStatus.EXERCISE
    )
    if channel is not None:
        qs = qs.filter(channel=channel)
    if language:
        qs = qs.filter(language=language)
    # An entry corrected in place shows once: as its correction, under its own atom:id.
    qs = qs.exclude(replies__state=DeliveryState.SENT, replies__occurrence__message__is_correction=True)
    return (
        qs.select_related("occurrence__message", "channel", "reply_to")
        .prefetch_related(Prefetch("occurrence__message__variants", queryset=Variant.objects.all()))
        .order_by("-sent_at", "-id")
    )


def _variant(delivery: Delivery) -> Variant | None:
    variants = {v.language: v for v in delivery.occurrence.message.variants.all()}
    return variants.get(delivery.language) or (variants.get("fr") if delivery.language == "de" else None)


class LanguageAtomFeed(Feed):
    """`/feeds/<language or channel id>.atom`."""

    feed_type = Atom1Feed

    def get_object(self, request: HttpRequest, key: str) -> dict[str, Any]:
        if key in FEED_LANGUAGES:
            return {"key": key, "language": key, "channel": None}
        if key.isdigit():
            channel = Channel.objects.filter(pk=int(key), kind="atom", enabled=True).first()
            if channel is not None:
                return {"key": key, "language": channel.language, "channel": channel}
        raise Http404("No such feed.")

    def title(self, obj: dict[str, Any]) -> str:
        # In the feed's own language, not the reader's interface language: a French feed is
        # read by French speakers whatever Accept-Language their feed reader sends.
        if obj["channel"] is not None:
            return str(obj["channel"].name)
        return {"fr": "Tandem — messages en français", "nl": "Tandem — berichten in het Nederlands"}.get(
            obj["language"], "Tandem — Mitteilungen auf Deutsch"
        )

    def link(self, obj: dict[str, Any]) -> str:
        # Also the feed's atom:id: stable and absolute.
        return public_url(f"/feeds/{obj['key']}.atom")

    def feed_url(self, obj: dict[str, Any]) -> str:
        return public_url(f"/feeds/{obj['key']}.atom")

    def description(self, obj: dict[str, Any]) -> str:
        return self.title(obj)

    def author_name(self) -> str:
        return str(getattr(settings, "TANDEM_FEED_AUTHOR", "Tandem"))

    def get_feed(self, obj: dict[str, Any], request: HttpRequest) -> Any:
        feed = super().get_feed(obj, request)
        feed.feed["language"] = FEED_LANGUAGES[obj["language"]]
        return feed

    def items(self, obj: dict[str, Any]) -> list[Delivery]:
        return list(feed_deliveries(kind="atom", channel=obj["channel"], language=obj["language"])[:FEED_SIZE])

    def item_title(self, item: Delivery) -> str:
        variant = _variant(item)
        return _first_line(variant.text) if variant else item.occurrence.message.title

    def item_description(self, item: Delivery) -> str:
        variant = _variant(item)
        return variant.text if variant else ""

    def item_link(self, item: Delivery) -> str:
        variant = _variant(item)
        if variant and variant.link:
            return variant.link
        return public_url(f"/feeds/{item.language}.atom#delivery-{item.pk}")

    @staticmethod
    def _entry(item: Delivery) -> Delivery:
        """The delivery whose entry this is: a correction made in place is the original's entry."""
        if item.reply_to is not None and (item.receipt or {}).get("edited_in_place"):
            return item.reply_to
        return item

    def item_guid(self, item: Delivery) -> str:
        entry = self._entry(item)
        created = entry.created_at.astimezone(BRUSSELS).date().isoformat()
        return f"tag:{public_host()},{created}:delivery-{entry.pk}"

    def item_pubdate(self, item: Delivery) -> datetime:
        entry = self._entry(item)
        return entry.sent_at or entry.updated_at

    def item_updateddate(self, item: Delivery) -> datetime:
        # RFC 4287: every entry MUST have atom:updated; Django writes it only from this.
        return item.sent_at or item.updated_at

    def item_enclosures(self, item: Delivery) -> list[Enclosure]:
        images = (item.receipt or {}).get("images", [])
        return [Enclosure(i["url"], str(i.get("size", 0)), i.get("mime_type", "image/jpeg")) for i in images]


# --- CAP 1.2 -----------------------------------------------------------------------------


def cap_time(value: datetime) -> str:
    """CAP `sent`: seconds precision and a numeric offset; UTC is written -00:00, never Z."""
    local = value.astimezone(BRUSSELS)
    text = local.strftime("%Y-%m-%dT%H:%M:%S%z")
    text = f"{text[:-2]}:{text[-2:]}"
    return text[:-6] + "-00:00" if text.endswith("+00:00") else text


def cap_sender() -> str:
    return str(getattr(settings, "TANDEM_CAP_SENDER", "") or f"tandem@{public_host()}")


def cap_identifier(message: Message) -> str:
    return f"{public_host()}-tandem-{message.pk}"


def _cap_sent(message: Message) -> str:
    # Stable once approved: follow-ups quote it in <references>.
    return cap_time(message.approved_at or message.created_at)


def cap_reference(message: Message) -> str:
    return f"{cap_sender()},{cap_identifier(message)},{_cap_sent(message)}"


URGENCY = {"urgent": "Immediate", "important": "Expected", "routine": "Future"}


def _per_language(value: Any, language: str, default: str = "") -> str:
    if isinstance(value, dict):
        return str(value.get(language) or value.get("fr") or default)
    return str(value) if value else default


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _areas(message: Message, language: str) -> list[tuple[str, list[str]]]:
    """(areaDesc, NIS codes) per part of the audience, named in the info's language."""

    def name(obj: Any) -> str:
        return str(getattr(obj, f"name_{language}", "") or getattr(obj, "name_fr", "") or obj)

    if message.audience_all:
        codes = list(Municipality.objects.values_list("nis_code", flat=True))
        return [({"fr": "Belgique", "nl": "België", "de": "Belgien"}[language], codes)]
    areas: list[tuple[str, list[str]]] = []
    for municipality in message.audience_municipalities.all():
        areas.append((name(municipality), [municipality.nis_code]))
    for zone in message.audience_zones.all():
        # A zone's official label is in one language ("PZ Brussel HOOFDSTAD Elsene"): name it
        # by its municipalities, in the info's language.
        members = list(zone.municipalities.order_by("nis_code"))
        with translation.override(language if language in ("fr", "nl") else "fr"):
            description = _("Police zone %(code)s: %(municipalities)s") % {
                "code": zone.code,
                "municipalities": ", ".join(name(m) for m in members),
            }
        areas.append((description, [m.nis_code for m in members]))
    for province in message.audience_provinces.all():
        codes = list(Municipality.objects.filter(province=province).values_list("nis_code", flat=True))
        areas.append((name(province), codes))
    for segment in message.audience_segments.all():
        areas.append((name(segment), list(segment.municipalities.values_list("nis_code", flat=True))))
    if message.approved_audience:
        # A segment changed after approval does not widen what the approval covered.
        bound = set(message.approved_audience)
        areas = [(desc, [code for code in codes if code in bound]) for desc, codes in areas]
        areas = [(desc, codes) for desc, codes in areas if codes]
    return areas


def _resources(attachments: Iterable[Attachment], language: str) -> list[dict[str, Any]]:
    spec = RenditionSpec.from_limits(CapAdapter.limits)
    found = []
    for attachment in attachments:
        if attachment.language and attachment.language != language:
            continue
        try:
            rendition = rendition_for(attachment.image.path, spec, kind="cap")
        except (OSError, ValueError):
            continue  # the stored file is missing: say nothing rather than a broken link
        found.append(
            {
                "resourceDesc": attachment.alt_for(language) or attachment.alt_for("fr") or "Image",
                "mimeType": rendition.mime_type,
                "size": str(rendition.size),
                "uri": rendition_url(rendition),
                "digest": hashlib.sha1(rendition.read(), usedforsecurity=False).hexdigest(),  # SHA-1: CAP 1.2 says so
            }
        )
    return found


def _thread(message: Message) -> list[Message]:
    """The earlier messages this one follows up on, oldest first."""
    chain: list[Message] = []
    current = message.follows
    while current is not None and current not in chain:
        chain.append(current)
        current = current.follows
    return list(reversed(chain))


def cap_document(message: Message) -> bytes:
    """One CAP 1.2 <alert> for a message: one <info> per language, one <area> per audience part."""
    ET.register_namespace("", CAP_NS)
    cap = dict(message.cap or {})
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(alert, "identifier", cap_identifier(message))
    _sub(alert, "sender", cap_sender())
    _sub(alert, "sent", _cap_sent(message))
    _sub(alert, "status", "Exercise" if message.status == MessageStatus.EXERCISE else "Actual")
    _sub(alert, "msgType", message.kind if message.kind in MessageKind.values else "Alert")
    _sub(alert, "scope", "Public")
    thread = _thread(message)
    if message.kind in (MessageKind.UPDATE, MessageKind.CANCEL) and thread:
        _sub(alert, "references", " ".join(cap_reference(m) for m in thread))
    variants = {v.language: v for v in message.variants.all()}
    attachments = list(message.attachments.all())
    categories = cap.get("category") or ["Safety"]
    for language in (lang for lang in Language.values if lang in variants):
        variant = variants[language]
        info = _sub(alert, "info")
        _sub(info, "language", CAP_LANGUAGES[language])
        for category in [categories] if isinstance(categories, str) else categories:
            _sub(info, "category", str(category))
        _sub(info, "event", _per_language(cap.get("event"), language, message.title))
        _sub(info, "urgency", str(cap.get("urgency") or URGENCY.get(message.urgency, "Unknown")))
        _sub(info, "severity", str(cap.get("severity") or "Unknown"))
        _sub(info, "certainty", str(cap.get("certainty") or "Unknown"))
        sender_name = str(getattr(settings, "TANDEM_CAP_SENDER_NAME", ""))
        if sender_name:
            _sub(info, "senderName", sender_name)
        _sub(info, "headline", _first_line(variant.text, 160))
        _sub(info, "description", variant.text)
        instruction = _per_language(cap.get("instruction"), language)
        if instruction:
            _sub(info, "instruction", instruction)
        if variant.link:
            _sub(info, "web", variant.link)
        for resource in _resources(attachments, language):
            element = _sub(info, "resource")
            for key in ("resourceDesc", "mimeType", "size", "uri", "digest"):
                _sub(element, key, resource[key])
        for description, codes in _areas(message, language):
            area = _sub(info, "area")
            _sub(area, "areaDesc", description)
            for code in codes:
                geocode = _sub(area, "geocode")
                _sub(geocode, "valueName", "NIS")
                _sub(geocode, "value", code)
    return ET.tostring(alert, encoding="UTF-8", xml_declaration=True)


def cap_feed_messages() -> QuerySet[Message]:
    """Alerts a `cap` channel delivered, newest first (exercises included: CAP marks them)."""
    delivered = Delivery.objects.filter(channel__kind="cap", state=DeliveryState.SENT).values("occurrence__message_id")
    return (
        Message.objects.filter(pk__in=delivered)
        .prefetch_related(Prefetch("variants", queryset=Variant.objects.all()))
        .order_by("-approved_at", "-id")
    )


class CapAtomFeed(Feed):
    """`/feeds/cap.xml`: an Atom index of the CAP alerts, each linking to its CAP document.

    Bilingual (each entry names the alert in French and Dutch): it claims no single language,
    rather than the request's (Django's default, "en" for a feed reader)."""

    feed_type = Atom1Feed
    title = "Tandem — CAP"
    description = "Alertes CAP 1.2 / CAP 1.2-waarschuwingen"

    def get_feed(self, obj: Any, request: HttpRequest) -> Any:
        feed = super().get_feed(obj, request)
        feed.feed["language"] = None
        return feed

    def link(self) -> str:
        return public_url("/feeds/cap.xml")

    def feed_url(self) -> str:
        return public_url("/feeds/cap.xml")

    def author_name(self) -> str:
        return str(getattr(settings, "TANDEM_FEED_AUTHOR", "Tandem"))

    def items(self) -> list[Message]:
        return list(cap_feed_messages()[:FEED_SIZE])

    def item_title(self, item: Message) -> str:
        variants = {v.language: v for v in item.variants.all()}
        return " / ".join(_first_line(variants[lang].text, 80) for lang in Language.values if lang in variants)

    def item_description(self, item: Message) -> str:
        return self.item_title(item)

    def item_link(self, item: Message) -> str:
        return public_url(f"/feeds/cap/{item.pk}.xml")

    def item_guid(self, item: Message) -> str:
        return cap_identifier(item)

    def item_pubdate(self, item: Message) -> datetime:
        return item.approved_at or item.created_at

    def item_updateddate(self, item: Message) -> datetime:
        return item.updated_at


def cap_message(message_id: int) -> Message:
    """A message the CAP feed lists, for its per-message document."""
    message = cap_feed_messages().filter(pk=message_id).first()
    if message is None:
        raise Http404("No such alert.")
    return message
