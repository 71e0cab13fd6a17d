"""The embedded default: writes each post as JSON plus its image renditions under
var/outbox/channel-<id>/, so a newcomer sees exactly what would have gone out."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from django.conf import settings

from publisher.channels.base import ChannelAdapter, Limits, Post, Problem, Receipt
from publisher.media.images import RenditionSpec, rendition_for


class OutboxAdapter(ChannelAdapter):
    kind = "outbox"
    label = "Outbox"
    limits = Limits(text_max=None, images_max=10, image_bytes_max=5_000_000, image_side_max=2048)
    supports_idempotency = True  # the key names the file: publishing twice overwrites, never duplicates
    supports_replies = True
    supports_retract = True

    def _folder(self) -> Path:
        return Path(settings.TANDEM_OUTBOX_DIR) / f"channel-{self.channel.pk}"

    def check(self, post: Post) -> list[Problem]:
        return []

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
