"""CAP 1.2: alerts served by Tandem (/feeds/cap.xml and one document per message).

Like Atom, nothing is pushed: a sent delivery on a `cap` channel lists the message in the
CAP feed; the document itself is built from the message by feeds.cap_document (one
<info> per language, so one cap channel is enough for a bilingual alert).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from publisher.channels.base import ChannelAdapter, Limits, Post, Problem, Receipt
from publisher.channels.counting import first_line
from publisher.channels.public import public_url

# CAP 1.2 value lists (OASIS CAP 1.2, §3.2.2), in the standard's order; the API offers the same.
CATEGORIES = (
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
)
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")


class CapAdapter(ChannelAdapter):
    kind = "cap"
    label = "CAP"
    limits = Limits(images_max=10, image_bytes_max=1_000_000, image_side_max=1600, image_formats=("JPEG", "PNG"))
    supports_idempotency = True
    supports_replies = True
    supports_retract = True
    # A correction is a new alert with msgType Update whose <references> names the original
    # (feeds.cap_document follows Message.follows): CAP's own way of changing an alert.
    supports_edit = True

    def preview_summary(self, post: Post) -> tuple[tuple[str, str], ...]:
        # The feed's <info> for this language: its headline is the text's first line.
        return ((_("Headline"), first_line(post.text, 160)), (_("Web"), post.link or "—"))

    def check(self, post: Post) -> list[Problem]:
        problems = []
        categories = post.cap.get("category") or ["Safety"]
        for value in [categories] if isinstance(categories, str) else categories:
            if value not in CATEGORIES:
                problems.append(Problem("cap_category", _("unknown CAP category “%(value)s”") % {"value": value}))
        for key, allowed in (("urgency", URGENCIES), ("severity", SEVERITIES), ("certainty", CERTAINTIES)):
            value = post.cap.get(key)
            if value and value not in allowed:
                problems.append(
                    Problem(f"cap_{key}", _("unknown CAP %(field)s “%(value)s”") % {"field": key, "value": value})
                )
        return problems

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        url = public_url(f"/feeds/cap/{post.message_id}.xml")
        return Receipt(remote_id=f"cap-{post.message_id}", url=url, extra={"exercise": post.exercise})

    def edit(self, receipt: Receipt, post: Post, idempotency_key: str) -> Receipt:
        return self.publish(post, idempotency_key)

    def retract(self, receipt: Receipt) -> None:
        return None
