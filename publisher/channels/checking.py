"""Problems shared by every network's `check`: text length, image count, alt text.

Messages are translated in the active language and name the numbers a writer needs to fix
the post ("312/300 characters")."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from publisher.channels.base import Limits, Post, Problem, TextCount, links_shown
from publisher.channels.counting import X_MAX, compose, x_cut, x_text, x_urls, x_weighted_length


def text_length_problem(count: int, limit: int, *, unit: str = "characters") -> Problem | None:
    if count <= limit:
        return None
    if unit == "bytes":
        message = _("%(count)s/%(limit)s bytes") % {"count": count, "limit": limit}
    else:
        message = _("%(count)s/%(limit)s characters") % {"count": count, "limit": limit}
    return Problem(code="text_too_long", message=message)


def count_problems(measured: TextCount) -> list[Problem]:
    """The text is over the network's limit, in the unit that network counts."""
    rules = [(measured.count, measured.limit, "characters"), *measured.also]
    found = [text_length_problem(count, limit, unit=unit) for count, limit, unit in rules if limit is not None]
    return [problem for problem in found if problem]


def image_problems(post: Post, limits: Limits) -> list[Problem]:
    problems: list[Problem] = []
    count = len(post.images)
    if limits.images_required and count == 0:
        problems.append(Problem(code="image_required", message=_("this network needs at least one image")))
    if count > limits.images_max:
        problems.append(
            Problem(
                code="too_many_images",
                message=ngettext(
                    "%(count)s images, at most %(limit)s allowed",
                    "%(count)s images, at most %(limit)s allowed",
                    limits.images_max,
                )
                % {"count": count, "limit": limits.images_max},
            )
        )
    for number, image in enumerate(post.images, start=1):
        alt = image.alt.strip()
        if limits.alt_text_required and not alt:
            problems.append(
                Problem(code="alt_missing", message=_("image %(number)s has no alt text") % {"number": number})
            )
        if limits.alt_text_max is not None and len(alt) > limits.alt_text_max:
            problems.append(
                Problem(
                    code="alt_too_long",
                    message=_("alt text of image %(number)s: %(count)s/%(limit)s characters")
                    % {"number": number, "count": len(alt), "limit": limits.alt_text_max},
                )
            )
        if limits.image_width_min and image.width and image.width < limits.image_width_min:
            problems.append(
                Problem(
                    code="image_small",
                    message=_("image %(number)s is %(width)s pixels wide; this network enlarges it from %(minimum)s")
                    % {"number": number, "width": image.width, "minimum": limits.image_width_min},
                    severity="warning",
                )
            )
    return problems


def image_shown_warnings(post: Post, limits: Limits) -> list[Problem]:
    """Images narrower than the network shows them: enlarged, hence blurry."""
    shown = limits.image_shown_width
    return [
        Problem(
            code="image_small",
            message=_("image %(number)s is %(width)s pixels wide; this network enlarges it from %(minimum)s")
            % {"number": number, "width": image.width, "minimum": shown},
            severity="warning",
        )
        for number, image in enumerate(post.images, start=1)
        if shown
        and image.width
        and image.width < shown
        and not (limits.image_width_min and image.width < limits.image_width_min)  # check() already says so
    ]


def x_measure(post: Post) -> TextCount:
    """A post as X counts it (twitter-text weights, every link 23) and prints it: t.co shows a
    link without its scheme, cut after about 25 characters. The X adapter and an outbox that
    counts like X both measure with this."""
    sent = compose(post.text, post.link)
    text = x_text(sent)
    return TextCount(
        text=text,
        count=x_weighted_length(sent),
        limit=X_MAX,
        unit="weighted",
        cut=x_cut(sent),
        links=links_shown(text, keep=25, spans=x_urls(sent)),
        rule="x",
    )
