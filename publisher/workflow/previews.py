"""Previews as each network shows a post: one card per target channel, per language.

Every figure on a card comes from the adapter the publish task uses: its `measure` (the
text as counted, cut and linked), its `check` (the problems that block submission) and its
image limits through the rendition geometry of media.images. Nothing is counted twice: the
page asks for the cards and only draws them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from publisher.channels.base import LinkShown, Post, PostImage, Problem, TextCount
from publisher.channels.checking import image_shown_warnings
from publisher.channels.checks import message_posts, post_as_sent
from publisher.channels.registry import get_adapter
from publisher.media.images import RenditionFrame, RenditionSpec, rendition_frame
from publisher.models import Attachment, Channel, Message
from publisher.territory import selectors as territory
from publisher.workflow import selectors

UNIT_LABELS = {
    "characters": gettext_lazy("characters"),
    "graphemes": gettext_lazy("characters"),
    "weighted": gettext_lazy("weighted characters"),
    "utf16": gettext_lazy("UTF-16 units"),
    "bytes": gettext_lazy("bytes"),
}
# How each network counts, in the author's words (shared/reference/channels.md has the sources).
RULE_LABELS = {
    "mastodon": gettext_lazy("Mastodon: every link counts 23 characters."),
    "x": gettext_lazy("X (twitter-text): every link counts 23; emoji and non-Latin characters count 2."),
    "bluesky": gettext_lazy("Bluesky: links count in full; at most 300 characters and 3000 bytes."),
    "telegram": gettext_lazy("Telegram: links count in full; a photo caption holds 1024."),
    "facebook": gettext_lazy("Facebook: links count in full."),
    "instagram": gettext_lazy("Instagram: caption of at most 2200 characters; links count in full."),
}


@dataclass(frozen=True)
class Piece:
    """A run of the text as the network prints it: plain text or a link; `over` when it lies
    past the network's limit."""

    text: str
    over: bool = False
    href: str = ""
    clickable: bool = True


@dataclass(frozen=True)
class CardImage:
    url: str
    alt: str
    width: int
    height: int
    frame: RenditionFrame

    @property
    def frame_style(self) -> str:
        return f"aspect-ratio: {self.frame.width} / {self.frame.height}"

    @property
    def box_style(self) -> str:
        f = self.frame
        return (
            f"left: {f.left * 100:.2f}%; top: {f.top * 100:.2f}%; "
            f"width: {f.box_width * 100:.2f}%; height: {f.box_height * 100:.2f}%"
        )


@dataclass(frozen=True)
class PreviewCard:
    language: str
    channel: Channel
    network: str
    measured: TextCount | None
    pieces: tuple[Piece, ...] = ()
    images: tuple[CardImage, ...] = ()
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    summary: tuple[tuple[str, str], ...] = ()

    @property
    def over(self) -> bool:
        return any(p.code == "text_too_long" for p in self.problems)

    @property
    def unit_label(self) -> str:
        unit = self.measured.unit if self.measured else ""
        return str(UNIT_LABELS.get(unit, UNIT_LABELS["characters"]))

    @property
    def rule_label(self) -> str:
        rule = self.measured.rule if self.measured else ""
        return str(RULE_LABELS.get(rule, ""))

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    def as_dict(self) -> dict[str, object]:
        measured = self.measured
        return {
            "language": self.language,
            "channel": self.channel.name,
            "channel_id": self.channel.pk,
            "kind": self.channel.kind,
            "network": self.network,
            "count": measured.count if measured else None,
            "limit": measured.limit if measured else None,
            "unit": measured.unit if measured else "",
            "rule": measured.rule if measured else "",
            "also": [{"count": c, "limit": lim, "unit": u} for c, lim, u in measured.also] if measured else [],
            "pieces": [{"text": p.text, "over": p.over, "href": p.href, "clickable": p.clickable} for p in self.pieces],
            "images": [
                {
                    "url": image.url,
                    "alt": image.alt,
                    "width": image.width,
                    "height": image.height,
                    "rendition": {"width": image.frame.width, "height": image.frame.height},
                    "box": {
                        "left": round(image.frame.left, 4),
                        "top": round(image.frame.top, 4),
                        "width": round(image.frame.box_width, 4),
                        "height": round(image.frame.box_height, 4),
                    },
                }
                for image in self.images
            ],
            "problems": [{"code": p.code, "message": p.message, "severity": p.severity} for p in self.problems],
            "notes": list(self.notes),
            "summary": [{"label": label, "value": value} for label, value in self.summary],
        }


def text_pieces(measured: TextCount) -> tuple[Piece, ...]:
    """Split the text at its links and at the cut; a link is printed the network's way."""
    text, cut = measured.text, measured.cut
    limit_at = len(text) if cut is None else cut
    pieces: list[Piece] = []

    def plain(start: int, end: int) -> None:
        if start < limit_at < end:
            plain(start, limit_at)
            plain(limit_at, end)
        elif start < end:
            pieces.append(Piece(text[start:end], over=start >= limit_at))

    position = 0
    links: Iterable[LinkShown] = sorted(measured.links, key=lambda link: link.start)
    for link in links:
        if link.start < position:
            continue
        plain(position, link.start)
        pieces.append(Piece(link.shown, over=link.end > limit_at, href=link.url, clickable=link.clickable))
        position = link.end
    plain(position, len(text))
    return tuple(pieces)


def _notes(kind: str, post: Post, measured: TextCount | None) -> tuple[str, ...]:
    notes = []
    if kind == "telegram" and post.images and measured and measured.count > 1024:
        notes.append(_("Longer than a photo caption (1024): the text follows the photo as its own message."))
    if kind == "instagram" and measured and measured.links:
        notes.append(_("Instagram does not make links in a caption clickable."))
    if kind in {"webhook", "cap", "atom", "email"}:
        notes.append(_("Sent in full: this channel has no text limit."))
    return tuple(notes)


def card_for(
    channel: Channel,
    language: str,
    post: Post | None,
    urls: Mapping[str, str],
    *,
    follows: bool = False,
    correction: bool = False,
) -> PreviewCard:
    """One channel's card; `urls` maps a PostImage path to the URL the page shows it from.
    A follow-up's or a correction's card shows the post as that network will get it."""
    try:
        adapter = get_adapter(channel)
    except ImproperlyConfigured:
        problem = Problem(code="unknown_kind", message=_("no adapter for kind “%(kind)s”") % {"kind": channel.kind})
        return PreviewCard(language, channel, channel.kind, None, problems=(problem,))
    if post is not None:
        post = post_as_sent(post, adapter, follows=follows, correction=correction)
    if post is None:
        return PreviewCard(
            language,
            channel,
            str(adapter.label or channel.kind),
            None,
            notes=(_("text not written yet"),),
        )
    measured = adapter.measure(post)
    limits = adapter.limits_in_force()
    spec = RenditionSpec.from_limits(limits)
    images = tuple(
        CardImage(
            url=urls.get(image.path, ""),
            alt=image.alt,
            width=image.width,
            height=image.height,
            frame=rendition_frame(image.width, image.height, spec),
        )
        for image in post.images
        if image.width and image.height
    )
    problems = tuple(adapter.check(post)) + tuple(image_shown_warnings(post, limits))
    return PreviewCard(
        language=language,
        channel=channel,
        network=str(adapter.label or channel.kind),
        measured=measured,
        pieces=text_pieces(measured),
        images=images,
        problems=problems,
        notes=_notes(channel.kind, post, measured),
        summary=adapter.preview_summary(post),
    )


def _image_urls(attachments: Iterable[Attachment]) -> dict[str, str]:
    return {a.image.name or "": a.image.url for a in attachments if a.image}


def message_preview_cards(message: Message) -> list[PreviewCard]:
    """The cards of a saved message, for its page and the approver: routed as it will be."""
    posts = message_posts(message)
    urls = _image_urls(message.attachments.all())
    follows, correction = message.follows_id is not None, message.is_correction
    return [
        card_for(
            route.channel,
            route.variant_language,
            posts.get(route.variant_language),
            urls,
            follows=follows,
            correction=correction,
        )
        for route in territory.channels_for(message)
    ]


@dataclass(frozen=True)
class DraftVariant:
    text: str
    link: str = ""


@dataclass(frozen=True)
class DraftImage:
    """The image chosen in the form but not uploaded yet: the browser knows its size and shows
    it from the file; the server frames it like the saved ones."""

    width: int
    height: int
    alts: Mapping[str, str] = field(default_factory=dict)
    language: str = ""


# Stands for the chosen file's path: the card's image has no URL, the page fills it in.
NEW_IMAGE = "new-image"


@dataclass(frozen=True)
class DraftAudience:
    municipalities: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    segments: tuple[int, ...] = ()
    everywhere: bool = False


def draft_preview_cards(
    *,
    variants: Mapping[str, DraftVariant],
    audience: DraftAudience,
    attachments: Iterable[Attachment] = (),
    alts: Mapping[tuple[int, str], str] | None = None,
    title: str = "",
    exercise: bool = False,
    new_image: DraftImage | None = None,
    follows: bool = False,
    correction: bool = False,
) -> list[PreviewCard]:
    """The cards of a message being composed (nothing saved): its texts as typed, its audience's
    routes, and the saved images with the alt texts as typed (`alts[(attachment id, language)]`)."""
    alts = alts or {}
    written = [lang for lang, variant in variants.items() if variant.text.strip() or variant.link.strip()]
    preview = selectors.audience_preview(
        municipalities=audience.municipalities,
        zones=audience.zones,
        provinces=audience.provinces,
        segments=audience.segments,
        everywhere=audience.everywhere,
        written=written,
    )
    attachments = list(attachments)
    posts: dict[str, Post] = {}
    for language in written:
        variant = variants[language]
        images = tuple(
            PostImage(
                path=a.image.name or "",
                alt=alts.get((a.pk, language), a.alt_for(language)),
                width=a.width,
                height=a.height,
                format=a.format,
            )
            for a in attachments
            if not a.language or a.language == language
        )
        if new_image is not None and new_image.language in ("", language):
            alt = new_image.alts.get(language, "")
            images += (PostImage(NEW_IMAGE, alt, new_image.width, new_image.height, format=""),)
        posts[language] = Post(
            text=variant.text, language=language, link=variant.link, images=images, title=title, exercise=exercise
        )
    urls = _image_urls(attachments)
    return [
        card_for(route.channel, route.language, posts.get(route.language), urls, follows=follows, correction=correction)
        for route in preview.routes
    ]
