"""Fake Facebook Graph API for a Page (developers.facebook.com/docs/pages-api/posts,
graph-api/photo-uploads, graph-api/using-graph-api/error-handling).

Enforces: the Page token (Bearer or access_token; code 190 otherwise); /photos with a
`source` file (JPEG/PNG/GIF/BMP/TIFF, < 10 MB) and published=false giving an id that
/feed may attach once through attached_media[n]={"media_fbid"}; /feed needs a message or
media; comments on existing posts; DELETE; updating a post or a comment (POST /{id} with
`message`, answering {"success": true}; an unknown id is error 100/33; an update without
`message` changes nothing and is refused). Errors are {"error": {message, type, code,
error_subcode, fbtrace_id}}; `rate_limit_next()` answers code 80001 with
X-Business-Use-Case-Usage.
"""

from __future__ import annotations

import io
import itertools
import json

from PIL import Image

from tests.fakes.base import FakeServer, Reply, Request

FORMATS = {"JPEG", "PNG", "GIF", "BMP", "TIFF"}


def graph_error(
    status: int,
    message: str,
    code: int,
    subcode: int | None = None,
    kind: str = "OAuthException",
    *,
    user_title: str = "",
    user_msg: str = "",
) -> Reply:
    error: dict[str, object] = {"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEf123"}
    if subcode:
        error["error_subcode"] = subcode
    if user_title:
        error["error_user_title"] = user_title
    if user_msg:
        error["error_user_msg"] = user_msg
    return Reply(status, {"error": error})


class FakeFacebook(FakeServer):
    name = "facebook"

    def __init__(self) -> None:
        super().__init__()
        self.page_id = "104000000000001"
        self.token = ""
        self.photos: dict[str, dict] = {}
        self.posts: dict[str, dict] = {}
        self.comments: dict[str, dict] = {}
        self._ids = itertools.count(900_000_000_000_001)
        v = r"/v\d+\.\d+"
        self.route("POST", v + r"/(?P<page>\d+)/photos", self.photo_upload)
        self.route("POST", v + r"/(?P<page>\d+)/feed", self.feed_post)
        self.route("POST", v + r"/(?P<post>\d+_\d+)/comments", self.comment)
        self.route("DELETE", v + r"/(?P<id>[\d_]+)", self.delete)
        self.route("POST", v + r"/(?P<id>\d+_\d+)", self.update)

    def expire_token(self) -> None:
        """The Page token expired (code 190, subcode 463)."""
        self.token = "expired-" + self.token

    def rate_limit_next(self, minutes: int = 12) -> None:
        usage = {
            self.page_id: [
                {
                    "type": "pages",
                    "call_count": 100,
                    "total_time": 40,
                    "total_cputime": 30,
                    "estimated_time_to_regain_access": minutes,
                }
            ]
        }
        error = graph_error(400, "(#80001) There have been too many calls to this Page account.", 80001)
        self.fail_next(error.status, error.body, {"X-Business-Use-Case-Usage": json.dumps(usage)})

    def _auth(self, request: Request) -> Reply | None:
        token = request.bearer() or request.field("access_token")
        if not token or token != self.token:
            return graph_error(400, "Error validating access token: Session has expired.", 190, 463)
        return None

    def _page(self, request: Request) -> Reply | None:
        if request.match["page"] != self.page_id:
            return graph_error(400, "Unsupported post request. Object does not exist.", 100, 33, "GraphMethodException")
        return None

    def photo_upload(self, request: Request) -> Reply:
        if failure := self._auth(request) or self._page(request):
            return failure
        source = request.files.get("source")
        if source is None:
            return graph_error(400, "(#324) Requires upload file", 324)
        try:
            with Image.open(io.BytesIO(source.data)) as img:
                fmt = img.format
        except OSError:
            fmt = None
        if fmt not in FORMATS or len(source.data) >= 10 * 1024 * 1024:
            return graph_error(400, "(#324) Missing or invalid image file", 324)
        photo_id = str(next(self._ids))
        published = request.field("published", "true") != "false"
        self.photos[photo_id] = {
            "alt_text_custom": request.field("alt_text_custom"),
            "published": published,
            "attached": False,
        }
        return Reply(
            200, {"id": photo_id} if not published else {"id": photo_id, "post_id": f"{self.page_id}_{photo_id}"}
        )

    def feed_post(self, request: Request) -> Reply:
        if failure := self._auth(request) or self._page(request):
            return failure
        media = []
        for key in sorted(k for k in request.form if k.startswith("attached_media[")):
            try:
                fbid = json.loads(request.form[key][0])["media_fbid"]
            except (ValueError, KeyError):
                return graph_error(400, "(#100) param attached_media must be an array of objects", 100)
            photo = self.photos.get(str(fbid))
            if photo is None or photo["published"] or photo["attached"]:
                return graph_error(400, f"(#100) Invalid media_fbid {fbid}", 100)
            media.append(str(fbid))
        message = request.field("message", "") or ""
        if not message.strip() and not media:
            return graph_error(400, "(#100) The message or attached_media is required", 100)
        for fbid in media:
            self.photos[fbid]["attached"] = True
        post_id = f"{self.page_id}_{next(self._ids)}"
        self.posts[post_id] = {"message": message, "media": media}
        return Reply(200, {"id": post_id})

    def comment(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        if request.match["post"] not in self.posts:
            return graph_error(400, "Unsupported post request.", 100, 33, "GraphMethodException")
        comment_id = f"{request.match['post'].split('_')[1]}_{next(self._ids)}"
        self.comments[comment_id] = {"post": request.match["post"], "message": request.field("message")}
        return Reply(200, {"id": comment_id})

    def delete(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        if self.posts.pop(request.match["id"], None) is None and self.comments.pop(request.match["id"], None) is None:
            return graph_error(400, "Unsupported delete request.", 100, 33, "GraphMethodException")
        return Reply(200, {"success": True})

    def update(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        target = self.posts.get(request.match["id"]) or self.comments.get(request.match["id"])
        if target is None:
            return graph_error(
                400,
                f"Unsupported post request. Object with ID '{request.match['id']}' does not exist.",
                100,
                33,
                "GraphMethodException",
            )
        message = request.field("message")
        if message is None or not message.strip():
            return graph_error(400, "(#100) The message is required", 100)
        target.setdefault("edits", []).append(target["message"])
        target["message"] = message
        return Reply(200, {"success": True})
