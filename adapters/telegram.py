"""The Telegram adapter, on python-telegram-bot's Application.

Updates become engine events; replies become messages, inline keyboards, edits and photos.
Nothing here knows a rule of the engine: it only knows Telegram.
"""
from __future__ import annotations

import asyncio
import functools
import hmac
import html
import json
import logging
import os
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import AIORateLimiter, Application, BaseUpdateProcessor, ContextTypes, TypeHandler
from telegram.warnings import PTBUserWarning

from bot.catalog import Catalog
from bot.charts import Chart, render
from bot.commands import TELEGRAM, spell
from bot.engine import AsyncEngine
from bot.events import Event, Option, Person, Reply, ReplyKind
from bot.registry import menu
from bot.scheduler import ChatGone, Sender

from .common import button_label, numbered, rows
from .contract import Running
from .pacing import Pacing
from .telegram_http import AiohttpRequest

log = logging.getLogger(__name__)
Drawing = tuple[str, Chart, asyncio.Future[bytes]]  # a chat, a chart, and the PNG being drawn for it
# Updates are read raw on purpose (Intake._poll): one the library cannot read must be set aside
# on its own, not fail the whole batch and stall polling, as Bot.get_updates would.
warnings.filterwarnings("ignore", message="Please use 'Bot.getUpdates'", category=PTBUserWarning)

PLATFORM = "telegram"
DEFAULT_API_URL = "https://api.telegram.org"
ANY_HOST = "0.0.0.0"
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
ADMIN_STATUSES = {"administrator", "creator"}
ALLOWED_UPDATES = ["message", "callback_query"]
ADAPTER, INTAKE = "stagecoach.adapter", "stagecoach.intake"


class FloodLimiter(AIORateLimiter):
    """Telegram's flood limits: in a chat a burst of three messages, then about one a second; in a
    group at most 20 a minute; overall at most 30 in any second (adapters/pacing.py). Sending and
    editing a message count; answering a button, reading updates or members do not. A 429 is
    waited out and the call retried, up to `max_retries` times, by AIORateLimiter."""

    def __init__(self, chat_rate: float = 1.0, max_retries: int = 5, chats_kept: int = 10_000,
                 time_scale: float = 1.0) -> None:
        # AIORateLimiter keeps only the retries; the pacing is ours, so that bursts may go at once.
        super().__init__(overall_max_rate=0, group_max_rate=0, max_retries=max_retries)
        self.pacing = Pacing(chat_rate, chats_kept=chats_kept, time_scale=time_scale)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        if chat_id is None or not self.counts(endpoint):
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)

        async def paced(*args: Any, **kwargs: Any) -> bool | dict[str, Any] | list[dict[str, Any]]:
            return await self.pacing.send(chat_id, self.is_group(chat_id), lambda: callback(*args, **kwargs))

        return await super().process_request(paced, args, kwargs, endpoint, data, rate_limit_args)

    @staticmethod
    def counts(endpoint: str) -> bool:
        """Whether a Bot API method puts a message in a chat, new or changed."""
        return endpoint.startswith(("send", "edit", "copyMessage", "forwardMessage")) and endpoint != "sendChatAction"

    @staticmethod
    def is_group(chat_id: int | str) -> bool:
        """Groups have negative ids; a @name is a group's or a channel's."""
        return not isinstance(chat_id, int) or chat_id < 0


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Updates of different chats are handled side by side; those of one chat in their order."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat.id if isinstance(update, Update) and update.effective_chat else 0
        lock, users = self._chats.get(chat, (asyncio.Lock(), 0))
        self._chats[chat] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._chats[chat]
            if users == 1:
                del self._chats[chat]
            else:
                self._chats[chat] = (lock, users - 1)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


def deep_link(username: str, value: str) -> str:
    """A private chat with the bot. A `/start <invite>` value rides along as the start payload
    (the engine maps it to the one action it allows); any other value opens the chat plainly."""
    command, _, payload = value.partition(" ")
    if command == "/start" and payload:
        return f"https://t.me/{username}?start={payload}"
    return f"https://t.me/{username}"


def mentioned(message: Message) -> tuple[Person, ...]:
    """The people a message names by id: the author of the message it replies to, and text
    mentions (Telegram links those to a user). A typed @username carries no id."""
    people = []
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        people.append(replied.from_user)
    people += [e.user for e in message.entities if e.type == MessageEntity.TEXT_MENTION and e.user is not None]
    unique = {p.id: Person(str(p.id), p.full_name) for p in people if not p.is_bot}
    return tuple(unique.values())


def update_key(update_id: int) -> str:
    """An update's idempotency key, the same in the inbox and the engine's event log."""
    return f"{PLATFORM}:{update_id}"


class TelegramAdapter:
    """Turns updates into events and replies into messages, for one bot."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # Updates in

    async def on_update(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not isinstance(update, Update):
            return
        event = await self.to_event(update, context)
        if event is None:
            await self.engine.settle(update_key(update.update_id))  # nothing for us: out of the inbox
            return
        replies = await self.engine.handle(event)
        await self.deliver(update, context.bot, event, replies)
        assert event.key is not None
        await self.engine.delivered(event.key)

    async def to_event(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Event | None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None or user.is_bot:
            return None
        common: dict[str, Any] = {
            "platform": PLATFORM,
            "chat_id": str(chat.id),
            "user_id": str(user.id),
            "key": update_key(update.update_id),
            "lang": user.language_code,
            "name": user.full_name,
            "chat_type": "private" if chat.type == chat.PRIVATE else "group",
            "chat_title": chat.title,
        }
        if update.callback_query is not None:
            return Event(choice=update.callback_query.data or "", **common)
        message = update.message
        if message is None:
            return None
        text = message.text or message.caption or ""
        if chat.type != chat.PRIVATE:
            if not text.startswith("/"):
                return None  # a group's own conversation is not for us
            common["is_admin"] = await self.is_admin(context, chat.id, user.id)
        return Event(text=text, mentions=mentioned(message), **common)

    @staticmethod
    async def is_admin(context: ContextTypes.DEFAULT_TYPE, chat_id: int, user_id: int) -> bool:
        """Asked of Telegram for every group command, never cached: a demoted admin is no admin
        from the next command on. Group commands are few, so this costs little."""
        try:
            member = await context.bot.get_chat_member(chat_id, user_id)
        except TelegramError:
            return False
        return member.status in ADMIN_STATUSES

    # Replies out

    async def deliver(self, update: Update | None, bot: Bot, event: Event, replies: list[Reply]) -> None:
        query = update.callback_query if update is not None else None
        notices = [spell(r.text, TELEGRAM) for r in replies if r.kind == ReplyKind.NOTICE]
        if query is not None:
            failed = any(r.kind == ReplyKind.FAILURE for r in replies)
            await self._settle(query, "\n".join(notices)[:200], chosen=not notices, keep=failed)
        charts: list[Drawing] = []
        try:
            for reply in replies:
                if reply.kind == ReplyKind.NOTICE and query is not None:
                    continue
                await self.send(bot, reply, event, charts)
            for chat_id, chart, drawing in charts:  # drawn while the texts went: a picture holds up none
                await self._send_chart(bot, chat_id, chart, drawing)
        finally:
            for *_, drawing in charts:
                drawing.cancel()

    async def _settle(self, query: CallbackQuery, notice: str, chosen: bool, keep: bool = False) -> None:
        """Answers a pressed button, and turns its keyboard into a record of the choice; when
        nothing was recorded (`keep`), the keyboard stays, to be pressed again."""
        harmless = (BadRequest, Forbidden)  # an old or deleted message, a blocked bot
        try:
            await query.answer(text=notice or None)
        except harmless:
            log.info("callback query %s could not be answered", query.id)
        message = query.message
        if keep or not isinstance(message, Message) or not message.reply_markup:  # none, or no longer accessible
            return
        label = next(
            (b.text for row in message.reply_markup.inline_keyboard for b in row if b.callback_data == query.data),
            None,
        )
        try:
            if chosen and label and message.text:
                await message.edit_text(f"{html.escape(message.text)}\n\n✓ {html.escape(label)}", parse_mode="HTML")
            else:
                await message.edit_reply_markup(reply_markup=None)
        except harmless:
            log.info("message %s was not changed", message.message_id)

    async def send(self, bot: Bot, reply: Reply, event: Event, charts: list[Drawing]) -> None:
        """Posts a reply's text; its chart starts drawing at once, and is left in `charts` to be
        sent after the texts."""
        chat_id = reply.to or event.chat_id
        private = reply.to is None and event.private
        text = render_text(reply)
        markup = self.keyboard(reply.options, private, bot.username)
        if reply.ref is not None and await self._edit_posted(bot, reply.ref, chat_id, text, markup):
            return
        if reply.chart is not None:
            charts.append((chat_id, reply.chart, asyncio.ensure_future(render(reply.chart))))
        message = await bot.send_message(int(chat_id), text, parse_mode="HTML", reply_markup=markup)
        if reply.ref is not None:
            await self.engine.remember_message(PLATFORM, reply.ref, chat_id, str(message.message_id))

    async def _send_chart(self, bot: Bot, chat_id: str, chart: Chart, drawing: Awaitable[bytes]) -> None:
        """A chart is an extra: one that cannot be drawn or sent is left out, and the replies
        after it still go."""
        try:
            png = await drawing
            await bot.send_photo(int(chat_id), png, caption=html.escape(chart.title)[:1024], parse_mode="HTML")
        except Exception as error:
            log.warning("chart for chat %s left out: %r", chat_id, error)

    async def _edit_posted(self, bot: Bot, ref: str, chat_id: str, text: str,
                           markup: InlineKeyboardMarkup | None) -> bool:
        """Updates a message posted earlier under the same ref; False when there is none to update."""
        posted = await self.engine.posted_message(PLATFORM, ref, chat_id)
        if posted is None:
            return False
        try:
            await bot.edit_message_text(text, chat_id=int(chat_id), message_id=int(posted), parse_mode="HTML",
                                        reply_markup=markup)
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                log.info("posting %s anew: %s", ref, error)
                return False
        return True

    @staticmethod
    def keyboard(options: tuple[Option, ...], private: bool, username: str) -> InlineKeyboardMarkup | None:
        """Short options side by side, long ones a row each; private options link to a private chat."""
        buttons = []
        listed = numbered(options)
        for option in options:
            label = button_label(option, listed)
            if option.private and not private:
                buttons.append(InlineKeyboardButton(label, url=deep_link(username, option.value)))
            elif len(option.value.encode()) <= MAX_CALLBACK_DATA:
                buttons.append(InlineKeyboardButton(label, callback_data=option.value))
        return InlineKeyboardMarkup(rows(buttons, lambda b: b.text)) if buttons else None


def render_text(reply: Reply) -> str:
    """Escaped for Telegram HTML, with commands as Telegram spells them (`/team_join`); options
    that do not fit on a button are listed in the text."""
    lines = [html.escape(spell(reply.text, TELEGRAM))]
    listed = numbered(reply.options)
    if listed:
        lines.append("")
        lines.extend(f"<b>{html.escape(o.key)}</b>  {html.escape(spell(o.label, TELEGRAM))}" for o in listed)
    return "\n".join(lines)[:MAX_TEXT]


async def register_commands(application: Application, catalogs: dict[str, Catalog]) -> None:
    """The command menu in every language the content has; English is also the default."""
    for lang, catalog in catalogs.items():
        commands = [BotCommand(command, description) for command, description in menu(catalog, TELEGRAM.joiner)]
        await application.bot.set_my_commands(commands, language_code=lang)
        if lang == "en":
            await application.bot.set_my_commands(commands)


def build(token: str, engine: AsyncEngine, api_url: str = DEFAULT_API_URL,
          chat_rate: float | None = 1.0, time_scale: float = 1.0) -> Application:
    """The Application, pointed at any Bot-API-compatible server; `chat_rate` is new messages a
    second per chat (None: no flood limits at all, for measuring our own speed), and
    `time_scale` how long a second of the flood limits lasts (1.0 but in tests)."""
    api_url = api_url.rstrip("/")
    adapter = TelegramAdapter(engine)
    builder = (
        Application.builder()
        .updater(None)  # updates come in through Intake, stored before they are confirmed
        .token(token)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .concurrent_updates(ChatOrderedProcessor())
        .request(AiohttpRequest())  # PTB's own client costs more processor time than the rest of an update
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
    )
    application: Application
    if chat_rate is not None:
        application = builder.rate_limiter(FloodLimiter(chat_rate, time_scale=time_scale)).build()
    else:
        application = builder.build()
    application.bot_data[ADAPTER] = adapter
    application.add_handler(TypeHandler(Update, adapter.on_update))
    application.add_error_handler(log_error)
    return application


async def log_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A failed delivery (a blocked bot, a deleted chat) is logged; the update stays handled."""
    log.warning("delivering update %s failed: %r", getattr(update, "update_id", "?"), context.error)


async def webhook_secret(engine: AsyncEngine) -> str:
    """TELEGRAM_WEBHOOK_SECRET, or a random one made once and kept in the database, so that every
    instance and restart gives Telegram the same. Never derived from the token: a secret that
    travels with every update (past proxies and their logs) must tell nothing about the token."""
    return os.environ.get("TELEGRAM_WEBHOOK_SECRET") or await engine.secret("telegram_webhook")


def sender(application: Application) -> Sender:
    """How the scheduler posts a weekly tip (or a word to a champion) on Telegram."""

    async def send(chat_id: str, reply: Reply, to_person: bool) -> str:
        markup = TelegramAdapter.keyboard(reply.options, private=int(chat_id) > 0, username=application.bot.username)
        try:
            message = await application.bot.send_message(int(chat_id), render_text(reply), parse_mode="HTML",
                                                         reply_markup=markup)
        except Forbidden as error:
            raise ChatGone(str(error)) from error
        except BadRequest as error:
            if "chat not found" in str(error).lower():
                raise ChatGone(str(error)) from error
            raise
        return str(message.message_id)

    return send


@dataclass(frozen=True)
class Webhook:
    """Where Telegram posts updates (`url`), and where we listen for them."""

    url: str
    secret: str
    listen: str = ANY_HOST
    port: int = 8443


POLL_SECONDS = 25
STOP_SECONDS = 8.0  # a deploy's SIGTERM gives about 10 s before SIGKILL


class Intake:
    """Updates in, each stored in the engine's inbox before Telegram is told it arrived: the
    polling offset moves past an update, and the webhook answers 200, only once it is stored.
    At start the replies saved but never sent go out, then the inbox is handed out in order;
    an update the library cannot read is logged, set aside, and skipped."""

    def __init__(self, application: Application, engine: AsyncEngine) -> None:
        self.application, self.engine, self.bot = application, engine, application.bot
        self._polling: asyncio.Task[None] | None = None
        self._server: web.AppRunner | None = None

    async def start(self, webhook: Webhook | None) -> None:
        await self._send_undelivered()
        for key, payload in await self.engine.inbox(PLATFORM):
            await self._hand_out(key, json.loads(payload))
        if webhook is None:
            await self.bot.delete_webhook()
            self._polling = asyncio.create_task(self._poll(), name="telegram-polling")
        else:
            await self._serve(webhook)

    async def stop(self) -> None:
        """Takes no more updates; what was stored and not yet handled waits in the inbox."""
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
        if self._server is not None:
            await self._server.cleanup()

    async def _poll(self) -> None:
        offset: int | None = None
        failures = 0
        while True:
            query: dict[str, Any] = {"timeout": POLL_SECONDS, "allowed_updates": ALLOWED_UPDATES}
            if offset is not None:
                query["offset"] = offset  # this confirms every update before it: all are stored
            try:
                raw = await self.bot.do_api_request("getUpdates", api_kwargs=query, read_timeout=POLL_SECONDS + 10)
                updates = [u for u in raw if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
                if updates:
                    await self._store(updates)  # a failure here leaves the offset, so Telegram keeps them
            except Exception as error:  # Telegram unreachable, or the database unable to store
                failures += 1
                log.warning("taking updates failed (%d in a row): %r", failures, error)
                await asyncio.sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))
                continue
            failures = 0
            if updates:
                offset = max(u["update_id"] for u in updates) + 1
            for update in updates:
                await self._hand_out(update_key(update["update_id"]), update)

    async def _serve(self, webhook: Webhook) -> None:
        app = web.Application()
        app.router.add_post("/telegram", functools.partial(self._receive, webhook.secret))
        self._server = web.AppRunner(app)
        await self._server.setup()
        await web.TCPSite(self._server, webhook.listen, webhook.port).start()
        await self.bot.set_webhook(webhook.url, secret_token=webhook.secret, allowed_updates=ALLOWED_UPDATES)

    async def _receive(self, secret: str, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), secret):
            return web.Response(status=403)
        try:
            update = json.loads(await request.read())
            if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
                raise ValueError("no update_id")
        except (ValueError, UnicodeDecodeError) as error:
            log.warning("webhook body is not an update: %s", error)
            return web.Response(status=400)
        await self._store([update])
        await self._hand_out(update_key(update["update_id"]), update)
        return web.Response()  # 200: Telegram may forget it now

    async def _store(self, updates: list[dict[str, Any]]) -> None:
        await self.engine.receive(PLATFORM, [
            (update_key(u["update_id"]), _sender_of(u), json.dumps(u, ensure_ascii=False)) for u in updates])

    async def _hand_out(self, key: str, data: dict[str, Any]) -> None:
        try:
            update = Update.de_json(data, self.bot)
        except Exception as error:
            log.warning("update %s cannot be read and is set aside: %r", key, error)
            await self.engine.settle(key, readable=False)
            return
        await self.application.update_queue.put(update)

    async def _send_undelivered(self) -> None:
        adapter: TelegramAdapter = self.application.bot_data[ADAPTER]
        for key, chat_id, chat_type, replies in await self.engine.undelivered(PLATFORM):
            event = Event(PLATFORM, chat_id, "", key=key, chat_type=chat_type)
            try:
                await adapter.deliver(None, self.bot, event, replies)
            except TelegramError as error:
                log.warning("replies of %s could not be sent after the restart: %s", key, error)
            await self.engine.delivered(key)


def _sender_of(update: dict[str, Any]) -> str | None:
    """Whose update it is, so that /forget can find it in the inbox."""
    for part in update.values():
        if isinstance(part, dict) and isinstance(part.get("from"), dict):
            return str(part["from"].get("id"))
    return None


async def launch(application: Application, catalogs: dict[str, Catalog], webhook: Webhook | None = None) -> None:
    """Starts a built Application in the running event loop: the command menu, then updates by
    long polling, or by `webhook`. `stagecoach run` and the tests both start the bot this way."""
    await application.initialize()
    await register_commands(application, catalogs)
    await application.start()
    adapter: TelegramAdapter = application.bot_data[ADAPTER]
    intake = Intake(application, adapter.engine)
    application.bot_data[INTAKE] = intake
    await intake.start(webhook)


async def start(token: str, engine: AsyncEngine) -> Application:
    """Starts the bot as configured by the environment: long polling, or a webhook when
    TELEGRAM_WEBHOOK_URL is set (served on HOST and TELEGRAM_WEBHOOK_PORT at /telegram)."""
    limits = os.environ.get("TELEGRAM_FLOOD_LIMITS", "on") != "off"
    application = build(token, engine, os.environ.get("TELEGRAM_API_URL", DEFAULT_API_URL),
                        chat_rate=1.0 if limits else None)
    await launch(application, engine.catalogs, await webhook(engine))
    return application


async def webhook(engine: AsyncEngine) -> Webhook | None:
    """The webhook TELEGRAM_WEBHOOK_URL asks for, on HOST (every interface unless narrowed, as a
    PaaS router needs) and TELEGRAM_WEBHOOK_PORT; None for long polling."""
    url = os.environ.get("TELEGRAM_WEBHOOK_URL")
    if not url:
        return None
    return Webhook(url, await webhook_secret(engine), listen=os.environ.get("HOST", ANY_HOST),
                   port=int(os.environ.get("TELEGRAM_WEBHOOK_PORT", "8443")))


async def stop(application: Application) -> None:
    """Stops taking updates, finishes those handed out (within STOP_SECONDS), then shuts down.
    Whatever is left waits in the inbox, or as unsent replies, for the next start."""
    intake: Intake | None = application.bot_data.get(INTAKE)
    if intake is not None:
        await intake.stop()
    if application.running:
        try:
            await asyncio.wait_for(application.stop(), STOP_SECONDS)
        except TimeoutError:
            log.warning("stopped with updates still in hand; they are taken up at the next start")
    await application.shutdown()


async def serve(engine: AsyncEngine) -> Running:
    """`stagecoach run` on Telegram, with TELEGRAM_BOT_TOKEN (adapters/contract.py)."""
    application = await start(os.environ["TELEGRAM_BOT_TOKEN"], engine)
    return Running(lambda: stop(application), sender(application))


async def post_only(engine: AsyncEngine) -> Running:
    """Only the scheduler's sender (`stagecoach scheduler`): the bot, without taking updates."""
    application = build(os.environ["TELEGRAM_BOT_TOKEN"], engine, os.environ.get("TELEGRAM_API_URL", DEFAULT_API_URL))
    await application.initialize()
    return Running(application.shutdown, sender(application))
