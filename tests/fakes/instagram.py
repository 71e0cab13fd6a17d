"""Fake Instagram Graph API content publishing (developers.facebook.com/docs/
instagram-platform/content-publishing, IG User Media and error-codes references).

Enforces: the user token (code 190); a container per image that FETCHES `image_url` over
HTTP from our public URL (a local server in tests), refusing a fetch failure (2207052),
anything but JPEG, more than 8 MiB (36000/2207004), an aspect ratio outside 4:5–1.91:1,
captions over 2200 characters; carousels of 2–10 finished children; the container status
state machine (IN_PROGRESS → FINISHED → PUBLISHED, or EXPIRED); media_publish only for a
FINISHED container; the content_publishing_limit quota. Comments (IG Media comments
reference): POST /{ig-media-id}/comments with a required `message`, on published media
only (an unknown id is error 100/33); they do not count against the publishing quota.
"""

from __future__ import annotations

import io
import itertools
import urllib.request

from PIL import Image

from tests.fakes.base import FakeServer, Reply, Request
from tests.fakes.facebook import graph_error


class FakeInstagram(FakeServer):
    name = "instagram"

    def __init__(self) -> None:
        super().__init__()
        self.user_id = "17841400000000001"
        self.token = ""
        self.containers: dict[str, dict] = {}
        self.media: dict[str, dict] = {}
        self.fetched: list[str] = []
        self.polls_in_progress = 1  # status reads answering IN_PROGRESS before FINISHED
        self.quota_usage = 0
        self.quota_total = 50
        self._ids = itertools.count(18_000_000_000_000_001)
        v = r"/v\d+\.\d+"
        self.route("POST", v + r"/(?P<user>\d+)/media", self.create_container)
        self.route("POST", v + r"/(?P<user>\d+)/media_publish", self.publish)
        self.route("GET", v + r"/(?P<user>\d+)/content_publishing_limit", self.limit)
        self.route("GET", v + r"/(?P<id>\d+)", self.read)
        self.route("POST", v + r"/(?P<id>\d+)/comments", self.comment)
        self.comments: dict[str, dict] = {}

    def expire_token(self) -> None:
        """The user token expired (code 190)."""
        self.token = "expired-" + self.token

    def _auth(self, request: Request) -> Reply | None:
        if (request.bearer() or request.field("access_token")) != self.token or not self.token:
            return graph_error(400, "Error validating access token: Session has expired.", 190, 463)
        if "user" in request.match.groupdict() and request.match["user"] != self.user_id:
            return graph_error(400, "Unsupported post request.", 100, 33, "GraphMethodException")
        return None

    def _fetch(self, url: str) -> tuple[bytes | None, Reply | None]:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local test server
                data = response.read(8 * 1024 * 1024 + 1)
        except OSError:
            return None, graph_error(
                400, "Media download has failed. The media URI doesn't meet our requirements.", 9004, 2207052
            )
        self.fetched.append(url)
        if len(data) > 8 * 1024 * 1024:
            return None, graph_error(
                400, "The image is too large to download. It should be less than 8 MiB.", 36000, 2207004
            )
        try:
            with Image.open(io.BytesIO(data)) as img:
                fmt, (width, height) = img.format, img.size
        except OSError:
            fmt, width, height = None, 1, 1
        if fmt != "JPEG":
            return None, graph_error(400, "Only photo or video can be accepted as media type.", 9004, 2207026)
        if not 0.8 - 0.005 <= width / height <= 1.91 + 0.005:
            return None, graph_error(
                400, f"The submitted image with aspect ratio ({width}/{height}) cannot be published.", 36003, 2207009
            )
        return data, None

    def create_container(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        caption = request.field("caption", "") or ""
        if len(caption) > 2200:
            return graph_error(400, "The caption is too long.", 100, 2207010)
        container_id = str(next(self._ids))
        if request.field("media_type") == "CAROUSEL":
            children = [c for c in (request.field("children") or "").split(",") if c]
            if not 2 <= len(children) <= 10:
                return graph_error(400, "Carousels need 2 to 10 children.", 100, 2207028)
            for child in children:
                entry = self.containers.get(child)
                if entry is None or not entry["carousel_item"] or entry["status"] != "FINISHED":
                    return graph_error(400, f"Invalid child {child}.", 100, 2207028)
            self.containers[container_id] = {
                "status": "IN_PROGRESS",
                "polls": self.polls_in_progress,
                "caption": caption,
                "children": children,
                "carousel_item": False,
            }
            return Reply(200, {"id": container_id})
        image_url = request.field("image_url")
        if not image_url:
            return graph_error(400, "(#100) The parameter image_url is required.", 100)
        _data, failure = self._fetch(image_url)
        if failure:
            return failure
        self.containers[container_id] = {
            "status": "IN_PROGRESS",
            "polls": self.polls_in_progress,
            "caption": caption,
            "alt_text": request.field("alt_text"),
            "image_url": image_url,
            "carousel_item": request.field("is_carousel_item") == "true",
        }
        return Reply(200, {"id": container_id})

    def read(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        identifier = request.match["id"]
        if identifier in self.containers:
            container = self.containers[identifier]
            if container["status"] == "IN_PROGRESS":
                if container["polls"] > 0:
                    container["polls"] -= 1
                else:
                    container["status"] = "FINISHED"
            return Reply(200, {"id": identifier, "status_code": container["status"], "status": container["status"]})
        if identifier in self.media:
            return Reply(200, {"id": identifier, "permalink": f"https://www.instagram.com/p/{identifier}/"})
        return graph_error(400, "Unsupported get request.", 100, 33, "GraphMethodException")

    def publish(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        container = self.containers.get(request.field("creation_id") or "")
        if container is None:
            return graph_error(400, "Media ID is not available", 9007, 2207027)
        if container["status"] != "FINISHED":
            return graph_error(400, "The media is not ready for publishing, please wait for a moment", 9007, 2207027)
        if self.quota_usage >= self.quota_total:
            return graph_error(400, "Application request limit reached", 9, 2207042)
        container["status"] = "PUBLISHED"
        self.quota_usage += 1
        media_id = str(next(self._ids))
        self.media[media_id] = container
        return Reply(200, {"id": media_id})

    def limit(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        return Reply(
            200,
            {
                "data": [
                    {
                        "quota_usage": self.quota_usage,
                        "config": {"quota_total": self.quota_total, "quota_duration": 86400},
                    }
                ]
            },
        )

    def comment(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        if request.match["id"] not in self.media:
            return graph_error(400, "Unsupported post request.", 100, 33, "GraphMethodException")
        message = request.field("message")
        if message is None or not message.strip():
            return graph_error(400, "(#100) The parameter message is required", 100)
        comment_id = str(next(self._ids))
        self.comments[comment_id] = {"media": request.match["id"], "message": message}
        return Reply(200, {"id": comment_id})
