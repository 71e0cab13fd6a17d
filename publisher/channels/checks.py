"""Before approval: what each routed channel would refuse, per language, ready to show."""

from __future__ import annotations

from dataclasses import replace

from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from django.utils.translation import gettext as _

from publisher.channels.base import ChannelAdapter, Post, PostImage, Problem, Receipt
from publisher.channels.registry import get_adapter
from publisher.models import Channel, Message, MessageStatus
from publisher.territory import selectors


def message_posts(message: Message) -> dict[str, Post]:
    """Each variant as the Post its channels receive (images with that language's alt text)."""
    variants = {v.language: v for v in message.variants.all()}
    attachments = list(message.attachments.all())
    posts = {}
    for language, variant in variants.items():
        images = tuple(
            PostImage(
                path=attachment.image.name or "",  # check() is pure: it never opens the file
                alt=attachment.alt_for(language),
                width=attachment.width,
                height=attachment.height,
                format=attachment.format,
            )
            for attachment in attachments
            if not attachment.language or attachment.language == language
        )
        posts[language] = Post(
            text=variant.text,
            language=language,
            link=variant.link,
            images=images,
            title=message.title,
            message_id=message.pk,
            exercise=message.status == MessageStatus.EXERCISE,
            cap=dict(message.cap or {}),
        )
    return posts


def post_as_sent(post: Post, adapter: ChannelAdapter, *, follows: bool, correction: bool) -> Post:
    """The post as this network will get it: a follow-up is a reply on the original's thread,
    and a correction where the network cannot edit is a reply starting "Correction:". The
    checks before approval and the preview cards both judge this, not the bare text."""
    if follows and adapter.supports_replies:
        post = replace(post, reply_to=Receipt(remote_id=""))
    if correction and not adapter.supports_edit:
        post = replace(post, text=correction_reply_text(post.text, post.language))
    return post


def correction_reply_text(text: str, language: str) -> str:
    """Where a network cannot edit a post, its correction is a reply on the post's thread that
    says it is one, in the reader's language (checked here as it will be sent)."""
    with translation.override(language):
        return _("Correction: %(text)s") % {"text": text}


def message_channel_problems(message: Message) -> list[tuple[str, Channel, Problem]]:
    """(channel language, channel, problem) for every routed channel, with the problem's
    message formatted as "NL — Bluesky: 312/300 characters" in the active language."""
    posts = message_posts(message)
    found: list[tuple[str, Channel, Problem]] = []
    for route in selectors.channels_for(message):
        post = posts.get(route.variant_language)
        if post is None:
            continue
        channel = route.channel
        try:
            adapter = get_adapter(channel)
            post = post_as_sent(post, adapter, follows=message.follows_id is not None, correction=message.is_correction)
            problems = adapter.check(post)
        except ImproperlyConfigured:
            problems = [
                Problem(code="unknown_kind", message=_("no adapter for kind “%(kind)s”") % {"kind": channel.kind})
            ]
        for problem in problems:
            text = _("%(language)s — %(channel)s: %(problem)s") % {
                "language": channel.language.upper(),
                "channel": channel.name,
                "problem": problem.message,
            }
            found.append((channel.language, channel, Problem(problem.code, text, problem.severity)))
    return found


def message_channel_errors(message: Message) -> list[str]:
    """The blocking problems only (warnings do not stop a submission)."""
    return [
        problem.message for _lang, _channel, problem in message_channel_problems(message) if problem.severity == "error"
    ]
