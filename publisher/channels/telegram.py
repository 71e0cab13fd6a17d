"""Telegram Bot API: sendMessage, sendPhoto (one image) or sendMediaGroup (2–10 images).

The token is part of the URL path, so it is redacted from every error and httpx's request
log is kept at WARNING (config/settings.py). Text ≤ 4096 and captions ≤ 1024, counted in
UTF-16 code units (always at least the server's count). A text too long for a caption goes
as its own message after the images. There is no idempotency: a timeout after sending is
an unknown outcome. 429 answers carry `parameters.retry_after`.

Channel.config: chat_id (e.g. "@politie_zone" or a numeric id), chat_username (for links),
api_url (default https://api.telegram.org). Secret: the bot token (connected from the
admin, checked first with `bot_check`; or the operator's TANDEM_SECRET_ variable).

Inbox: comments on the channel's posts live in its linked discussion group
(config discussion_chat_id, numeric); the bot, a member of that group with privacy mode off,
reads them with getUpdates. Its `offset` is the cursor: asking from an offset confirms (and
drops) every earlier update, so the offset only moves after a page is stored. getUpdates is per
bot, not per chat: a bot reading one channel's inbox must not serve another's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from django.utils.translation import gettext_noop

from publisher.channels.base import (
    AuthError,
    ChannelAdapter,
    ChannelError,
    Cursor,
    InboundItem,
    Limits,
    PermanentError,
    Post,
    Problem,
    RateLimited,
    Receipt,
    TextCount,
    TransientError,
    UnknownOutcome,
    links_shown,
)
from publisher.channels.checking import count_problems, image_problems
from publisher.channels.counting import compose, cut_at, utf16_units
from publisher.channels.http import HttpSession, error_text, excerpt
from publisher.channels.secrets import channel_secret, redact
from publisher.media.images import RenditionSpec, rendition_for
from publisher.models import ConnectFlow

TEXT_MAX = 4096
CAPTION_MAX = 1024
UPDATES_PAGE = 100  # getUpdates' maximum


@dataclass(frozen=True)
class BotCheck:
    """What Telegram says of a bot token and a chat, before they are saved."""

    bot_username: str
    chat_id: int
    chat_title: str
    chat_type: str
    chat_username: str
    member_status: str  # creator | administrator | member | restricted | left | kicked
    can_post: bool

    @property
    def may_post(self) -> bool:
        """A channel takes posts from its administrators allowed to post; a group from any member."""
        if self.chat_type == "channel":
            return self.member_status == "creator" or (self.member_status == "administrator" and self.can_post)
        return self.member_status in ("creator", "administrator")


class TelegramAdapter(ChannelAdapter):
    kind = "telegram"
    default_endpoint = "https://api.telegram.org"
    label = "Telegram"
    url_fields = ("api_url",)
    limits = Limits(
        text_max=TEXT_MAX,
        text_unit="utf16",
        images_max=10,
        image_bytes_max=10_000_000,
        image_sides_sum_max=10_000,
        image_aspect_min=1 / 20,
        image_aspect_max=20.0,
        # Telegram shows photos at ≤ 2560 px; sending more only costs bytes.
        image_side_max=2560,
        image_formats=("JPEG", "PNG"),
        # Timelines show a single image about 600 px wide on the web [inference: column widths].
        image_shown_width=600,
    )
    supports_replies = True
    supports_retract = True
    supports_edit = True
    connect_flow = ConnectFlow.BOT_TOKEN
    supports_inbox = True

    def bot_check(self, token: str, chat_id: str) -> BotCheck:
        """getMe (is the token a bot's?), getChat (does the chat exist for it?) and
        getChatMember (is the bot an administrator there?). Raises AuthError for a token
        Telegram refuses, PermanentError (the network's words) for an unknown chat."""
        with HttpSession(config=self.channel.config, secrets=[token]) as http:
            bot = self._call(http, token, "getMe", creates_post=False)
            chat = self._call(http, token, "getChat", creates_post=False, json={"chat_id": chat_id})
            member = self._call(
                http, token, "getChatMember", creates_post=False, json={"chat_id": chat_id, "user_id": bot["id"]}
            )
        return BotCheck(
            bot_username=str(bot.get("username", "")),
            chat_id=int(chat["id"]),
            chat_title=str(chat.get("title") or chat.get("username") or chat["id"]),
            chat_type=str(chat.get("type", "")),
            chat_username=str(chat.get("username", "")),
            member_status=str(member.get("status", "")),
            can_post=bool(member.get("can_post_messages", False)),
        )

    def measure(self, post: Post) -> TextCount:
        text = compose(post.text, post.link)
        return TextCount(
            text=text,
            count=utf16_units(text),
            limit=TEXT_MAX,
            unit="utf16",
            cut=cut_at(text, utf16_units, TEXT_MAX),
            links=links_shown(text),
            rule="telegram",
        )

    def check(self, post: Post) -> list[Problem]:
        return count_problems(self.measure(post)) + image_problems(post, self.limits)

    def _to_error(self, response: httpx.Response, token: str) -> ChannelError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        code = int(body.get("error_code") or response.status_code)
        description = excerpt(redact(str(body["description"]), token)) if body.get("description") else ""
        text = f"HTTP {response.status_code}: {description or error_text(response, token)}"
        parameters = body.get("parameters") or {}
        if code == 429:
            return RateLimited(text, status=response.status_code, retry_after=parameters.get("retry_after"))
        if code in (401, 403, 404):
            return AuthError(text, status=response.status_code)
        if code >= 500:
            return TransientError(text, status=response.status_code, retry_after=parameters.get("retry_after"))
        if "migrate_to_chat_id" in parameters:
            text += f" (the group is now chat {parameters['migrate_to_chat_id']}: update the channel's chat_id)"
        return PermanentError(text, status=response.status_code)

    def _call(self, http: HttpSession, token: str, method: str, *, creates_post: bool, **kwargs: Any) -> Any:
        base = str(self.channel.config.get("api_url", "https://api.telegram.org")).rstrip("/")
        response = http.request("POST", f"{base}/bot{token}/{method}", creates_post=creates_post, check=False, **kwargs)
        if not response.is_success:
            raise self._to_error(response, token)
        body = response.json()
        if not body.get("ok"):
            raise self._to_error(response, token)
        return body["result"]

    def publish(self, post: Post, idempotency_key: str) -> Receipt:
        text = compose(post.text, post.link)
        # An answer to a comment goes to the discussion group the comment is in.
        chat_id = (post.reply_to.extra.get("chat_id") if post.reply_to else None) or self.channel.config.get(
            "chat_id", ""
        )
        caption = text if utf16_units(text) <= CAPTION_MAX else ""
        reply = {"message_id": int(post.reply_to.remote_id)} if post.reply_to else None
        if post.exercise:
            return self.exercise_receipt(
                post, idempotency_key, {"chat_id": chat_id, "text": text, "images": len(post.images)}
            )
        blocking = [p.message for p in self.check(post) if p.severity == "error"]
        if blocking:
            raise PermanentError("; ".join(blocking))
        token = channel_secret(self.channel)
        message_ids: list[int] = []
        with HttpSession(config=self.channel.config, secrets=[token]) as http:
            if not post.images:
                payload: dict[str, Any] = {"chat_id": chat_id, "text": text}
                if reply:
                    payload["reply_parameters"] = reply
                result = self._call(http, token, "sendMessage", creates_post=True, json=payload)
                message_ids.append(result["message_id"])
            else:
                spec = RenditionSpec.from_limits(self.limits)
                renditions = [rendition_for(image.path, spec, kind=self.kind) for image in post.images]
                form: dict[str, Any] = {"chat_id": str(chat_id)}
                if reply:
                    form["reply_parameters"] = json.dumps(reply)
                if len(renditions) == 1:
                    rendition = renditions[0]
                    if caption:
                        form["caption"] = caption
                    files = {"photo": (rendition.name, rendition.read(), rendition.mime_type)}
                    result = self._call(http, token, "sendPhoto", creates_post=True, data=form, files=files)
                    message_ids.append(result["message_id"])
                else:
                    media = []
                    files = {}
                    for index, rendition in enumerate(renditions):
                        item: dict[str, Any] = {"type": "photo", "media": f"attach://photo{index}"}
                        if index == 0 and caption:
                            item["caption"] = caption  # shown as the album's caption
                        media.append(item)
                        files[f"photo{index}"] = (rendition.name, rendition.read(), rendition.mime_type)
                    form["media"] = json.dumps(media)
                    result = self._call(http, token, "sendMediaGroup", creates_post=True, data=form, files=files)
                    message_ids.extend(m["message_id"] for m in result)
                if not caption:
                    try:
                        result = self._call(
                            http,
                            token,
                            "sendMessage",
                            creates_post=True,
                            json={"chat_id": chat_id, "text": text, "reply_parameters": {"message_id": message_ids[0]}},
                        )
                    except ChannelError as exc:
                        # The images are out; resending them would duplicate: a human decides.
                        raise UnknownOutcome(f"Images sent, text not sent: {exc.message}", status=exc.status) from exc
                    message_ids.append(result["message_id"])
        username = str(self.channel.config.get("chat_username", "")).lstrip("@")
        url = f"https://t.me/{username}/{message_ids[0]}" if username else ""
        # Where the text is, for a correction: a photo's caption, or a message of its own.
        text_in = "caption" if post.images and caption else "message"
        return Receipt(
            remote_id=str(message_ids[0]),
            url=url,
            extra={
                "message_ids": message_ids,
                "chat_id": chat_id,
                "text_in": text_in,
                "text_message_id": message_ids[-1],
            },
        )

    def edit(self, receipt: Receipt, post: Post, idempotency_key: str) -> Receipt:
        """editMessageText on the message holding the text, editMessageCaption on a photo whose
        caption holds it. "Message is not modified" means the text is already the new one (a
        retry after a timeout): done."""
        text = compose(post.text, post.link)
        chat_id = receipt.extra.get("chat_id", self.channel.config.get("chat_id", ""))
        in_caption = receipt.extra.get("text_in") == "caption"
        if post.exercise:
            return self.exercise_receipt(post, idempotency_key, {"chat_id": chat_id, "text": text})
        limit = CAPTION_MAX if in_caption else TEXT_MAX
        if utf16_units(text) > limit:
            raise PermanentError(
                f"The corrected text is {utf16_units(text)} units long: Telegram allows {limit} "
                f"{'in a caption' if in_caption else 'in a message'}."
            )
        token = channel_secret(self.channel)
        with HttpSession(config=self.channel.config, secrets=[token]) as http:
            if in_caption:
                method, payload = "editMessageCaption", {"caption": text, "message_id": int(receipt.remote_id)}
            else:
                message_id = int(receipt.extra.get("text_message_id") or receipt.remote_id)
                method, payload = "editMessageText", {"text": text, "message_id": message_id}
            try:
                self._call(http, token, method, creates_post=False, json={"chat_id": chat_id, **payload})
            except PermanentError as exc:
                if "message is not modified" not in exc.message:
                    raise
        return Receipt(remote_id=receipt.remote_id, url=receipt.url, extra={"method": method})

    def retract(self, receipt: Receipt) -> None:
        token = channel_secret(self.channel)
        chat_id = receipt.extra.get("chat_id", self.channel.config.get("chat_id", ""))
        ids = receipt.extra.get("message_ids") or [int(receipt.remote_id)]
        with HttpSession(config=self.channel.config, secrets=[token]) as http:
            self._call(http, token, "deleteMessages", creates_post=False, json={"chat_id": chat_id, "message_ids": ids})

    def fetch_replies(self, cursor: Cursor | None) -> tuple[list[InboundItem], Cursor]:
        """Comments in the linked discussion group, from the update after the last one stored."""
        position = dict(cursor or {})
        group = str(self.channel.config.get("discussion_chat_id", ""))
        if not group:
            raise PermanentError(gettext_noop("No linked discussion group is configured (discussion_chat_id)."))
        params: dict[str, Any] = {"limit": UPDATES_PAGE, "timeout": 0, "allowed_updates": ["message"]}
        if position.get("offset"):
            params["offset"] = int(position["offset"])
        token = channel_secret(self.channel)
        with HttpSession(config=self.channel.config, secrets=[token]) as http:
            updates = self._call(http, token, "getUpdates", creates_post=False, json=params)
        if not updates:
            return [], position
        items = [item for update in updates if (item := self._comment(update, group)) is not None]
        return items, {**position, "offset": max(int(u["update_id"]) for u in updates) + 1}

    def _comment(self, update: dict[str, Any], group: str) -> InboundItem | None:
        message = update.get("message")
        if not isinstance(message, dict) or str((message.get("chat") or {}).get("id")) != group:
            return None
        if message.get("is_automatic_forward"):
            return None  # our own channel post, mirrored into the group
        text = str(message.get("text") or message.get("caption") or "")
        if not text:
            return None
        parent = message.get("reply_to_message") or {}
        origin = parent.get("forward_origin") or {}
        post_id = origin.get("message_id") or parent.get("forward_from_message_id")
        answers = (str(post_id),) if parent.get("is_automatic_forward") and post_id else ()
        sender = message.get("from") or {}
        handle = f"@{sender['username']}" if sender.get("username") else str(sender.get("first_name", ""))
        username = str(self.channel.config.get("chat_username", "")).lstrip("@")
        url = f"https://t.me/{username}/{answers[0]}?comment={message['message_id']}" if username and answers else ""
        return InboundItem(
            remote_id=str(message["message_id"]),
            author_handle=handle,
            text=text,
            posted_at=datetime.fromtimestamp(int(message["date"]), tz=UTC),
            url=url,
            kind="comment",
            answers=answers,
            thread={"chat_id": int(group) if group.lstrip("-").isdigit() else group},
        )
