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

Reading comments (IG Media comments, IG Comment replies, comment-moderation guide):
GET /{ig-media-id}/comments gives top-level comments only, newest first [secondary: the
reference does not state the order; third-party tools quote "newest first"], each with the
fields asked for (id always; text, timestamp, username, and `replies` as an edge
{"data": [...]} holding the answers under it, oldest first); cursor paging with
paging.cursors.before/after and paging.next only while more remain; `limit` at most 50.
POST /{ig-comment-id}/replies answers a top-level comment (an answer to an answer is added
under its top-level comment); a hidden comment refuses answers (error 100).
GET /{ig-media-id}?fields=like_count,comments_count (comments include answers);
GET /{ig-media-id}/insights?metric=… knows reach, views, likes, comments, shares, saved,
total_interactions; `impressions` is refused for media published after 2 July 2024 on
v22.0+ (the fake refuses it always); a token without instagram_manage_insights gets
(#10); data not ready yet is an empty data set, never 0. The Business Use Case rate limit
answers error 80002 with X-Business-Use-Case-Usage (estimated_time_to_regain_access in
minutes).
"""

from __future__ import annotations

import io
import itertools
import json
import urllib.request
from datetime import UTC, datetime, timedelta

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
        self.route("GET", v + r"/(?P<id>\d+)/comments", self.comments_list)
        self.route("POST", v + r"/(?P<id>\d+)/replies", self.reply)
        self.route("GET", v + r"/(?P<id>\d+)/insights", self.insights)
        self.comments: dict[str, dict] = {}
        self.username = "police.bruxelles"
        self.clock = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

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
            fields = set((request.field("fields") or "").split(","))
            body: dict = {"id": identifier}
            if "permalink" in fields:
                body["permalink"] = f"https://www.instagram.com/p/{identifier}/"
            if "like_count" in fields:
                body["like_count"] = self.media[identifier].get("likes", 0)
            if "comments_count" in fields:
                body["comments_count"] = sum(1 for c in self.comments.values() if c["media"] == identifier)
            return Reply(200, body)
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
        comment_id = self._comment_add(request.match["id"], None, message, self.username)
        return Reply(200, {"id": comment_id})

    # --- comments read back, answers, figures -----------------------------------------------

    def rate_limit_next(self, minutes: int = 12) -> None:
        usage = {
            self.user_id: [
                {
                    "type": "instagram",
                    "call_count": 100,
                    "total_time": 30,
                    "total_cputime": 25,
                    "estimated_time_to_regain_access": minutes,
                }
            ]
        }
        error = graph_error(400, "(#80002) There have been too many calls to this Instagram account.", 80002)
        self.fail_next(error.status, error.body, {"X-Business-Use-Case-Usage": json.dumps(usage)})

    def add_media(self, **figures: int) -> str:
        """A media already published (the inbox and figures tests need no container round)."""
        media_id = str(next(self._ids))
        self.media[media_id] = {"status": "PUBLISHED", **figures}
        return media_id

    def _comment_add(self, media: str, parent: str | None, text: str, username: str) -> str:
        self.clock += timedelta(minutes=1)
        comment_id = str(next(self._ids))
        self.comments[comment_id] = {
            "media": media,
            "parent": parent,
            "message": text,
            "username": username,
            "timestamp": self.clock.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "hidden": False,
        }
        return comment_id

    def add_comment(self, target: str, text: str, *, username: str = "marie.dupont") -> str:
        """Someone comments on a published media (or answers a comment: under its top-level one)."""
        parent = self.comments.get(target)
        if parent is not None:
            top = parent["parent"] or target
            return self._comment_add(parent["media"], top, text, username)
        assert target in self.media, "comment on a published media"  # noqa: S101 - test set-up
        return self._comment_add(target, None, text, username)

    def _comment_json(self, comment_id: str, fields: set[str]) -> dict:
        comment = self.comments[comment_id]
        row: dict = {"id": comment_id}
        if "text" in fields:
            row["text"] = comment["message"]
        if "timestamp" in fields:
            row["timestamp"] = comment["timestamp"]
        if "username" in fields:
            row["username"] = comment["username"]
        return row

    def comments_list(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        media = request.match["id"]
        if media not in self.media:
            return graph_error(400, "Unsupported get request.", 100, 33, "GraphMethodException")
        try:
            limit = int(request.field("limit") or 25)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 50:
            return graph_error(400, "(#100) The parameter limit must be between 1 and 50.", 100)
        raw = request.field("fields") or "id"
        nested = ""
        if "replies{" in raw:
            start = raw.index("replies{")
            nested = raw[start + len("replies{") : raw.index("}", start)]
            raw = raw[:start] + "replies" + raw[raw.index("}", start) + 1 :]
        fields = {f.strip() for f in raw.split(",") if f.strip()}
        reply_fields = {f.strip() for f in nested.split(",") if f.strip()} or {"id", "timestamp", "text"}
        # Newest first; ids grow with time, and a cursor names the last comment of its page, so
        # comments arriving meanwhile do not shift the pages after it.
        tops = sorted(
            (cid for cid, c in self.comments.items() if c["media"] == media and c["parent"] is None),
            key=int,
            reverse=True,
        )
        after = request.field("after")
        if after:
            try:
                position = int(after.removeprefix("c"))
            except ValueError:
                return graph_error(400, "(#100) Invalid cursor.", 100)
            tops = [cid for cid in tops if int(cid) < position]
        page, rest = tops[:limit], tops[limit:]
        data = []
        for cid in page:
            row = self._comment_json(cid, fields)
            if "replies" in fields:
                answers = sorted((rid for rid, c in self.comments.items() if c["parent"] == cid), key=int)
                if answers:
                    row["replies"] = {"data": [self._comment_json(rid, reply_fields) for rid in answers]}
            data.append(row)
        body: dict = {"data": data}
        if page:
            body["paging"] = {"cursors": {"before": f"c{int(page[0]) + 1}", "after": f"c{page[-1]}"}}
            if rest:
                body["paging"]["next"] = f"{self.url}/v21.0/{media}/comments?after=c{page[-1]}&limit={limit}"
        return Reply(200, body)

    def reply(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        target = self.comments.get(request.match["id"])
        if target is None:
            return graph_error(400, "Unsupported post request.", 100, 33, "GraphMethodException")
        if target["hidden"]:
            return graph_error(400, "(#100) You cannot reply to a hidden comment.", 100)
        message = request.field("message")
        if message is None or not message.strip():
            return graph_error(400, "(#100) The parameter message is required", 100)
        top = target["parent"] or request.match["id"]
        return Reply(200, {"id": self._comment_add(target["media"], top, message, self.username)})

    INSIGHTS = {"reach", "views", "likes", "comments", "shares", "saved", "total_interactions"}

    def insights(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        media = self.media.get(request.match["id"])
        if media is None:
            return graph_error(400, "Unsupported get request.", 100, 33, "GraphMethodException")
        asked = [m for m in (request.field("metric") or "").split(",") if m]
        if not asked:
            return graph_error(400, "(#100) The parameter metric is required", 100)
        unknown = [m for m in asked if m not in self.INSIGHTS]
        if unknown:
            return graph_error(
                400, f"(#100) metric[0] must be one of the following values: {', '.join(sorted(self.INSIGHTS))}", 100
            )
        if media.get("insights_forbidden"):
            return graph_error(403, "(#10) Application does not have permission for this action", 10)
        data = [
            {
                "name": metric,
                "period": "lifetime",
                "values": [{"value": media[metric]}],
                "id": f"{request.match['id']}/insights/{metric}/lifetime",
            }
            for metric in asked
            if metric in media  # not ready yet: left out, never 0
        ]
        return Reply(200, {"data": data})
