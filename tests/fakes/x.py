"""Fake X API v2 (xdevplatform/docs openapi v2.167: /2/media/upload, /2/media/metadata,
/2/tweets; fundamentals/counting-characters; rate-limits; response codes).

Enforces: an OAuth 2.0 user Bearer token (401 problem); media upload with media_category
(multipart), ≤ 5 MB, image formats; alt text ≤ 1000 via metadata; tweets with ≤ 4 known
media ids, weighted length ≤ 280 (twitter-text v3, URLs 23), replies to existing tweets;
403 "duplicate content" for the same text by the same user; x-rate-limit-* headers (epoch
reset); 201 on create. Errors are application/problem+json.

Sign-in (fundamentals/authentication/oauth-2-0/authorization-code and user-access-token):
/i/oauth2/authorize (x.com in reality), /2/oauth2/token and /2/oauth2/revoke are an
AuthorizationServer (tests/fakes/oauth.py): PKCE S256, a confidential client sending HTTP
Basic, access tokens of 7200 s, a refresh token only with offline.access, single-use
(each refresh answers a new one). GET /2/users/me names the signed-in user.
"""

from __future__ import annotations

import io
import itertools
import time

from PIL import Image

from tests.fakes import textrules
from tests.fakes.base import FakeServer, Reply, Request
from tests.fakes.oauth import AuthorizationServer

SCOPES = {
    "tweet.read",
    "tweet.write",
    "tweet.moderate.write",
    "users.read",
    "follows.read",
    "follows.write",
    "offline.access",
    "media.write",
}


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> Reply:
    return Reply(
        status,
        {"title": title, "detail": detail, "type": kind, "status": status},
        content_type="application/problem+json",
    )


class FakeX(FakeServer):
    name = "x"

    def __init__(self) -> None:
        super().__init__()
        self.token = ""
        self.media: dict[str, dict] = {}
        self.tweets: dict[str, dict] = {}
        self.remaining = 100
        self._ids = itertools.count(1_860_000_000_000_000_001)
        self.route("POST", r"/2/media/upload", self.upload)
        self.route("POST", r"/2/media/metadata", self.metadata)
        self.route("POST", r"/2/tweets", self.create)
        self.route("DELETE", r"/2/tweets/(?P<id>\d+)", self.delete)
        self.route("GET", r"/2/users/me", self.me)
        self.oauth = AuthorizationServer(
            self,
            authorize_path=r"/i/oauth2/authorize",
            token_path=r"/2/oauth2/token",
            revoke_path=r"/2/oauth2/revoke",
            client_auth="basic",
            refresh_single_use=True,
            known_scopes=SCOPES,
            refresh_scope="offline.access",
        )
        self.oauth.token_lifetime = 7200
        self.oauth.revoke_body = {"revoked": True}
        self.usernames = {"1": "PolitieBrussel"}
        self.route("GET", r"/2/users/(?P<user>\d+)/mentions", self.mentions)
        self.route("GET", r"/2/tweets", self.lookup)
        self.metrics: dict[str, dict[str, int]] = {}
        self.user_id = "1500000000000000001"
        self.mention_list: list[dict] = []  # oldest first
        self.authors: dict[str, str] = {}

    def expire_token(self) -> None:
        """The OAuth 2.0 access token expired (401)."""
        self.token = "expired-" + self.token

    def _auth(self, request: Request) -> Reply | None:
        token = request.bearer() or ""
        if (not self.token or token != self.token) and self.oauth.account_of(token) is None:
            return problem(401, "Unauthorized", "Unauthorized")
        return None

    def me(self, request: Request) -> Reply:
        account = self.oauth.account_of(request.bearer() or "")
        if account is None:
            return problem(401, "Unauthorized", "Unauthorized")
        username = self.usernames.get(account, f"user{account}")
        return Reply(200, {"data": {"id": f"14{account}", "name": username, "username": username}})

    def _limits(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": str(self.remaining),
            "x-rate-limit-reset": str(int(time.time()) + 900),
        }

    def rate_limit_next(self) -> None:
        reset = int(time.time()) + 600
        self.fail_next(
            429,
            {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
            {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
        )

    def upload(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        media = request.files.get("media")
        if media is None or not request.field("media_category"):
            return problem(
                400,
                "Invalid Request",
                "media and media_category are required.",
                "https://api.x.com/2/problems/invalid-request",
            )
        if len(media.data) > 5 * 1024 * 1024:
            return problem(
                400,
                "Invalid Request",
                "File size exceeds 5242880 bytes.",
                "https://api.x.com/2/problems/invalid-request",
            )
        try:
            with Image.open(io.BytesIO(media.data)) as img:
                fmt, (width, height) = img.format, img.size
        except OSError:
            fmt, width, height = None, 0, 0
        if fmt not in ("JPEG", "PNG", "GIF", "WEBP"):
            return problem(
                400, "Invalid Request", "Unsupported media type.", "https://api.x.com/2/problems/invalid-request"
            )
        media_id = str(next(self._ids))
        self.media[media_id] = {"alt": None}
        return Reply(
            200,
            {
                "data": {
                    "id": media_id,
                    "media_key": f"3_{media_id}",
                    "size": len(media.data),
                    "expires_after_secs": 86400,
                    "image": {"image_type": f"image/{fmt.lower()}", "w": width, "h": height},
                }
            },
        )

    def metadata(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        body = request.json() or {}
        media = self.media.get(str(body.get("id")))
        text = body.get("metadata", {}).get("alt_text", {}).get("text", "")
        if media is None:
            return problem(400, "Invalid Request", "Unknown media id.", "https://api.x.com/2/problems/invalid-request")
        if len(text) > 1000:
            return problem(
                400,
                "Invalid Request",
                "alt_text.text must be at most 1000 characters.",
                "https://api.x.com/2/problems/invalid-request",
            )
        media["alt"] = text
        return Reply(200, {"data": {"id": body["id"], "associated_metadata": True}})

    def create(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        body = request.json() or {}
        text = body.get("text", "")
        media_ids = body.get("media", {}).get("media_ids", [])
        invalid = "https://api.x.com/2/problems/invalid-request"
        if not text and not media_ids:
            return problem(400, "Invalid Request", "text is required unless media is provided.", invalid)
        if len(media_ids) > 4 or any(m not in self.media for m in media_ids):
            return problem(400, "Invalid Request", "Invalid media_ids.", invalid)
        if textrules.twitter_weighted(text) > 280:
            return problem(400, "Invalid Request", "Tweet text is too long.", invalid)
        reply = body.get("reply", {}).get("in_reply_to_tweet_id")
        if reply and reply not in self.tweets:
            return problem(400, "Invalid Request", "The tweet you are replying to does not exist.", invalid)
        if any(t["text"] == text for t in self.tweets.values()):
            return problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
        tweet_id = str(next(self._ids))
        self.tweets[tweet_id] = {"text": text, "media": media_ids, "reply_to": reply}
        self.remaining -= 1
        return Reply(201, {"data": {"id": tweet_id, "text": text}}, self._limits())

    def delete(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        deleted = self.tweets.pop(request.match["id"], None) is not None
        return Reply(200, {"data": {"deleted": deleted}})

    # --- mentions timeline (GET /2/users/:id/mentions): newest first, since_id / start_time,
    # max_results 5-100, pagination_token from meta.next_token, includes.users for expansions ---

    def add_mention(self, text: str, *, username: str = "buur", reply_to: str | None = None) -> dict:
        tweet_id = str(next(self._ids))
        author_id = str(abs(hash(username)) % 10**12)
        self.authors[author_id] = username
        tweet = {
            "id": tweet_id,
            "text": text,
            "author_id": author_id,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "conversation_id": reply_to or tweet_id,
        }
        if reply_to:
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": reply_to}]
        self.mention_list.append(tweet)
        self.tweets[tweet_id] = {"text": text, "media": [], "reply_to": reply_to}
        return tweet

    def mentions(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        if request.match["user"] != self.user_id:
            return problem(400, "Invalid Request", "The `id` query parameter value is not valid.")
        try:
            limit = int(request.field("max_results", "10") or 10)
        except ValueError:
            limit = 0
        if not 5 <= limit <= 100:
            return problem(400, "Invalid Request", "The `max_results` query parameter value is not between 5 and 100")
        rows = list(reversed(self.mention_list))
        if since := request.field("since_id"):
            rows = [t for t in rows if int(t["id"]) > int(since)]
        if start := request.field("start_time"):
            rows = [t for t in rows if t["created_at"] >= start.replace("Z", ".000Z")]
        if token := request.field("pagination_token"):
            rows = [t for t in rows if int(t["id"]) < int(token)]
        page, rest = rows[:limit], rows[limit:]
        meta: dict = {"result_count": len(page)}
        body: dict = {"meta": meta}
        if page:
            body["data"] = page
            body["includes"] = {
                "users": [{"id": t["author_id"], "username": self.authors[t["author_id"]]} for t in page]
            }
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if rest:
            meta["next_token"] = page[-1]["id"]  # opaque to the client
        return Reply(200, body, self._limits())

    # --- post lookup (GET /2/tweets): ids 1-100 comma-separated, tweet.fields=public_metrics;
    # an id that does not exist is an entry under "errors" beside the found ones (200) ---

    def lookup(self, request: Request) -> Reply:
        if failure := self._auth(request):
            return failure
        ids = [i for i in (request.field("ids") or "").split(",") if i]
        if not 1 <= len(ids) <= 100 or not all(i.isdigit() for i in ids):
            return problem(
                400,
                "Invalid Request",
                "The `ids` query parameter value must be 1 to 100 comma-separated post ids.",
                "https://api.x.com/2/problems/invalid-request",
            )
        fields = set((request.field("tweet.fields") or "").split(","))
        data, errors = [], []
        for tweet_id in ids:
            tweet = self.tweets.get(tweet_id)
            if tweet is None:
                errors.append(
                    {
                        "value": tweet_id,
                        "detail": f"Could not find tweet with ids: [{tweet_id}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "ids",
                        "resource_id": tweet_id,
                        "type": "https://api.x.com/2/problems/resource-not-found",
                    }
                )
                continue
            row: dict = {"id": tweet_id, "text": tweet["text"], "edit_history_tweet_ids": [tweet_id]}
            if "public_metrics" in fields:
                given = self.metrics.get(tweet_id, {})
                row["public_metrics"] = {
                    key: given.get(key, 0)
                    for key in ("retweet_count", "reply_count", "like_count", "quote_count", "bookmark_count")
                }
                if "impression_count" in given:
                    row["public_metrics"]["impression_count"] = given["impression_count"]
            data.append(row)
        body: dict = {}
        if data:
            body["data"] = data
        if errors:
            body["errors"] = errors
        return Reply(200, body, self._limits())
