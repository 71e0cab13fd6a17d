"""Fake Telegram Bot API (core.telegram.org/bots/api as quoted by python-telegram-bot).

Enforces: the token in the path (401 Unauthorized otherwise); the {ok, result} /
{ok: false, error_code, description, parameters} envelope; sendMessage text 1–4096;
sendPhoto one photo ≤ 10 MB with width + height ≤ 10000 and ratio ≤ 20, caption ≤ 1024;
sendMediaGroup 2–10 items with attach:// parts; reply_parameters to an existing message;
429 with parameters.retry_after. No de-duplication: the same request twice posts twice.

Edits (core.telegram.org/bots/api#updating-messages): editMessageText on a text message,
editMessageCaption on a photo; "message to edit not found" for an unknown id, "there is no
text in the message to edit" / "there is no caption ..." for the wrong kind, and "message is
not modified" when the new content is exactly the current one. Each edit sets edit_date.
Connect checks: getMe answers the bot (User: id, is_bot, first_name, username); getChat the
chat (ChatFullInfo: id, type, title, username) or 400 "Bad Request: chat not found";
getChatMember(chat_id, user_id) the bot's ChatMember in that chat: status "administrator"
(with can_post_messages in a channel) where `make_admin` made it one, else "member" or "left".
getUpdates (the inbox): updates numbered in order; `offset` confirms every earlier update,
which is then gone for good; `limit` 1-100; 409 Conflict while a webhook is set. A channel
post is mirrored into its linked discussion group (is_automatic_forward, forward_origin of
type "channel"); a comment is a group message replying to that mirror.
"""

from __future__ import annotations

import io
import itertools
import json
import time

from PIL import Image

from tests.fakes.base import FakeServer, Reply, Request


class FakeTelegram(FakeServer):
    name = "telegram"

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()
        self.chats: set[str] = set()
        self.messages: dict[int, dict] = {}
        self.bots: dict[str, dict] = {}  # token → User
        self.chat_info: dict[str, dict] = {}  # chat id → ChatFullInfo
        self.admins: dict[str, dict[int, bool]] = {}  # chat id → {bot id: can_post_messages}
        self._ids = itertools.count(100)
        self.updates: list[dict] = []
        self._update_ids = itertools.count(500_000)
        self.webhook_set = False
        self.route("POST", r"/bot(?P<token>[^/]+)/(?P<method>\w+)", self.call)

    def add_bot(self, token: str, username: str) -> dict:
        self.tokens.add(token)
        bot = {"id": 7_000_000 + len(self.bots), "is_bot": True, "first_name": username, "username": username}
        self.bots[token] = bot
        return bot

    def add_chat(self, chat_id: str, *, title: str, kind: str = "channel", numeric_id: int = -1001234567890) -> None:
        self.chats.add(chat_id)
        info = {"id": numeric_id, "type": kind, "title": title}
        if chat_id.startswith("@"):
            info["username"] = chat_id[1:]
        self.chat_info[chat_id] = info
        self.chats.add(str(numeric_id))
        self.chat_info[str(numeric_id)] = info

    def make_admin(self, chat_id: str, token: str, *, can_post_messages: bool = True) -> None:
        info = self.chat_info[chat_id]
        for key in (chat_id, str(info["id"])):
            self.admins.setdefault(key, {})[self.bots[token]["id"]] = can_post_messages

    def expire_token(self) -> None:
        """The bot token was revoked by BotFather (401 Unauthorized)."""
        self.tokens.clear()

    def flood_next(self, seconds: int = 7) -> None:
        self.fail_next(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {seconds}",
                "parameters": {"retry_after": seconds},
            },
        )

    @staticmethod
    def _bad(description: str, code: int = 400) -> Reply:
        return Reply(code, {"ok": False, "error_code": code, "description": description})

    def _params(self, request: Request) -> dict:
        if request.content_type == "application/json":
            return request.json() or {}
        params = {k: v[0] for k, v in request.form.items()}
        for key in ("reply_parameters", "media"):
            if key in params:
                params[key] = json.loads(params[key])
        return params

    def call(self, request: Request) -> Reply:
        if request.match["token"] not in self.tokens:
            return self._bad("Unauthorized", 401)
        params = self._params(request)
        method = request.match["method"]
        if method == "getMe":
            bot = self.bots.get(request.match["token"], {"id": 1, "is_bot": True, "first_name": "bot"})
            return Reply(200, {"ok": True, "result": bot})
        if request.match["method"] == "getUpdates":
            return self.get_updates(params)
        if str(params.get("chat_id", "")) not in self.chats:
            return self._bad("Bad Request: chat not found")
        reply = params.get("reply_parameters")
        if reply and reply.get("message_id") not in self.messages:
            return self._bad("Bad Request: message to be replied not found")
        if method == "getChat":
            return Reply(200, {"ok": True, "result": self.chat_info.get(str(params["chat_id"]), {"id": 1})})
        if method == "getChatMember":
            return self.get_chat_member(request, params)
        handler = {
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendMediaGroup": self.send_media_group,
            "deleteMessages": self.delete_messages,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
        }.get(method)
        if handler is None:
            return self._bad("Not Found", 404)
        return handler(request, params)

    def get_chat_member(self, request: Request, params: dict) -> Reply:
        try:
            user_id = int(params.get("user_id", ""))
        except ValueError:
            return self._bad("Bad Request: invalid user_id specified")
        chat_id = str(params["chat_id"])
        bot = next((b for b in self.bots.values() if b["id"] == user_id), None)
        if bot is None:
            return self._bad("Bad Request: user not found")
        admins = self.admins.get(chat_id, {})
        if user_id in admins:
            member = {"status": "administrator", "user": bot, "can_be_edited": False}
            if self.chat_info.get(chat_id, {}).get("type") == "channel":
                member["can_post_messages"] = admins[user_id]
        else:
            member = {"status": "left", "user": bot}
        return Reply(200, {"ok": True, "result": member})

    def _store(self, params: dict, **content: object) -> dict:
        message_id = next(self._ids)
        reply = params.get("reply_parameters") or {}
        message = {
            "message_id": message_id,
            "chat": {"id": params["chat_id"]},
            "reply_to": reply.get("message_id"),
            **content,
        }
        self.messages[message_id] = message
        return message

    def send_message(self, request: Request, params: dict) -> Reply:
        text = params.get("text", "")
        if not text.strip():
            return self._bad("Bad Request: message text is empty")
        if len(text) > 4096:
            return self._bad("Bad Request: message is too long")
        return Reply(200, {"ok": True, "result": self._store(params, text=text)})

    def _photo_problem(self, data: bytes) -> str | None:
        if len(data) > 10_000_000:
            return "Bad Request: file is too big"
        try:
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
        except OSError:
            return "Bad Request: IMAGE_PROCESS_FAILED"
        if width + height > 10_000 or max(width / height, height / width) > 20:
            return "Bad Request: PHOTO_INVALID_DIMENSIONS"
        return None

    def send_photo(self, request: Request, params: dict) -> Reply:
        photo = request.files.get("photo")
        if photo is None:
            return self._bad("Bad Request: there is no photo in the request")
        if problem := self._photo_problem(photo.data):
            return self._bad(problem)
        caption = params.get("caption", "")
        if len(caption) > 1024:
            return self._bad("Bad Request: message caption is too long")
        return Reply(200, {"ok": True, "result": self._store(params, photo=len(photo.data), caption=caption)})

    def send_media_group(self, request: Request, params: dict) -> Reply:
        media = params.get("media") or []
        if not 2 <= len(media) <= 10:
            return self._bad("Bad Request: wrong number of media in the album")
        results = []
        for item in media:
            name = str(item.get("media", "")).removeprefix("attach://")
            part = request.files.get(name)
            if item.get("type") != "photo" or part is None:
                return self._bad("Bad Request: wrong file identifier/HTTP URL specified")
            if problem := self._photo_problem(part.data):
                return self._bad(problem)
            if len(item.get("caption", "")) > 1024:
                return self._bad("Bad Request: message caption is too long")
        for item in media:
            results.append(self._store(params, photo=True, caption=item.get("caption", "")))
        return Reply(200, {"ok": True, "result": results})

    def delete_messages(self, request: Request, params: dict) -> Reply:
        for message_id in params.get("message_ids", []):
            self.messages.pop(message_id, None)
        return Reply(200, {"ok": True, "result": True})

    def _edited(self, params: dict, field: str, value: str, limit: int, too_long: str) -> Reply:
        message = self.messages.get(params.get("message_id"))  # type: ignore[arg-type]
        if message is None or str(message["chat"]["id"]) != str(params.get("chat_id")):
            return self._bad("Bad Request: message to edit not found")
        if field not in message:
            return self._bad(
                f"Bad Request: there is no {'text' if field == 'text' else 'caption'} in the message to edit"
            )
        if not value.strip() and field == "text":
            return self._bad("Bad Request: message text is empty")
        if len(value) > limit:
            return self._bad(too_long)
        if message[field] == value:
            return self._bad(
                "Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        message[field] = value
        message["edit_date"] = int(time.time())
        return Reply(200, {"ok": True, "result": message})

    def edit_message_text(self, request: Request, params: dict) -> Reply:
        return self._edited(params, "text", params.get("text", ""), 4096, "Bad Request: message is too long")

    def edit_message_caption(self, request: Request, params: dict) -> Reply:
        return self._edited(
            params, "caption", params.get("caption", ""), 1024, "Bad Request: message caption is too long"
        )

    # --- the inbox: a linked discussion group ------------------------------------------

    def mirror(self, channel_message_id: int, *, channel_chat_id: int, group_chat_id: int) -> dict:
        """The channel post as Telegram copies it into the linked discussion group."""
        message = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": group_chat_id, "type": "supergroup"},
            "is_automatic_forward": True,
            "forward_origin": {"type": "channel", "chat": {"id": channel_chat_id}, "message_id": channel_message_id},
            "text": self.messages.get(channel_message_id, {}).get("text", ""),
        }
        self.messages[message["message_id"]] = message
        self._update(message)
        return message

    def add_comment(self, group_chat_id: int, text: str, *, reply_to: dict | None = None, username: str = "") -> dict:
        message: dict = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": group_chat_id, "type": "supergroup"},
            "from": {"id": 42, "is_bot": False, "first_name": "Jan", **({"username": username} if username else {})},
            "text": text,
        }
        if reply_to:
            message["reply_to_message"] = reply_to
        self.messages[message["message_id"]] = message
        self._update(message)
        return message

    def _update(self, message: dict) -> None:
        self.updates.append({"update_id": next(self._update_ids), "message": message})

    def get_updates(self, params: dict) -> Reply:
        if self.webhook_set:
            return self._bad("Conflict: can't use getUpdates method while webhook is active", 409)
        limit = int(params.get("limit", 100))
        if not 1 <= limit <= 100:
            return self._bad("Bad Request: limit must be between 1 and 100")
        if offset := params.get("offset"):
            # Confirmed: Telegram forgets them.
            self.updates = [u for u in self.updates if u["update_id"] >= int(offset)]
        allowed = params.get("allowed_updates")
        page = [u for u in self.updates if not allowed or any(k in u for k in allowed)][:limit]
        return Reply(200, {"ok": True, "result": page})
