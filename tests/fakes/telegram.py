"""A fake Telegram Bot API on 127.0.0.1: the real JSON envelopes and error shapes, strict about
required fields, with long polling, webhooks, and injectable 429s and duplicate updates."""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.waiting import DEADLINE, Arrivals

JSON_FIELDS = {"reply_markup", "commands", "allowed_updates", "scope", "entities", "link_preview_options"}
INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "max_connections"}
REQUIRED = {
    "getMe": (),
    "getUpdates": (),
    "sendMessage": ("chat_id", "text"),
    "editMessageText": ("chat_id", "message_id", "text"),
    "editMessageReplyMarkup": ("chat_id", "message_id"),
    "answerCallbackQuery": ("callback_query_id",),
    "sendPhoto": ("chat_id", "photo"),
    "setMyCommands": ("commands",),
    "deleteWebhook": (),
    "setWebhook": ("url",),
    "getChatMember": ("chat_id", "user_id"),
    "close": (),
    "logOut": (),
}


BOT_ID = 7012345678


@dataclass
class Sent:
    """A message the bot sent or edited, as the fake saw it."""

    method: str
    chat_id: int
    message_id: int
    text: str
    reply_markup: dict | None = None
    photo: bytes | None = None
    via: str | None = None  # which of several bot processes sent it (see FakeTelegram.url_via)


@dataclass
class FakeTelegram:
    token: str = f"{BOT_ID}:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    username: str = "stagecoach_bot"
    updates: list[dict] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    answered_callbacks: list[dict] = field(default_factory=list)
    commands: dict[str, list[dict]] = field(default_factory=dict)
    admins: set[tuple[int, int]] = field(default_factory=set)
    webhook: dict | None = None
    webhooks: list[dict] = field(default_factory=list)  # every setWebhook, with the "_via" that set it
    gone: set[int] = field(default_factory=set)
    names: dict[int, str] = field(default_factory=dict)  # first names, by user id
    per_second: int | None = None  # enforce Telegram's overall limit, as the real API does
    refused: int = 0
    fail_next: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    confirmed: set[int] = field(default_factory=set)  # update ids a getUpdates offset has passed
    forward: Callable[[dict], None] | None = None  # plays the webhook: new updates go here, not to getUpdates
    url: str = ""

    def __post_init__(self) -> None:
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._by_chat: dict[int, list[Sent]] = defaultdict(list)
        self._runner: web.AppRunner | None = None
        self.arrivals = Arrivals()
        self._held: dict[str, asyncio.Event] = {}
        self._dropped: set[asyncio.Event] = set()

    # Test controls

    async def start(self) -> None:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/via/{via}/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url_via(self, via: str) -> str:
        """The Bot API for one of several bot processes: what it sends records its name."""
        return f"{self.url}/via/{via}"

    def push(self, update: dict, twice: bool = False) -> dict:
        update = {"update_id": next(self._update_ids), **update}
        if self.forward is not None:
            self.forward(update)
            return update
        self.updates.append(update)
        if twice:
            self.updates.append(dict(update))
        self._new_update.set()
        return update

    def text(self, user: int, text: str, chat: int | None = None, chat_type: str = "private",
             language: str = "en", title: str | None = None, twice: bool = False,
             reply_to: int | None = None, text_mention: int | None = None) -> dict:
        """A message from `user`; `reply_to` makes it a reply to a message of that user, and
        `text_mention` links its last word to that user, as Telegram does for people without a
        username."""
        chat_id = chat if chat is not None else user
        chat_info = {"id": chat_id, "type": chat_type, **({"title": title} if title else {})}
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": 1767000000,
            "chat": chat_info,
            "from": self._person(user, language),
            "text": text,
        }
        entities = []
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
        if text_mention is not None:
            word = text.split()[-1]
            entities.append({"type": "text_mention", "offset": len(text) - len(word), "length": len(word),
                             "user": self._person(text_mention, language)})
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = {"message_id": next(self._message_ids), "date": 1767000000,
                                           "chat": chat_info, "from": self._person(reply_to, language),
                                           "text": "…"}
        return self.push({"message": message}, twice=twice)

    def press(self, user: int, sent: Sent, data: str, twice: bool = False, language: str = "en") -> dict:
        callback = {
            "id": str(next(self._update_ids)),
            "from": self._person(user, language),
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": sent.message_id,
                "date": 1767000000,
                "chat": {"id": sent.chat_id, "type": "private" if sent.chat_id > 0 else "supergroup"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Stagecoach", "username": self.username},
                "text": sent.text,
                **({"reply_markup": sent.reply_markup} if sent.reply_markup else {}),
            },
        }
        return self.push({"callback_query": callback}, twice=twice)

    def _person(self, user: int, language: str) -> dict:
        return {"id": user, "is_bot": False, "first_name": self.names.get(user, "Sam"), "language_code": language}

    def inject_429(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        self.fail_next[method].extend([retry_after] * times)

    def hold(self, method: str) -> asyncio.Event:
        """Keeps every call of a method waiting until the returned event is set."""
        self._held[method] = asyncio.Event()
        return self._held[method]

    def drop(self, method: str) -> None:
        """Lets new calls of a held method through; those held so far fail unrecorded, as calls
        whose caller died before Telegram took them."""
        held = self._held.pop(method)
        self._dropped.add(held)
        held.set()

    # Waiting for what the bot did: conditions, never silence

    async def until(self, condition, what, seconds: float = DEADLINE, chat_id: int | None = None):
        """Waits until a condition on what this server received (about one chat, if
        `chat_id` is given) holds; returns its value."""
        return await self.arrivals.until(condition, what, seconds, topic=chat_id)

    async def message(self, chat_id: int, containing: str, after: int = 0, method: str | None = None,
                      seconds: float = DEADLINE) -> Sent:
        """The first message (sent or edited) to a chat, from its `after`-th on, whose text
        contains `containing`; waits for it."""

        def found() -> Sent | None:
            return next((s for s in self.to(chat_id)[after:]
                         if containing in s.text and method in (None, s.method)), None)

        return await self.until(found, lambda: f"{containing!r} in chat {chat_id}; it got "
                                + repr([s.text[:60] for s in self.to(chat_id)[after:]][-5:]), seconds, chat_id)

    async def nth(self, chat_id: int, count: int, seconds: float = DEADLINE) -> Sent:
        """The `count`-th message (sent or edited) to a chat, counting from 1; waits for it."""
        await self.until(lambda: len(self.to(chat_id)) >= count, f"message {count} to chat {chat_id}", seconds, chat_id)
        return self.to(chat_id)[count - 1]

    async def answered(self, update: dict, seconds: float = DEADLINE) -> dict:
        """The answer to the button press that `update` carries; waits for it."""
        query_id = update["callback_query"]["id"]
        return await self.until(
            lambda: next((a for a in self.answered_callbacks if a["callback_query_id"] == query_id), None),
            f"an answer to button press {query_id}", seconds)

    async def wait_for(self, chat_id: int, count: int, seconds: float = DEADLINE) -> Sent:
        """Waits until a chat has more than `count` messages (sent or edited); returns the last."""
        await self.until(lambda: len(self.to(chat_id)) > count, f"message {count + 1} to chat {chat_id}",
                         seconds, chat_id)
        return self.to(chat_id)[-1]

    def to(self, chat_id: int) -> list[Sent]:
        return self._by_chat[chat_id]

    def last(self, chat_id: int) -> Sent:
        return self.to(chat_id)[-1]

    def current(self, chat_id: int, message_id: int) -> Sent:
        """The latest version of a message, after edits."""
        return [s for s in self.to(chat_id) if s.message_id == message_id][-1]

    # The API

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            return await self._answer(request)
        finally:
            self.arrivals.notify()

    async def _answer(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append((method, params))
        if method not in REQUIRED:
            return _error(404, "Not Found: method not found")
        missing = [f for f in REQUIRED[method] if f not in params]
        if missing:
            return _error(400, f"Bad Request: {missing[0]} is empty")
        if method in self._held:
            held = self._held[method]
            await held.wait()
            if held in self._dropped:
                return _error(500, "Internal Server Error")
        if self.fail_next[method]:
            retry_after = self.fail_next[method].pop(0)
            return _error(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        return await getattr(self, "_" + method)({**params, "_via": request.match_info.get("via")})

    async def _getMe(self, params: dict) -> web.Response:
        return _ok({"id": BOT_ID, "is_bot": True, "first_name": "Stagecoach", "username": self.username,
                    "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False})

    async def _getUpdates(self, params: dict) -> web.Response:
        offset, timeout = params.get("offset", 0), min(params.get("timeout", 0), 0.5)
        if offset:
            self.confirmed.update(u["update_id"] for u in self.updates if u["update_id"] < offset)
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates and timeout:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), timeout)
            except TimeoutError:
                pass
        return _ok(self.updates[: params.get("limit", 100)])

    def _over_limit(self) -> bool:
        if self.per_second is None:
            return False
        now = time.monotonic()
        self._recent = [t for t in getattr(self, "_recent", []) if now - t < 1.0]
        if len(self._recent) >= self.per_second:
            self.refused += 1
            return True
        self._recent.append(now)
        return False

    async def _sendMessage(self, params: dict) -> web.Response:
        if self._over_limit():
            return _error(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        if params["chat_id"] in self.gone:
            return _error(403, "Forbidden: bot was kicked from the supergroup chat")
        return _ok(self._record("sendMessage", params, next(self._message_ids)))

    async def _sendPhoto(self, params: dict) -> web.Response:
        return _ok(self._record("sendPhoto", params, next(self._message_ids)))

    async def _editMessageText(self, params: dict) -> web.Response:
        return self._edit("editMessageText", params)

    async def _editMessageReplyMarkup(self, params: dict) -> web.Response:
        previous = self._find(params)
        if previous is None:
            return _error(400, "Bad Request: message to edit not found")
        return self._edit("editMessageReplyMarkup", {**params, "text": previous.text})

    def _edit(self, method: str, params: dict) -> web.Response:
        previous = self._find(params)
        if previous is None:
            return _error(400, "Bad Request: message to edit not found")
        if previous.text == params["text"] and previous.reply_markup == params.get("reply_markup"):
            return _error(400, "Bad Request: message is not modified: specified new message content and"
                               " reply markup are exactly the same as a current content and reply markup")
        return _ok(self._record(method, params, previous.message_id))

    def _find(self, params: dict) -> Sent | None:
        found = [s for s in self.to(params["chat_id"]) if s.message_id == params["message_id"]]
        return found[-1] if found else None

    def _record(self, method: str, params: dict, message_id: int) -> dict:
        photo = params.get("photo")
        sent = Sent(method, params["chat_id"], message_id, params.get("text", params.get("caption", "")),
                    params.get("reply_markup"), bytes(photo) if isinstance(photo, (bytes, bytearray)) else None,
                    params.get("_via"))
        self.sent.append(sent)
        self._by_chat[sent.chat_id].append(sent)
        self.arrivals.notify(sent.chat_id)
        chat = {"id": sent.chat_id, "type": "private" if sent.chat_id > 0 else "supergroup"}
        message: dict[str, Any] = {"message_id": message_id, "date": 1767000000, "chat": chat,
                                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "Stagecoach"}}
        if sent.photo is not None:
            message["photo"] = [{"file_id": f"photo{message_id}", "file_unique_id": f"u{message_id}",
                                 "width": 800, "height": 900}]
        else:
            message["text"] = sent.text
        if sent.reply_markup:
            message["reply_markup"] = sent.reply_markup
        return message

    async def _answerCallbackQuery(self, params: dict) -> web.Response:
        self.answered_callbacks.append(params)
        return _ok(True)

    async def _setMyCommands(self, params: dict) -> web.Response:
        self.commands[params.get("language_code", "")] = params["commands"]
        return _ok(True)

    async def _deleteWebhook(self, params: dict) -> web.Response:
        self.webhook = None
        return _ok(True)

    async def _setWebhook(self, params: dict) -> web.Response:
        self.webhook = params
        self.webhooks.append(params)
        return _ok(True)

    async def _getChatMember(self, params: dict) -> web.Response:
        status = "administrator" if (params["chat_id"], params["user_id"]) in self.admins else "member"
        user = {"id": params["user_id"], "is_bot": False, "first_name": self.names.get(params["user_id"], "Sam")}
        member: dict[str, Any] = {"status": status, "user": user}
        if status == "administrator":
            member |= dict.fromkeys((
                "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
                "can_manage_video_chats", "can_restrict_members", "can_promote_members",
                "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
                "can_delete_stories"), True)
        return _ok(member)

    async def _close(self, params: dict) -> web.Response:
        return _ok(True)

    async def _logOut(self, params: dict) -> web.Response:
        return _ok(True)


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        params |= await request.json()
        return params
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            data = await part.read()  # type: ignore[union-attr]
            params[part.name] = data if part.filename else data.decode()  # type: ignore[union-attr]
    elif request.can_read_body:
        params |= dict(await request.post())
    for name, value in list(params.items()):
        if name in JSON_FIELDS and isinstance(value, str):
            params[name] = json.loads(value)
        elif name in INT_FIELDS and isinstance(value, str):
            params[name] = int(value)
    return params


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str, parameters: dict | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)
