"""Fake Mastodon (docs.joinmastodon.org: methods/statuses, methods/media, instance).

Enforces: Bearer token; v2 media with a MIME-typed file (422 otherwise), description
limit, size limit; 200 for processed media or 202 then GET 206 → 200; statuses with ≤ 4
processed media, grapheme length with URLs as 23 against the instance's max_characters;
the Idempotency-Key returns the same status per account for 3600 s; 429 with
X-RateLimit-* (ISO 8601 reset) after `rate_limit_remaining` requests.

Edits (methods/statuses "Edit a status", PUT /api/v1/statuses/:id): only the owner's token
(anyone else, or an unknown id: 404 "Record not found"); the same text and media checks as
a new status; the media are the `media_ids[]` sent (none sent: the status loses its
media, as the server's controller passes the parameter through); each edit keeps the
previous version in the status's history and sets `edited_at`.
Sign-in (methods/apps, methods/oauth, api/oauth-scopes): POST /api/v1/apps registers a
client (client_name, redirect_uris, granular scopes; 422 otherwise) and counts
registrations; /oauth/authorize, /oauth/token and /oauth/revoke are an AuthorizationServer
(tests/fakes/oauth.py) with PKCE S256; GET /api/v1/accounts/verify_credentials names the
signed-in account. Mastodon's tokens never expire and come without a refresh token; set
`oauth.token_lifetime` to have the fake answer expires_in and refresh_token as Doorkeeper
does when a server enables refresh tokens.
Notifications (docs.joinmastodon.org/methods/notifications): GET /api/v1/notifications with
`types[]` / `exclude_types[]`, `max_id` (older than), `since_id` (newer than, newest first),
`min_id` (the page immediately newer than), `limit` (default 40, at most 80), newest first in
the body, and a Link header with `rel="next"` (max_id) and `rel="prev"` (min_id). A reply to
one of our statuses is a "mention" notification whose status has `in_reply_to_id`.
"""

from __future__ import annotations

import html
import itertools
import time
from datetime import UTC, datetime, timedelta

from tests.fakes import textrules
from tests.fakes.base import FakeServer, Reply, Request
from tests.fakes.oauth import AuthorizationServer

# docs.joinmastodon.org/api/oauth-scopes (the ones a posting app may ask for, among others).
SCOPES = {
    "read",
    "write",
    "follow",
    "push",
    "profile",
    "read:accounts",
    "read:statuses",
    "write:statuses",
    "write:media",
    "write:accounts",
}


class FakeMastodon(FakeServer):
    name = "mastodon"

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, str] = {}  # token → account id
        self.statuses: dict[str, dict] = {}
        self.media: dict[str, dict] = {}
        self.idempotency: dict[tuple[str, str], tuple[float, str]] = {}
        self.max_characters = 500
        self.max_media = 4
        self.description_limit = 1500
        self.image_size_limit = 16 * 1024 * 1024
        self.media_processing_polls = 0  # > 0: uploads answer 202 and need that many 206 polls
        self.rate_limit_remaining: int | None = None
        self._ids = itertools.count(109_000_000_000_000_001)
        self.notifications: list[dict] = []  # oldest first
        self._notification_ids = itertools.count(1001)
        self.clock = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
        self.route("GET", r"/api/v2/instance", self.instance)
        self.route("POST", r"/api/v2/media", self.media_upload)
        self.route("GET", r"/api/v1/media/(?P<id>\d+)", self.media_get)
        self.route("POST", r"/api/v1/statuses", self.status_create)
        self.route("DELETE", r"/api/v1/statuses/(?P<id>\d+)", self.status_delete)
        self.route("GET", r"/api/v1/statuses/(?P<id>\d+)", self.status_get)
        self.route("PUT", r"/api/v1/statuses/(?P<id>\d+)", self.status_edit)
        self.history: dict[str, list[dict]] = {}  # status id → its earlier versions, oldest first
        self.route("POST", r"/api/v1/apps", self.app_create)
        self.route("GET", r"/api/v1/accounts/verify_credentials", self.verify_credentials)
        self.oauth = AuthorizationServer(
            self,
            authorize_path=r"/oauth/authorize",
            token_path=r"/oauth/token",
            revoke_path=r"/oauth/revoke",
            client_auth="post",
            known_scopes=SCOPES,
        )
        self.usernames = {"1": "zone_bxl"}
        self._apps = itertools.count(1)
        self.route("GET", r"/api/v1/notifications", self.notifications_list)

    def add_token(self, token: str, account: str = "1") -> None:
        self.tokens[token] = account

    def expire_token(self) -> None:
        """Every token stops working (401 "The access token is invalid")."""
        self.tokens.clear()
        self.oauth.revoke_grants()

    def _account(self, request: Request) -> str | None:
        token = request.bearer() or ""
        return self.tokens.get(token) or self.oauth.account_of(token)

    def app_create(self, request: Request) -> Reply:
        name = request.field("client_name") or ""
        redirect_uris = [u for u in (request.field("redirect_uris") or "").split() if u]
        scopes = set((request.field("scopes") or "read").split())
        if not name:
            return Reply(422, {"error": "Validation failed: Application name can't be blank"})
        if not redirect_uris or not all(u.startswith(("http://", "https://", "urn:")) for u in redirect_uris):
            return Reply(422, {"error": "Validation failed: Redirect URI must be an absolute URI."})
        if not scopes <= SCOPES:
            return Reply(422, {"error": "Validation failed: Scopes are invalid"})
        number = next(self._apps)
        client = self.oauth.add_client(
            f"client-{number}-{self.port or 'x'}", f"secret-{number}-of-the-app", redirect_uris, scopes, name
        )
        return Reply(
            200,
            {
                "id": str(number),
                "name": name,
                "website": request.field("website"),
                "scopes": sorted(scopes),
                "redirect_uri": "\n".join(redirect_uris),
                "redirect_uris": redirect_uris,
                "client_id": client.client_id,
                "client_secret": client.secret,
                "client_secret_expires_at": 0,
            },
        )

    def verify_credentials(self, request: Request) -> Reply:
        account = self._account(request)
        if account is None:
            return self._unauthorized()
        username = self.usernames.get(account, f"user{account}")
        return Reply(200, {"id": account, "username": username, "acct": username, "display_name": username})

    def _unauthorized(self) -> Reply:
        return Reply(401, {"error": "The access token is invalid"})

    def _rate_limited(self) -> Reply | None:
        if self.rate_limit_remaining is None:
            return None
        if self.rate_limit_remaining <= 0:
            reset = (datetime.now(UTC) + timedelta(seconds=120)).isoformat(timespec="microseconds")
            return Reply(
                429,
                {"error": "Too many requests"},
                {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
            )
        self.rate_limit_remaining -= 1
        return None

    def instance(self, request: Request) -> Reply:
        return Reply(
            200,
            {
                "domain": "fake.social",
                "configuration": {
                    "statuses": {
                        "max_characters": self.max_characters,
                        "max_media_attachments": self.max_media,
                        "characters_reserved_per_url": 23,
                    },
                    "media_attachments": {
                        "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
                        "description_limit": self.description_limit,
                        "image_size_limit": self.image_size_limit,
                        "image_matrix_limit": 33_177_600,
                    },
                },
            },
        )

    def media_upload(self, request: Request) -> Reply:
        if self._account(request) is None:
            return self._unauthorized()
        if limited := self._rate_limited():
            return limited
        file = request.files.get("file")
        if file is None or not file.content_type.startswith("image/") or not file.data:
            return Reply(422, {"error": "Validation failed: File content type is invalid, File is invalid"})
        if len(file.data) > self.image_size_limit:
            return Reply(422, {"error": "Validation failed: File file size must be less than 16 MB"})
        description = request.field("description", "") or ""
        if len(description) > self.description_limit:
            return Reply(422, {"error": "Validation failed: Description is too long (maximum is 1500 characters)"})
        media_id = str(next(self._ids))
        pending = self.media_processing_polls
        self.media[media_id] = {
            "id": media_id,
            "type": "image",
            "description": description,
            "pending": pending,
            "bytes": len(file.data),
            "account": self._account(request),
            "attached": False,
        }
        body = self._media_json(media_id)
        return Reply(202 if pending else 200, body)

    def _media_json(self, media_id: str) -> dict:
        media = self.media[media_id]
        url = None if media["pending"] else f"{self.url}/media/{media_id}.jpg"
        return {"id": media_id, "type": "image", "url": url, "description": media["description"]}

    def media_get(self, request: Request) -> Reply:
        if self._account(request) is None:
            return self._unauthorized()
        media = self.media.get(request.match["id"])
        if media is None:
            return Reply(404, {"error": "Record not found"})
        if media["pending"] > 0:
            media["pending"] -= 1
            return Reply(206, self._media_json(media["id"]))
        return Reply(200, self._media_json(media["id"]))

    def status_create(self, request: Request) -> Reply:
        account = self._account(request)
        if account is None:
            return self._unauthorized()
        key = request.headers.get("idempotency-key")
        if key:
            seen = self.idempotency.get((account, key))
            if seen and time.time() - seen[0] < 3600:
                return Reply(200, self.statuses[seen[1]])
        if limited := self._rate_limited():
            return limited
        text = request.field("status", "") or ""
        media_ids = request.form.get("media_ids[]", [])
        if not text.strip() and not media_ids:
            return Reply(422, {"error": "Validation failed: Text can't be blank"})
        if len(media_ids) > self.max_media:
            return Reply(422, {"error": f"Validation failed: Cannot attach more than {self.max_media} files"})
        for media_id in media_ids:
            media = self.media.get(media_id)
            if media is None or media["account"] != account:
                return Reply(422, {"error": "Validation failed: Media attachments are invalid"})
            if media["pending"]:
                return Reply(
                    422,
                    {
                        "error": "Validation failed: Cannot attach files that have not finished processing. "
                        "Try again in a moment!"
                    },
                )
        if textrules.mastodon(text) > self.max_characters:
            return Reply(422, {"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"})
        reply_to = request.field("in_reply_to_id")
        if reply_to and reply_to not in self.statuses:
            return Reply(404, {"error": "Record not found"})
        status_id = str(next(self._ids))
        for media_id in media_ids:
            self.media[media_id]["attached"] = True
        self.statuses[status_id] = {
            "id": status_id,
            "account": {"id": account},
            "edited_at": None,
            "uri": f"{self.url}/users/zone/statuses/{status_id}",
            "url": f"{self.url}/@zone/{status_id}",
            "content": text,
            "language": request.field("language"),
            "visibility": request.field("visibility", "public"),
            "in_reply_to_id": reply_to,
            "media_attachments": [self._media_json(m) for m in media_ids],
        }
        if key:
            self.idempotency[(account, key)] = (time.time(), status_id)
        return Reply(200, self.statuses[status_id])

    def status_delete(self, request: Request) -> Reply:
        if self._account(request) is None:
            return self._unauthorized()
        status = self.statuses.pop(request.match["id"], None)
        if status is None:
            return Reply(404, {"error": "Record not found"})
        return Reply(200, status)

    def status_get(self, request: Request) -> Reply:
        """A status with its public counts (docs: entities/Status, replies/reblogs/favourites_count);
        a public status needs no token, a direct one is "not found" to the public."""
        if limited := self._rate_limited():
            return limited
        status = self.statuses.get(request.match["id"])
        if status is None or status.get("visibility") == "direct":
            return Reply(404, {"error": "Record not found"})
        counts = {"replies_count": 0, "reblogs_count": 0, "favourites_count": 0, **status.get("counts", {})}
        return Reply(200, {k: v for k, v in status.items() if k != "counts"} | counts)

    def status_edit(self, request: Request) -> Reply:
        account = self._account(request)
        if account is None:
            return self._unauthorized()
        status = self.statuses.get(request.match["id"])
        # The server looks the status up among the caller's own: anyone else's is "not found".
        if status is None or status["account"]["id"] != account:
            return Reply(404, {"error": "Record not found"})
        if limited := self._rate_limited():
            return limited
        text = request.field("status", "") or ""
        media_ids = request.form.get("media_ids[]", [])
        if not text.strip() and not media_ids:
            return Reply(422, {"error": "Validation failed: Text can't be blank"})
        if len(media_ids) > self.max_media:
            return Reply(422, {"error": f"Validation failed: Cannot attach more than {self.max_media} files"})
        attached = {m["id"] for m in status["media_attachments"]}
        for media_id in media_ids:
            media = self.media.get(media_id)
            if media is None or media["account"] != account or (media["attached"] and media_id not in attached):
                return Reply(422, {"error": "Validation failed: Media attachments are invalid"})
        if textrules.mastodon(text) > self.max_characters:
            return Reply(422, {"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"})
        self.history.setdefault(status["id"], []).append(
            {"content": status["content"], "media_attachments": list(status["media_attachments"])}
        )
        for media_id in media_ids:
            self.media[media_id]["attached"] = True
        status["content"] = text
        status["language"] = request.field("language") or status["language"]
        status["media_attachments"] = [self._media_json(m) for m in media_ids]
        status["edited_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        return Reply(200, status)

    # --- notifications -------------------------------------------------------------

    def add_notification(
        self,
        kind: str = "mention",
        *,
        acct: str = "alice@example.social",
        text: str = "",
        in_reply_to: str | None = None,
    ) -> dict:
        """Someone mentions (or replies to, or favourites) our account: a notification arrives."""
        self.clock += timedelta(minutes=1)
        created = self.clock.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        account = {"id": str(abs(hash(acct)) % 10**9), "acct": acct, "username": acct.split("@")[0]}
        status = None
        if kind in ("mention", "favourite", "reblog"):
            status_id = str(next(self._ids))
            status = {
                "id": status_id,
                "created_at": created,
                "uri": f"https://example.social/users/{account['username']}/statuses/{status_id}",
                "url": f"https://example.social/@{account['username']}/{status_id}",
                "content": '<p><span class="h-card"><a href="https://fake.social/@zone" class="u-url mention">'
                f"@<span>zone</span></a></span> {html.escape(text)}</p>",
                "in_reply_to_id": in_reply_to,
                "account": account,
            }
            self.statuses[status_id] = status
        notification = {
            "id": str(next(self._notification_ids)),
            "type": kind,
            "created_at": created,
            "account": account,
            "status": status,
        }
        self.notifications.append(notification)
        return notification

    def notifications_list(self, request: Request) -> Reply:
        if self._account(request) is None:
            return self._unauthorized()
        if limited := self._rate_limited():
            return limited
        try:
            limit = min(int(request.field("limit", "40") or 40), 80)
        except ValueError:
            return Reply(400, {"error": "limit must be a number"})
        types = request.query.get("types[]")
        excluded = set(request.query.get("exclude_types[]", []))
        rows = [n for n in self.notifications if (not types or n["type"] in types) and n["type"] not in excluded]
        if max_id := request.field("max_id"):
            rows = [n for n in rows if int(n["id"]) < int(max_id)]
        if since_id := request.field("since_id"):
            rows = [n for n in rows if int(n["id"]) > int(since_id)]
        if min_id := request.field("min_id"):
            rows = [n for n in rows if int(n["id"]) > int(min_id)][:limit]  # just after min_id
        else:
            rows = rows[-limit:]
        page = list(reversed(rows))  # newest first
        headers = {}
        if page:
            base = f"{self.url}/api/v1/notifications"
            headers["Link"] = (
                f'<{base}?max_id={page[-1]["id"]}>; rel="next", <{base}?min_id={page[0]["id"]}>; rel="prev"'
            )
        return Reply(200, page, headers)
