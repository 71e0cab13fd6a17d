"""Fake Bluesky PDS (XRPC; lexicons com.atproto.server.*, com.atproto.repo.*, app.bsky.feed.post).

Enforces: createSession with identifier + app password (401 AuthenticationRequired) and
counts logins; Bearer access JWT, 400 ExpiredToken once `expire_sessions()` was called,
refreshSession with the refresh JWT; uploadBlob takes raw bytes with an image
Content-Type; createRecord validates the post record (text ≤ 300 graphemes and ≤ 3000
UTF-8 bytes, createdAt, ≤ 3 langs, facets within the UTF-8 text and not overlapping, ≤ 4
images each with `alt` and a known blob ≤ blob_max), refuses an existing rkey; 429 with
RateLimit-* and Retry-After.

Sessions (com.atproto.server.createSession / refreshSession / deleteSession): JWT-shaped
tokens whose payload carries `scope` and `exp` (access 2 hours, refresh 90 days, as the
PDS issues them); an access token past its `exp` is 400 ExpiredToken; refreshSession takes
the refresh JWT as Bearer, rotates it (the used one is revoked: 400 InvalidToken when used
again) and answers the new pair; deleteSession takes the refresh JWT (expiry ignored) and
revokes it; `revoke_sessions()` revokes every grant as an account holder removing an app
password does.
Notifications (lexicon app.bsky.notification.listNotifications): `limit` 1..100 (default 50,
400 InvalidRequest outside), optional `reasons` (repeated), an opaque `cursor`; newest first,
each with uri, cid, author (handle), reason, reasonSubject, record, isRead, indexedAt; the
answer carries a cursor while older notifications remain.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import time
from datetime import UTC, datetime, timedelta

from tests.fakes import textrules
from tests.fakes.base import FakeServer, Reply, Request

COLLECTION = "app.bsky.feed.post"
ACCESS_SECONDS = 2 * 3600
REFRESH_SECONDS = 90 * 86400


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def jwt(scope: str, did: str, lifetime: int) -> str:
    now = int(time.time())
    claims = {"scope": scope, "sub": did, "iat": now, "exp": now + lifetime, "jti": secrets.token_urlsafe(8)}
    return f"{_b64({'typ': 'at+jwt', 'alg': 'HS256'})}.{_b64(claims)}.{secrets.token_urlsafe(24)}"


def jwt_exp(token: str) -> int:
    payload = token.split(".")[1]
    return int(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])


class FakeBluesky(FakeServer):
    name = "bluesky"

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, tuple[str, str]] = {}  # identifier → (password, did)
        self.access: dict[str, str] = {}  # access jwt → did
        self.refresh: dict[str, str] = {}
        self.expired: set[str] = set()
        self.blobs: dict[str, dict] = {}
        self.records: dict[tuple[str, str], dict] = {}  # (did, rkey) → {uri, cid, value}
        self.sessions_created = 0
        self.sessions_refreshed = 0
        self.revoked: set[str] = set()  # refresh tokens used or deleted
        self.blob_max = 1_000_000
        self._seq = itertools.count(1)
        self.notifications: list[dict] = []  # oldest first
        self.clock = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
        prefix = r"/xrpc/"
        self.route("POST", prefix + r"com\.atproto\.server\.createSession", self.create_session)
        self.route("POST", prefix + r"com\.atproto\.server\.refreshSession", self.refresh_session)
        self.route("POST", prefix + r"com\.atproto\.server\.deleteSession", self.delete_session)
        self.route("POST", prefix + r"com\.atproto\.repo\.uploadBlob", self.upload_blob)
        self.route("POST", prefix + r"com\.atproto\.repo\.createRecord", self.create_record)
        self.route("GET", prefix + r"com\.atproto\.repo\.getRecord", self.get_record)
        self.route("POST", prefix + r"com\.atproto\.repo\.deleteRecord", self.delete_record)
        self.route("GET", prefix + r"app\.bsky\.notification\.listNotifications", self.list_notifications)
        self.route("GET", prefix + r"app\.bsky\.feed\.getPosts", self.get_posts)

    def add_account(self, identifier: str, password: str) -> str:
        did = f"did:plc:{hashlib.sha256(identifier.encode()).hexdigest()[:24]}"
        self.accounts[identifier] = (password, did)
        return did

    def expire_sessions(self) -> None:
        """Access tokens expire (400 ExpiredToken); refreshing still works."""
        self.expired.update(self.access)

    def expire_token(self) -> None:
        """The app password was revoked: sessions end and logging in fails (401)."""
        self.access.clear()
        self.refresh.clear()
        self.accounts = {i: ("revoked", did) for i, (_p, did) in self.accounts.items()}

    def rate_limit_next(self, seconds: int = 30) -> None:
        self.fail_next(
            429,
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            {
                "RateLimit-Limit": "5000",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": "0",
                "Retry-After": str(seconds),
            },
        )

    @staticmethod
    def _error(status: int, name: str, message: str = "") -> Reply:
        return Reply(status, {"error": name, "message": message} if message else {"error": name})

    def _did(self, request: Request) -> tuple[str | None, Reply | None]:
        token = request.bearer()
        if not token or token not in self.access:
            return None, self._error(401, "AuthenticationRequired", "Authentication Required")
        if token in self.expired or jwt_exp(token) <= time.time():
            return None, self._error(400, "ExpiredToken", "Token has expired")
        return self.access[token], None

    def revoke_sessions(self) -> None:
        """The account holder removed the app password: every session and grant ends."""
        self.revoked.update(self.refresh)
        self.refresh.clear()
        self.access.clear()

    def _issue(self, did: str) -> dict:
        access = jwt("com.atproto.access", did, ACCESS_SECONDS)
        refresh = jwt("com.atproto.refresh", did, REFRESH_SECONDS)
        self.access[access] = did
        self.refresh[refresh] = did
        handle = next(i for i, (_p, d) in self.accounts.items() if d == did)
        return {"accessJwt": access, "refreshJwt": refresh, "handle": handle, "did": did}

    def create_session(self, request: Request) -> Reply:
        body = request.json() or {}
        account = self.accounts.get(body.get("identifier", ""))
        if account is None or account[0] != body.get("password"):
            return self._error(401, "AuthenticationRequired", "Invalid identifier or password")
        self.sessions_created += 1
        return Reply(200, self._issue(account[1]))

    def refresh_session(self, request: Request) -> Reply:
        token = request.bearer() or ""
        if token in self.revoked:
            return self._error(400, "InvalidToken", "Token has been revoked")
        did = self.refresh.pop(token, None)
        if did is None or jwt_exp(token) <= time.time():
            return self._error(400, "ExpiredToken", "Token has expired")
        self.revoked.add(token)
        self.sessions_refreshed += 1
        return Reply(200, self._issue(did))

    def delete_session(self, request: Request) -> Reply:
        token = request.bearer() or ""
        if token not in self.refresh and token not in self.revoked:
            return self._error(401, "AuthenticationRequired", "Authentication Required")
        self.refresh.pop(token, None)
        self.revoked.add(token)
        return Reply(200, None)

    def upload_blob(self, request: Request) -> Reply:
        _did, failure = self._did(request)
        if failure:
            return failure
        mime = request.content_type
        if not request.body:
            return self._error(400, "InvalidRequest", "Request encoding (Content-Type) required but not provided")
        cid = "bafkrei" + hashlib.sha256(request.body).hexdigest()[:52]
        self.blobs[cid] = {"mimeType": mime, "size": len(request.body)}
        return Reply(
            200, {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(request.body)}}
        )

    def _invalid(self, why: str) -> Reply:
        return self._error(400, "InvalidRequest", f"Invalid app.bsky.feed.post record: {why}")

    def _validate(self, record: dict) -> Reply | None:
        if record.get("$type") != COLLECTION:
            return self._invalid("Record/$type must be app.bsky.feed.post")
        text = record.get("text")
        if not isinstance(text, str):
            return self._invalid('Record must have the property "text"')
        if textrules.graphemes(text) > 300:
            return self._invalid("Record/text must not be longer than 300 graphemes")
        encoded = text.encode("utf-8")
        if len(encoded) > 3000:
            return self._invalid("Record/text must not be longer than 3000 characters")
        if not record.get("createdAt"):
            return self._invalid('Record must have the property "createdAt"')
        if len(record.get("langs", [])) > 3:
            return self._invalid("Record/langs must not have more than 3 elements")
        spans = []
        for facet in record.get("facets", []):
            index = facet.get("index", {})
            start, end = index.get("byteStart"), index.get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(encoded)):
                return self._invalid("Record/facets/index out of range")
            for feature in facet.get("features", []):
                if feature.get("$type") == "app.bsky.richtext.facet#link":
                    if encoded[start:end].decode("utf-8", "replace") != feature.get("uri"):
                        # Not a protocol rule, but a link whose text is not its URI is our bug here.
                        return self._invalid("Record/facets link text does not match its uri")
            spans.append((start, end))
        spans.sort()
        if any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False)):
            return self._invalid("Record/facets must not overlap")
        embed = record.get("embed")
        if embed:
            if embed.get("$type") != "app.bsky.embed.images":
                return self._invalid("Record/embed type not supported by this fake")
            images = embed.get("images", [])
            if len(images) > 4:
                return self._invalid("Record/embed/images must not have more than 4 elements")
            for number, image in enumerate(images):
                if "alt" not in image or not isinstance(image["alt"], str):
                    return self._invalid(f'Record/embed/images/{number} must have the property "alt"')
                blob = self.blobs.get(image.get("image", {}).get("ref", {}).get("$link", ""))
                if blob is None:
                    return self._error(400, "InvalidRequest", "Could not find blob")
                if not blob["mimeType"].startswith("image/"):
                    return self._invalid(f"Record/embed/images/{number}/image mimeType not accepted")
                if blob["size"] > self.blob_max:
                    return self._invalid(f"Record/embed/images/{number}/image file too large")
        reply = record.get("reply")
        if reply:
            for part in ("root", "parent"):
                uri = reply.get(part, {}).get("uri", "")
                if not any(r["uri"] == uri for r in self.records.values()):
                    return self._invalid(f"Record/reply/{part} not found")
        return None

    def create_record(self, request: Request) -> Reply:
        did, failure = self._did(request)
        if failure:
            return failure
        body = request.json() or {}
        if body.get("repo") != did:
            return self._error(400, "InvalidRequest", "Invalid repo")
        if body.get("collection") != COLLECTION:
            return self._error(400, "InvalidRequest", "Invalid collection")
        rkey = body.get("rkey") or f"3l{next(self._seq):011d}"
        if (did, rkey) in self.records:
            return self._error(400, "InvalidRequest", f"Record already exists at {did}/{COLLECTION}/{rkey}")
        if invalid := self._validate(body.get("record") or {}):
            return invalid
        uri = f"at://{did}/{COLLECTION}/{rkey}"
        cid = "bafyrei" + hashlib.sha256(uri.encode()).hexdigest()[:52]
        self.records[(did, rkey)] = {"uri": uri, "cid": cid, "value": body["record"]}
        return Reply(200, {"uri": uri, "cid": cid, "validationStatus": "valid"})

    def get_record(self, request: Request) -> Reply:
        record = self.records.get((request.field("repo") or "", request.field("rkey") or ""))
        if record is None:
            return self._error(400, "RecordNotFound", "Could not locate record")
        return Reply(200, record)

    def delete_record(self, request: Request) -> Reply:
        did, failure = self._did(request)
        if failure:
            return failure
        body = request.json() or {}
        self.records.pop((did, body.get("rkey", "")), None)
        return Reply(200, {})

    # --- notifications -------------------------------------------------------------

    def add_notification(
        self, reason: str = "reply", *, handle: str = "bob.bsky.social", text: str = "", parent: dict | None = None
    ) -> dict:
        """Someone replies to `parent` ({uri, cid}), mentions, quotes, likes... our account."""
        self.clock += timedelta(minutes=1)
        stamp = self.clock.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        author_did = f"did:plc:{hashlib.sha256(handle.encode()).hexdigest()[:24]}"
        rkey = f"3m{len(self.notifications) + 1:011d}"
        uri = f"at://{author_did}/{COLLECTION}/{rkey}"
        record: dict = {"$type": COLLECTION, "text": text, "createdAt": stamp, "langs": []}
        if reason == "reply" and parent:
            root = next(
                (r["value"].get("reply", {}).get("root") for r in self.records.values() if r["uri"] == parent["uri"]),
                None,
            )
            record["reply"] = {"root": root or parent, "parent": parent}
        if reason == "quote" and parent:
            record["embed"] = {"$type": "app.bsky.embed.record", "record": parent}
        notification = {
            "uri": uri,
            "cid": "bafyrei" + hashlib.sha256(uri.encode()).hexdigest()[:52],
            "author": {"did": author_did, "handle": handle},
            "reason": reason,
            "reasonSubject": (parent or {}).get("uri"),
            "record": record,
            "isRead": False,
            "indexedAt": stamp,
            "_seq": len(self.notifications) + 1,
        }
        self.notifications.append(notification)
        if reason in ("reply", "mention", "quote"):
            # The network's own post: it can be replied to.
            self.records[(author_did, rkey)] = {"uri": uri, "cid": notification["cid"], "value": record}
        return notification

    def list_notifications(self, request: Request) -> Reply:
        _did, failure = self._did(request)
        if failure:
            return failure
        try:
            limit = int(request.field("limit", "50") or 50)
        except ValueError:
            return self._error(400, "InvalidRequest", "limit must be an integer")
        if not 1 <= limit <= 100:
            return self._error(400, "InvalidRequest", "limit must be between 1 and 100")
        reasons = request.query.get("reasons")
        rows = [n for n in reversed(self.notifications) if not reasons or n["reason"] in reasons]
        if cursor := request.field("cursor"):
            rows = [n for n in rows if n["_seq"] < int(cursor)]
        page, rest = rows[:limit], rows[limit:]
        body: dict = {"notifications": [{k: v for k, v in n.items() if k != "_seq"} for n in page]}
        if rest:
            body["cursor"] = str(page[-1]["_seq"])
        return Reply(200, body)

    # --- post views (app.bsky.feed.getPosts: up to 25 uris, counts on each postView) ---

    def get_posts(self, request: Request) -> Reply:
        _did, failure = self._did(request)
        if failure:
            return failure
        uris = request.query.get("uris", [])
        if not 1 <= len(uris) <= 25:
            return self._error(400, "InvalidRequest", "uris must have between 1 and 25 items")
        posts = []
        for record in self.records.values():
            if record["uri"] in uris:
                counts = {
                    "replyCount": 0,
                    "repostCount": 0,
                    "likeCount": 0,
                    "quoteCount": 0,
                    **record.get("counts", {}),
                }
                posts.append({"uri": record["uri"], "cid": record["cid"], "record": record["value"], **counts})
        return Reply(200, {"posts": posts})  # a deleted post is simply missing
