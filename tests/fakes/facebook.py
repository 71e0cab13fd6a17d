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

Meta login (facebook-login/guides/advanced/manual-flow, access-tokens/get-long-lived,
pages-api/getting-started): the OAuth dialog /vXX.0/dialog/oauth (www.facebook.com in
reality) shows a consent page and redirects with ?code&state or
?error=access_denied&error_reason=user_denied; GET /oauth/access_token turns a code (once,
same redirect_uri, the app's secret) into a short-lived user token and, with
grant_type=fb_exchange_token, that into a long-lived one; GET /me/accounts lists `pages`
with their Page tokens, tasks and linked instagram_business_account. The first Page's
token is the one /feed accepts. `revoke_grants()`: the user removed the app.
Comments (graph-api/reference/object/comments): GET /{object-id}/comments with `order`
(chronological, the default, or reverse_chronological), `filter` (toplevel, the default, or
stream: replies to comments too, with `parent`), `limit` (at most 100), `after`/`before`
cursors; the answer is {data, paging: {cursors: {before, after}, next?}}, no paging when
empty. A comment can be commented on (a reply); the Page's own comments have `from` = the Page.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

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
        self.comment_order: list[str] = []  # every comment id, oldest first
        self.clock = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
        v = r"/v\d+\.\d+"
        self.route("POST", v + r"/(?P<page>\d+)/photos", self.photo_upload)
        self.route("POST", v + r"/(?P<page>\d+)/feed", self.feed_post)
        self.route("POST", v + r"/(?P<post>\d+_\d+)/comments", self.comment)
        self.route("GET", v + r"/(?P<post>\d+_\d+)/comments", self.comments_list)
        self.route("GET", v + r"/(?P<post>\d+_\d+)/insights", self.insights)
        self.route("GET", v + r"/(?P<post>\d+_\d+)", self.post_get)
        self.route("DELETE", v + r"/(?P<id>[\d_]+)", self.delete)
        self.route("POST", v + r"/(?P<id>\d+_\d+)", self.update)
        self.route("GET", v + r"/dialog/oauth", self.dialog)
        self.route("POST", v + r"/dialog/oauth", self.dialog_decide)
        self.route("GET", v + r"/oauth/access_token", self.access_token)
        self.route("GET", v + r"/me/accounts", self.accounts)
        self.app_id, self.app_secret, self.redirect_uris = "", "", [""]
        self.codes: dict[str, dict] = {}
        self.user_tokens: dict[str, str] = {}  # token → "short" | "long"
        self.pages: list[dict[str, Any]] = [
            {
                "id": self.page_id,
                "name": "Politie Brussel",
                "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"],
                "instagram": {"id": "17841400000000001", "username": "politie.brussel"},
            },
            {"id": "104000000000002", "name": "Fanclub (read only)", "tasks": ["ANALYZE"], "instagram": None},
        ]
        self.page_tokens: dict[str, str] = {}

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
        target = request.match["post"]
        if target not in self.posts and target not in self.comments:
            return graph_error(400, "Unsupported post request.", 100, 33, "GraphMethodException")
        comment_id = self._comment_add(target, request.field("message") or "", {"id": self.page_id, "name": "Page"})
        return Reply(200, {"id": comment_id})

    def add_comment(self, target: str, message: str, *, name: str = "Marie Dupont") -> str:
        """Someone comments on a post (or replies to a comment)."""
        return self._comment_add(target, message, {"id": str(abs(hash(name)) % 10**15), "name": name})

    def _comment_add(self, target: str, message: str, author: dict) -> str:
        self.clock += timedelta(minutes=1)
        parent = self.comments.get(target)
        post = parent["post"] if parent else target
        comment_id = f"{post.split('_')[1]}_{next(self._ids)}"
        self.comments[comment_id] = {
            "post": post,
            "parent": target if parent else None,
            "message": message,
            "from": author,
            "created_time": self.clock.strftime("%Y-%m-%dT%H:%M:%S+0000"),
        }
        self.comment_order.append(comment_id)
        return comment_id

    @staticmethod
    def _cursor(index: int) -> str:
        return base64.b64encode(f"idx:{index}".encode()).decode()

    def comments_list(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        post = request.match["post"]
        if post not in self.posts and post not in self.comments:
            return graph_error(400, "Unsupported get request.", 100, 33, "GraphMethodException")
        stream = request.field("filter", "toplevel") == "stream"

        def belongs(comment: dict) -> bool:
            if post in self.posts:
                return comment["post"] == post and (stream or comment["parent"] is None)
            return comment["parent"] == post  # the replies to a comment

        rows = [
            (i, cid) for i, cid in enumerate(self.comment_order) if cid in self.comments and belongs(self.comments[cid])
        ]
        if request.field("order", "chronological") == "reverse_chronological":
            rows.reverse()
        try:
            limit = min(int(request.field("limit", "25") or 25), 100)
        except ValueError:
            return graph_error(400, "(#100) Param limit must be a number", 100)
        if after := request.field("after"):
            position = int(base64.b64decode(after).decode().split(":")[1])
            rows = rows[[i for i, _ in rows].index(position) + 1 :] if position in [i for i, _ in rows] else []
        page = rows[:limit]
        fields = {"id", "message", "created_time", "from", "permalink_url", "parent"}
        data = []
        for _index, cid in page:
            comment = self.comments[cid]
            full = {
                "id": cid,
                "message": comment["message"],
                "created_time": comment["created_time"],
                "from": comment["from"],
                "permalink_url": f"https://www.facebook.com/{comment['post']}?comment_id={cid}",
            }
            if stream and comment.get("parent"):
                full["parent"] = {"id": comment["parent"]}
            data.append({k: v for k, v in full.items() if k in fields})
        body: dict = {"data": data}
        if page:
            body["paging"] = {"cursors": {"before": self._cursor(page[0][0]), "after": self._cursor(page[-1][0])}}
            if len(rows) > limit:
                body["paging"]["next"] = f"{self.url}/v21.0/{post}/comments?after={self._cursor(page[-1][0])}"
        return Reply(200, body)

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

    # --- Meta login ------------------------------------------------------------------------

    def set_app(self, app_id: str, app_secret: str, redirect_uri: str) -> None:
        self.app_id, self.app_secret, self.redirect_uris = app_id, app_secret, [redirect_uri]

    def revoke_grants(self) -> None:
        self.user_tokens.clear()
        self.token = "revoked-" + self.token

    def _dialog_problem(self, request: Request) -> str:
        if request.field("client_id") != self.app_id:
            return "Invalid App ID"
        if request.field("redirect_uri") not in self.redirect_uris:
            return "URL Blocked: This redirect failed because the redirect URI is not whitelisted."
        return ""

    def dialog(self, request: Request) -> Reply:
        if problem := self._dialog_problem(request):
            return Reply(400, f"<p>{html.escape(problem)}</p>", content_type="text/html")
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v[0])}">'
            for k, v in request.query.items()
        )
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Log in with Facebook</title></head><body>"
            f"<h1>Tandem is requesting access</h1><p>{html.escape(request.field('scope') or '')}</p>"
            f"<form method='post'>{hidden}<button name='decision' value='approve' id='approve'>Continue</button> "
            "<button name='decision' value='deny' id='deny'>Cancel</button></form></body></html>"
        )
        return Reply(200, page, content_type="text/html; charset=utf-8")

    def dialog_decide(self, request: Request) -> Reply:
        if problem := self._dialog_problem(request):
            return Reply(400, problem, content_type="text/plain")
        query: dict[str, str]
        if request.field("decision") == "approve":
            code = secrets.token_urlsafe(24)
            self.codes[code] = {"redirect_uri": request.field("redirect_uri"), "used": False}
            query = {"code": code}
        else:
            query = {"error": "access_denied", "error_reason": "user_denied", "error_description": "Permissions error"}
        query["state"] = request.field("state") or ""
        return Reply(
            302, "", {"Location": f"{request.field('redirect_uri')}?{urlencode(query)}"}, content_type="text/html"
        )

    def access_token(self, request: Request) -> Reply:
        if request.field("client_id") != self.app_id or request.field("client_secret") != self.app_secret:
            return graph_error(400, "Error validating client secret.", 1)
        if request.field("grant_type") == "fb_exchange_token":
            if self.user_tokens.get(request.field("fb_exchange_token") or "") is None:
                return graph_error(400, "Error validating access token: The session has been invalidated.", 190, 460)
            token = "long-" + secrets.token_urlsafe(24)
            self.user_tokens[token] = "long"
            return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": 5_183_944})
        code = self.codes.get(request.field("code") or "")
        if code is None:
            return graph_error(400, "Invalid verification code format.", 100)
        if code["used"]:
            return graph_error(400, "This authorization code has been used.", 100, 36009)
        code["used"] = True
        if code["redirect_uri"] != request.field("redirect_uri"):
            return graph_error(
                400, "Error validating verification code. Please make sure your redirect_uri is identical.", 100, 36008
            )
        token = "short-" + secrets.token_urlsafe(24)
        self.user_tokens[token] = "short"
        return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": 5_400})

    def accounts(self, request: Request) -> Reply:
        kind = self.user_tokens.get(request.bearer() or request.field("access_token") or "")
        if kind is None:
            return graph_error(400, "Error validating access token: Session has expired.", 190, 463)
        fields = request.field("fields") or ""
        data = []
        for page in self.pages:
            token = self.page_tokens.setdefault(
                page["id"], ("never-" if kind == "long" else "hour-") + secrets.token_urlsafe(24)
            )
            if page["id"] == self.page_id:
                self.token = token
            row: dict = {"id": page["id"], "name": page["name"]}
            if "access_token" in fields:
                row["access_token"] = token
            if "tasks" in fields:
                row["tasks"] = page["tasks"]
            if "instagram_business_account" in fields and page["instagram"]:
                row["instagram_business_account"] = dict(page["instagram"])
            data.append(row)
        return Reply(200, {"data": data, "paging": {"cursors": {"before": "QVFIUk", "after": "QVFIUl"}}})

    # --- a post's figures: reactions/comments with summary(true), shares; insights reach ---

    def post_get(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        post = self.posts.get(request.match["post"])
        if post is None:
            return graph_error(400, "Unsupported get request.", 100, 33, "GraphMethodException")
        fields = request.field("fields", "") or ""
        body: dict = {"id": request.match["post"]}
        comments = sum(1 for c in self.comments.values() if c["post"] == request.match["post"])
        if "reactions.summary(true)" in fields:
            body["reactions"] = {"data": [], "summary": {"total_count": post.get("reactions", 0)}}
        if "comments.summary(true)" in fields:
            body["comments"] = {"data": [], "summary": {"order": "ranked", "total_count": comments}}
        if "shares" in fields and post.get("shares"):
            body["shares"] = {"count": post["shares"]}  # absent when never shared
        return Reply(200, body)

    def insights(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        post = self.posts.get(request.match["post"])
        if post is None:
            return graph_error(400, "Unsupported get request.", 100, 33, "GraphMethodException")
        if post.get("insights_forbidden"):
            return graph_error(403, "(#10) Requires read_insights permission", 10)
        value = post.get("reach", 0)
        return Reply(
            200, {"data": [{"name": "post_impressions_unique", "period": "lifetime", "values": [{"value": value}]}]}
        )
