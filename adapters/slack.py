"""The Slack adapter, on slack-bolt's AsyncApp: DMs, App Home, the /stagecoach command, buttons.

Events, commands and button presses become engine events; replies become Block Kit messages,
in-place updates, ephemeral notes, uploaded charts and the App Home view. Nothing here knows a
rule of the engine: it only knows Slack.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.charts import Chart, render
from bot.commands import Style, spell
from bot.engine import AsyncEngine
from bot.events import Event, Person, Reply, ReplyKind
from bot.registry import USAGE
from bot.scheduler import ChatGone, Sender

from .common import button_label, expiring, numbered
from .contract import Running, nothing
from .pacing import Pacing
from .slack_guard import MAX_BODY as MAX_BODY
from .slack_guard import reject_malformed
from .slack_workspaces import (
    EngineInstallationStore,
    EngineStateStore,
    NotInstalled,
    Workspaces,
    current,
    scoped,
    unscoped,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
Drawing = tuple[str, Chart, asyncio.Future[bytes]]  # a channel, a chart, and the PNG being drawn for it

PLATFORM = "slack"
DEFAULT_API_URL = "https://slack.com/api/"
COMMAND = "/stagecoach"
SPELLING = Style(prefix=f"{COMMAND} ")  # every command goes through the one slash command
SECTION_TEXT = 2900
BUTTONS_PER_BLOCK = 25
PROFILE_SECONDS = 600
STOP_SECONDS = 8.0  # a deploy's SIGTERM gives about 10 s before SIGKILL
GONE = {"channel_not_found", "not_in_channel", "is_archived", "account_inactive", "invalid_auth"}
# The bot scopes of slack-app-manifest.yml: what an install link asks for unless SLACK_SCOPES says otherwise.
SCOPES = ("chat:write", "chat:write.public", "commands", "files:write", "im:history", "im:write", "users:read")
MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
USER_ID = re.compile(r"[UW][A-Z0-9]+")
UNREACHABLE = {"channel_not_found", "not_in_channel"}  # a DM between two people, a channel not joined
UNNAMED = {"directmessage", "privategroup"}  # what a command says of a place instead of its name
# Replies after which App Home shows more.
HOME_KINDS = {ReplyKind.RESULT, ReplyKind.LANGUAGE, ReplyKind.TIP_DONE, ReplyKind.ROADMAP}


def escape(text: str) -> str:
    """Slack mrkdwn control characters, so that echoed text cannot mention or link anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shown(text: str) -> str:
    """Text the bot shows: escaped, with every command spelled as Slack users type it
    (`/stagecoach team join 643HP3`)."""
    return escape(spell(text, SPELLING))


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mrkdwn(reply: Reply) -> str:
    """A reply's text for Slack: shown as Slack shows text (escaped, commands spelled), with each
    person it names as a Slack mention."""
    parts, at = [], 0
    for mention in sorted(reply.mentions, key=lambda m: m.start):
        _, user = unscoped(mention.user_id)
        if mention.start < at or not USER_ID.fullmatch(user):
            continue
        parts += [shown(reply.text[at:mention.start]), f"<@{user}>"]
        at = mention.end
    return "".join([*parts, shown(reply.text[at:])])


def blocks_for(reply: Reply) -> list[dict[str, Any]]:
    """A reply as Block Kit: its text in sections, options too long for a button listed in the
    text with their key on the button, and buttons in actions blocks."""
    text = mrkdwn(reply)
    listed = numbered(reply.options)
    if listed:
        text += "\n\n" + "\n".join(f"*{escape(o.key)}*  {shown(o.label)}" for o in listed)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in _chunks(text)
    ]
    buttons = [
        {
            "type": "button",
            "action_id": f"{'private' if o.private else 'option'}:{i}",
            "text": {"type": "plain_text", "text": button_label(o, listed)[:75]},
            "value": o.value,
        }
        for i, o in enumerate(reply.options)
    ]
    for start in range(0, len(buttons), BUTTONS_PER_BLOCK):
        blocks.append({"type": "actions", "elements": buttons[start:start + BUTTONS_PER_BLOCK]})
    return blocks


def _chunks(text: str) -> list[str]:
    chunks, current = [], ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) > SECTION_TEXT and current:
            chunks.append(current)
            candidate = paragraph
        current = candidate[:SECTION_TEXT]
    return [*chunks, current] if current else chunks or [" "]


def home_view(reply: Reply) -> dict[str, Any]:
    return {"type": "home", "blocks": blocks_for(reply)}


def request_key(kind: str, body: dict) -> str:
    """A request's idempotency key: Slack sends the same ids again when it retries."""
    if kind == "command":
        return f"{PLATFORM}:command:{body.get('trigger_id')}"
    if kind == "action":
        container, action = body.get("container") or {}, (body.get("actions") or [{}])[0]
        return f"{PLATFORM}:action:{container.get('message_ts') or container.get('view_id')}:{action.get('action_ts')}"
    event = body.get("event") or {}
    if kind == "home":
        return f"{PLATFORM}:home-opened:{body.get('event_id') or uuid.uuid4().hex}"
    return f"{PLATFORM}:{body.get('event_id') or event.get('client_msg_id') or event.get('ts')}"


def _user_of(body: dict) -> str | None:
    """Whose request it is, so that /forget can find it in the inbox."""
    user = body.get("user_id") or body.get("user") or (body.get("event") or {}).get("user")
    user = user.get("id") if isinstance(user, dict) else user
    return scoped(_team_of(body), user) if isinstance(user, str) else user


def _team_of(body: dict) -> str | None:
    """The workspace a request comes from."""
    team = body.get("team_id") or (body.get("team") or {}).get("id")
    return team if isinstance(team, str) else None


class SlackAdapter:
    """Turns Slack requests into events and replies into messages, for every workspace it is in.
    Its events name chats and people with their workspace in front ("T…:C…"): `client` takes
    that off again, and calls each workspace with its own token."""

    def __init__(self, engine: AsyncEngine, client: Workspaces, channel_rate: float = 1.0,
                 time_scale: float = 1.0) -> None:
        self.engine, self.client = engine, client
        # About one message a second per channel, in short bursts; Slack has no overall limit to keep.
        self.pacing = Pacing(channel_rate, overall=None, time_scale=time_scale)
        self._profiles = expiring(PROFILE_SECONDS)
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Callable[[dict, str], Awaitable[None]]] = {
            "message": self.on_message, "home": self.on_home_opened, "command": self.on_command,
            "action": self.on_action,
        }

    def register(self, app: AsyncApp) -> None:
        app.event("message")(self._intake("message"))
        app.event("app_home_opened")(self._intake("home"))
        app.command(COMMAND)(self._intake("command"))
        app.action(re.compile(r"^(option|private):\d+$"))(self._intake("action"))

    def _intake(self, kind: str) -> Callable[..., Awaitable[None]]:
        """A listener that stores the request in the engine's inbox before it acknowledges it
        (the app runs listeners before it responds), then handles it in a task of its own."""

        async def listener(ack: AsyncAck, body: dict) -> None:
            key = request_key(kind, body)
            await self.engine.receive(PLATFORM, [(key, _user_of(body), json.dumps({"kind": kind, "body": body}))])
            await ack()
            self._spawn(self._process(kind, body, key))

        return listener

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(self, kind: str, body: dict, key: str) -> None:
        current.set(_team_of(body))
        try:
            await self._handlers[kind](body, key)
        except NotInstalled as gone:
            log.info("Slack %s %s dropped: the app is no longer in workspace %s", kind, key, gone)
        except Exception:
            # Slack was told it arrived: unless the engine took it (and took it out of the
            # inbox), it stays for the next start rather than being dropped here.
            log.exception("handling Slack %s %s failed; it is tried again at the next start", kind, key)
            return
        await self.engine.settle(key)  # handled, or nothing for us: out of the inbox

    async def resume(self) -> None:
        """Before taking new requests: the replies saved but never sent, then the requests
        acknowledged but not handled when the last process stopped, in the order they came."""
        for key, chat, chat_type, replies in await self.engine.undelivered(PLATFORM):
            try:
                await self.deliver(Event(PLATFORM, chat, "", key=key, chat_type=chat_type), replies)
            except (SlackApiError, NotInstalled) as error:
                log.warning("replies of %s could not be sent after the restart: %s", key, error)
                await self.engine.delivered(key)
        for key, payload in await self.engine.inbox(PLATFORM):
            stored = json.loads(payload)
            await self._process(stored["kind"], stored["body"], key)

    async def drain(self, seconds: float = STOP_SECONDS) -> None:
        """Lets the requests in hand finish, for a while: what is cut off stays in the inbox (or
        as unsent replies) for the next start."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=seconds)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("stopped with %d Slack requests in hand; they are taken up at the next start",
                            len(pending))
                await asyncio.gather(*pending, return_exceptions=True)

    # Requests in

    async def on_message(self, body: dict, key: str) -> None:
        event = body.get("event") or {}
        if event.get("bot_id") or event.get("subtype") or event.get("channel_type") != "im":
            return
        await self.handle(await self.event_for(
            event["user"], event["channel"], text=unescape(event.get("text", "")), workspace=body.get("team_id"),
            key=key))

    async def on_command(self, command: dict, key: str) -> None:
        channel, user = command["channel_id"], command["user_id"]
        text = command.get("text", "")
        words = unescape(MENTION.sub(r"@\1", text)).strip() or USAGE.name
        private = channel.startswith("D")
        event = await self.event_for(
            user, channel, text=f"/{words}", key=key,
            private=private, admin_check=not private, workspace=command.get("team_id"),
            mentions=await self.mentions(text))
        place = command.get("channel_name")
        if not private and place and place not in UNNAMED and not place.startswith("mpdm-"):
            event = replace(event, chat_title=f"#{place}")
        await self.deliver(event, await self.engine.handle(event), command.get("response_url"))

    async def on_action(self, body: dict, key: str) -> None:
        action = body["actions"][0]
        user = body["user"]["id"]
        container = body.get("container", {})
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        private = bool(channel and channel.startswith("D"))
        if action["action_id"].startswith("private") or container.get("type") == "view" or not channel:
            channel, private = await self.direct_channel(user), True
        event = await self.event_for(
            user, channel, choice=action["value"], private=private, admin_check=not private,
            workspace=(body.get("team") or {}).get("id") or body.get("team_id"), key=key,
        )
        replies = await self.engine.handle(event)
        notices = [r for r in replies if r.kind == ReplyKind.NOTICE]
        pressed_here = container.get("type") == "message" and container.get("channel_id") == channel
        if pressed_here and not notices and not any(r.kind == ReplyKind.FAILURE for r in replies):
            # A double click (a notice) leaves the first click's mark; a failure leaves the buttons.
            await self.settle(body, action)
        for notice in notices:
            await self.client.chat_postEphemeral(channel=container.get("channel_id") or channel, user=user,
                                                 text=shown(notice.text))
        await self.deliver(event, [r for r in replies if r.kind != ReplyKind.NOTICE], body.get("response_url"))

    async def on_home_opened(self, body: dict, key: str) -> None:
        event = body.get("event") or {}
        if event.get("tab", "home") != "home":
            return
        await self.refresh_home(event["user"], event.get("channel") or await self.direct_channel(event["user"]),
                                body.get("team_id"))

    async def handle(self, event: Event) -> None:
        await self.deliver(event, await self.engine.handle(event))

    async def event_for(self, user: str, channel: str, *, key: str, text: str | None = None,
                        choice: str | None = None, private: bool = True, admin_check: bool = False,
                        workspace: str | None = None, mentions: tuple[Person, ...] = ()) -> Event:
        """`admin_check` asks Slack afresh whether the person is an admin of the workspace: a
        channel's rights are never judged from a cached profile. Chats and people are named with
        their workspace in front."""
        workspace = workspace or current.get()
        user, channel = scoped(workspace, user), scoped(workspace, channel)
        profile = await self.profile(user, fresh=admin_check)
        return Event(
            PLATFORM, chat_id=channel, user_id=user, text=text, choice=choice, key=key,
            lang=profile.get("locale"), name=profile.get("name"),
            chat_type="private" if private else "group",
            is_admin=admin_check and bool(profile.get("is_admin")),
            workspace=workspace, mentions=mentions,
        )

    async def mentions(self, text: str) -> tuple[Person, ...]:
        """The people a command mentions (`<@U…>`, as Slack sends a mention), named as Slack knows them."""
        people = []
        for user in dict.fromkeys(MENTION.findall(text)):
            person = scoped(current.get(), user)
            profile = await self.profile(person)
            people.append(Person(person, profile.get("name") or user))
        return tuple(people)

    async def profile(self, user: str, fresh: bool = False) -> dict[str, Any]:
        """Name, locale and admin flag from users.info, cached for a while unless asked `fresh`."""
        cached: dict[str, Any] | None = self._profiles.get(user)
        if cached is not None and not fresh:
            return cached
        try:
            info = (await self.client.users_info(user=user, include_locale=True))["user"]
            profile = {
                "name": (info.get("profile") or {}).get("display_name") or info.get("real_name") or info.get("name"),
                "locale": info.get("locale"),
                "is_admin": bool(info.get("is_admin") or info.get("is_owner")),
            }
        except SlackApiError as error:
            log.info("users.info for %s failed: %s", user, error)
            profile = {}
        self._profiles[user] = profile
        return profile

    async def direct_channel(self, user: str) -> str:
        channel: str = (await self.client.conversations_open(users=user))["channel"]["id"]
        return scoped(unscoped(user)[0], channel)

    # Replies out

    async def deliver(self, event: Event, replies: list[Reply], response_url: str | None = None) -> None:
        """Sends an event's replies; `response_url` is the request's own way back to its person
        (a slash command's, a button's), for what only they should see."""
        charts: list[Drawing] = []
        try:
            for reply in replies:
                await self.send(event, reply, charts, response_url)
            for channel, chart, drawing in charts:  # drawn while the texts went: a picture holds up none
                await self._upload_chart(channel, chart, drawing)
        finally:
            for *_, drawing in charts:
                drawing.cancel()
        if event.user_id and any(r.kind in HOME_KINDS for r in replies):
            channel = event.chat_id if event.private else await self.direct_channel(event.user_id)
            await self.refresh_home(event.user_id, channel, event.workspace)
        if event.key is not None:
            await self.engine.delivered(event.key)

    async def send(self, event: Event, reply: Reply, charts: list[Drawing], response_url: str | None = None) -> None:
        """A personal reply in a channel is shown to its person alone; where the bot cannot post
        (a DM between two people, a channel it has not joined), the person still gets the reply
        through the request's response_url, with how to bring Stagecoach in. A posted reply's
        chart starts drawing at once, and is left in `charts` to be uploaded after the texts."""
        channel = reply.to or event.chat_id
        if reply.kind == ReplyKind.NOTICE or (reply.personal and reply.to is None):
            if response_url:
                await self.respond(response_url, reply)
            else:
                await self.client.chat_postEphemeral(channel=channel, user=event.user_id, text=mrkdwn(reply)[:3000],
                                                     blocks=blocks_for(reply))
            return
        blocks, text = blocks_for(reply), mrkdwn(reply)[:3000]
        if reply.ref is not None:
            ts = await self.engine.posted_message(PLATFORM, reply.ref, channel)
            if ts is not None:
                try:
                    await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
                    return
                except SlackApiError as error:
                    log.info("posting %s anew: %s", reply.ref, error)
        if reply.chart is not None:
            charts.append((channel, reply.chart, asyncio.ensure_future(render(reply.chart))))
        try:
            posted = await self._paced(channel, lambda: self.client.chat_postMessage(channel=channel, text=text,
                                                                                     blocks=blocks))
        except SlackApiError as error:
            if response_url is None or reply.to is not None or error.response.get("error") not in UNREACHABLE:
                raise
            if reply.chart is not None:
                charts.pop()[2].cancel()  # nothing was posted for it to follow
            locale = (await self.profile(event.user_id)).get("locale")
            await self.respond(response_url, reply,
                               await self.engine.message_for(PLATFORM, event.user_id, "cannot_post_slack", locale))
            return
        if reply.ref is not None:
            await self.engine.remember_message(PLATFORM, reply.ref, channel, posted["ts"])

    async def respond(self, response_url: str, reply: Reply, note: str | None = None) -> None:
        """A reply only its person sees, through the response_url Slack gave with their request."""
        blocks = blocks_for(reply)
        if note:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(note)}]})
        answer = await AsyncWebhookClient(response_url).send(text=mrkdwn(reply)[:3000], blocks=blocks,
                                                             response_type="ephemeral")
        if answer.status_code != 200:
            log.warning("response_url answered %s: %s", answer.status_code, answer.body[:200])

    async def _upload_chart(self, channel: str, chart: Chart, drawing: Awaitable[bytes]) -> None:
        """A chart is an extra: one that cannot be drawn or uploaded is left out, and the replies
        after it still go."""
        try:
            png = await drawing
            await self._paced(channel, lambda: self.client.files_upload_v2(
                channel=channel, file=png, filename="stagecoach.png", title=chart.title))
        except Exception as error:
            log.warning("chart for channel %s left out: %r", channel, error)

    async def settle(self, body: dict, action: dict) -> None:
        """Turns the pressed message's buttons into a record of the choice."""
        message = body.get("message") or {}
        kept = [b for b in message.get("blocks", []) if b.get("type") != "actions"]
        label = action.get("text", {}).get("text", "")
        kept.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"✓ {escape(label)}"}]})
        try:
            await self.client.chat_update(channel=body["container"]["channel_id"], ts=body["container"]["message_ts"],
                                          text=message.get("text", " ") or " ", blocks=kept)
        except SlackApiError as error:
            log.info("pressed message not updated: %s", error)

    async def refresh_home(self, user: str, channel: str, workspace: str | None = None) -> None:
        event = await self.event_for(user, channel, text="/home", key=f"{PLATFORM}:home:{uuid.uuid4().hex}",
                                     workspace=workspace)
        replies = await self.engine.handle(event)
        home = next((r for r in replies if r.kind == ReplyKind.HOME), None)
        if home is not None:
            await self.client.views_publish(user_id=user, view=home_view(home))
        await self.engine.delivered(event.key or "")

    def sender(self) -> Sender:
        """How the scheduler posts a weekly tip (or a word to a champion) on Slack."""

        async def send(chat_id: str, reply: Reply, to_person: bool) -> str:
            try:
                channel = await self.direct_channel(chat_id) if to_person else chat_id
                posted = await self._paced(channel, lambda: self.client.chat_postMessage(
                    channel=channel, text=shown(reply.text)[:3000], blocks=blocks_for(reply)))
            except SlackApiError as error:
                if error.response.get("error") in GONE:
                    raise ChatGone(error.response.get("error")) from error
                raise
            except NotInstalled as error:
                raise ChatGone("app_uninstalled") from error
            return str(posted["ts"])

        return send

    async def adopt_unscoped_ids(self) -> None:
        """With a single token: chats and people kept before ids carried their workspace are
        given the token's workspace, so that everyone carries on where they were."""
        if self.client.single is not None:
            team = (await self.client.single.auth_test())["team_id"]
            await self.engine.scope_ids(PLATFORM, f"{team}:")

    async def _paced(self, channel: str, post: Callable[[], Awaitable[T]]) -> T:
        """Posts to a channel within its pace (a channel is paced alike whatever its kind)."""
        return await self.pacing.send(channel, False, post)


def web_app(app: AsyncApp, signing_secret: str | None) -> web.Application:
    """Bolt's aiohttp application at /slack/events, behind the guard that checks the signature
    first (with the app's signing secret; None verifies nothing, as the app then does) and then
    the shape of the body. With an install link, its pages are served too (Slack signs no visit
    to them: Bolt's OAuth flow checks its own state)."""
    served = app.web_app(path="/slack/events")
    flow = app.oauth_flow
    pages = frozenset({flow.install_path, flow.redirect_uri_path}) if flow is not None else frozenset()
    served.middlewares.append(reject_malformed(SignatureVerifier(signing_secret) if signing_secret else None, pages))
    return served


def oauth_settings(engine: AsyncEngine, **overrides: Any) -> AsyncOAuthSettings:
    """Bolt's OAuth flow for the install link (`/slack/install`, back at `/slack/oauth_redirect`),
    from Bolt's variables (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_SCOPES, SLACK_REDIRECT_URI),
    with installations and install states kept in Stagecoach's database."""
    settings: dict[str, Any] = {
        "scopes": os.environ.get("SLACK_SCOPES", ",".join(SCOPES)).split(","), "user_scopes": [],
        "installation_store": EngineInstallationStore(engine), "state_store": EngineStateStore(engine),
        "installation_store_bot_only": True,
    }
    return AsyncOAuthSettings(**(settings | overrides))


def client(token: str | None, api_url: str = DEFAULT_API_URL) -> AsyncWebClient:
    """A Web API client that waits out 429s (Retry-After) and retries dropped connections."""
    web = AsyncWebClient(token=token, base_url=api_url if api_url.endswith("/") else api_url + "/")
    web.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=5))
    web.retry_handlers.append(AsyncConnectionErrorRetryHandler(max_retry_count=2))
    return web


def build(engine: AsyncEngine, token: str | None, signing_secret: str | None, api_url: str = DEFAULT_API_URL,
          channel_rate: float = 1.0, time_scale: float = 1.0,
          oauth: AsyncOAuthSettings | None = None) -> tuple[AsyncApp, SlackAdapter]:
    """The app for one workspace (its bot `token`), or with `oauth` for every workspace that
    installs it: Bolt then finds each request's token among the installations, and deletes a
    workspace's token when Slack says the app was uninstalled there or its tokens revoked."""
    web = client(token if oauth is None else None, api_url)
    # Listeners run before the response: a request is acknowledged once it is stored.
    if oauth is None:
        app = AsyncApp(token=token, signing_secret=signing_secret, client=web,
                       request_verification_enabled=signing_secret is not None, process_before_response=True)
        workspaces = Workspaces(web)
    else:
        app = AsyncApp(signing_secret=signing_secret, client=web, oauth_settings=oauth,
                       installation_store_bot_only=True, request_verification_enabled=signing_secret is not None,
                       process_before_response=True)
        app.enable_token_revocation_listeners()
        workspaces = Workspaces(None, oauth.installation_store, lambda bot_token: client(bot_token, api_url))
    adapter = SlackAdapter(engine, workspaces, channel_rate, time_scale)
    adapter.register(app)
    return app, adapter


async def start(engine: AsyncEngine) -> Running:
    """Starts the app in the running event loop: Socket Mode with SLACK_APP_TOKEN, else HTTP
    mode at /slack/events on HOST and PORT. With SLACK_CLIENT_ID it serves every workspace that
    installs it (the install link needs HTTP mode), else the one of SLACK_BOT_TOKEN. Returns
    what stops it, and the scheduler's sender."""
    oauth = oauth_settings(engine) if os.environ.get("SLACK_CLIENT_ID") else None
    token = None if oauth is not None else os.environ["SLACK_BOT_TOKEN"]
    api_url = os.environ.get("SLACK_API_URL", DEFAULT_API_URL)
    app_token = os.environ.get("SLACK_APP_TOKEN")
    if app_token:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        app, adapter = build(engine, token, os.environ.get("SLACK_SIGNING_SECRET"), api_url, oauth=oauth)
        await adapter.adopt_unscoped_ids()
        web_client = AsyncWebClient(token=app_token, base_url=app.client.base_url)
        handler = AsyncSocketModeHandler(app, app_token, web_client=web_client)
        await adapter.resume()
        await handler.connect_async()

        async def stop_socket() -> None:
            await handler.close_async()
            await adapter.drain()

        return Running(stop_socket, adapter.sender())
    app, adapter = build(engine, token, os.environ["SLACK_SIGNING_SECRET"], api_url, oauth=oauth)
    await adapter.adopt_unscoped_ids()
    await adapter.resume()
    runner = web.AppRunner(web_app(app, os.environ["SLACK_SIGNING_SECRET"]))
    await runner.setup()
    # Every interface unless HOST narrows it: a PaaS router reaches the process from outside.
    await web.TCPSite(runner, os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "3000"))).start()

    async def stop() -> None:
        await runner.cleanup()
        await adapter.drain()

    return Running(stop, adapter.sender())


serve = start  # `stagecoach run` on Slack (adapters/contract.py)


async def post_only(engine: AsyncEngine) -> Running:
    """Only the scheduler's sender (`stagecoach scheduler`): nothing to stop."""
    return Running(nothing, sender_from_environment(engine))


def sender_from_environment(engine: AsyncEngine) -> Sender:
    """The scheduler's sender alone (`stagecoach scheduler`), for the workspaces `start` serves."""
    api_url = os.environ.get("SLACK_API_URL", DEFAULT_API_URL)
    if os.environ.get("SLACK_CLIENT_ID"):
        workspaces = Workspaces(None, EngineInstallationStore(engine), lambda token: client(token, api_url))
    else:
        workspaces = Workspaces(client(os.environ["SLACK_BOT_TOKEN"], api_url))
    return SlackAdapter(engine, workspaces).sender()
