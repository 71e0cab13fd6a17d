"""The embedded default: writes each post as JSON plus its image renditions under
var/outbox/channel-<id>/, so a newcomer sees exactly what would have gone out.

Channel.config may make an outbox count like a network, so a demo shows what a too-long
text looks like: {"counts_like": "mastodon" | "x", "text_max": 500}. Without it there is no
text limit."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext_lazy

from publisher.channels.base import ChannelAdapter, Limits, Post, Problem, Receipt, TextCount, links_shown
from publisher.channels.checking import count_problems, x_measure
from publisher.channels.counting import (
    X_MAX,
    code_points,
    compose,
    cut_at,
    mastodon_length,
)
from publisher.media.images import RenditionSpec, rendition_for


class OutboxAdapter(ChannelAdapter):
    kind = "outbox"
    label = gettext_lazy("Outbox")
    limits = Limits(text_max=None, images_max=10, image_bytes_max=5_000_000, image_side_max=2048)
    supports_idempotency = True  # the key names the file: publishing twice overwrites, never duplicates
    supports_replies = True
    supports_retract = True

    def _folder(self) -> Path:
        return Path(settings.TANDEM_OUTBOX_DIR) / f"channel-{self.channel.pk}"

    def limits_in_force(self) -> Limits:
        config = self.channel.config or {}
        if config.get("counts_like") == "x":
            return replace(self.limits, text_max=X_MAX, text_unit="weighted")
        text_max = int(config["text_max"]) if str(config.get("text_max", "")).isdigit() else None
        if config.get("counts_like") == "mastodon":
            return replace(self.limits, text_max=text_max or 500, text_unit="graphemes")
        return replace(self.limits, text_max=text_max)

    def measure(self, post: Post) -> TextCount:
        config = self.channel.config or {}
        rule = str(config.get("counts_like", ""))
        if rule == "x":
            return x_measure(post)
        sent = compose(post.text, post.link)
        limit = self.limits_in_force().text_max
        if rule == "mastodon" and limit:
            return TextCount(
                text=sent,
                count=mastodon_length(sent),
                limit=limit,
                unit="graphemes",
                cut=cut_at(sent, mastodon_length, limit),
                links=links_shown(sent, keep=30),
                rule="mastodon",
            )
        cut = cut_at(sent, code_points, limit) if limit else None
        return TextCount(text=sent, count=code_points(sent), limit=limit, cut=cut, links=links_shown(sent), rule="")

    def check(self, post: Post) -> list[Problem]:
        return count_problems(self.measure(post))

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        folder = self._folder()
        folder.mkdir(parents=True, exist_ok=True)
        images = []
        spec = RenditionSpec.from_limits(self.limits)
        for index, image in enumerate(post.images):
            rendition = rendition_for(image.path, spec, kind=self.kind)
            target = folder / f"{idempotency_key}-{index}{rendition.path.suffix}"
            target.write_bytes(rendition.read())
            images.append({"file": target.name, "alt": image.alt, "width": rendition.width, "height": rendition.height})
        document = {**asdict(post), "images": images, "channel": self.channel.name}
        path = folder / f"{idempotency_key}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        tmp.replace(path)  # atomic: a reader never sees half a post
        return Receipt(remote_id=idempotency_key, url=path.as_uri())

    def retract(self, receipt: Receipt) -> None:
        """The post goes with the image copies written beside it (named in its JSON)."""
        folder = self._folder()
        path = folder / f"{receipt.remote_id}.json"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            document = {}
        for image in document.get("images", []) if isinstance(document, dict) else []:
            name = str(image.get("file", "")) if isinstance(image, dict) else ""
            # Only a file of this post, in this folder: the JSON is ours, but never trust a path.
            if name.startswith(f"{receipt.remote_id}-") and Path(name).name == name:
                (folder / name).unlink(missing_ok=True)
        path.unlink(missing_ok=True)
