"""A fake Slack Web API on 127.0.0.1, with the real response shapes, injectable 429s, a file
upload endpoint, the response_url of commands and buttons, and a Socket Mode WebSocket that
pushes envelopes and collects acks.

Each bot token belongs to one workspace (`teams`): what is posted records the workspace whose
token posted it. `grant` makes a code that `oauth.v2.access` exchanges for a new workspace's
bot token, as when someone installs the app there."""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.waiting import DEADLINE, Arrivals

BOT_USER = "U07B0TU5R"
BOT_ID = "B07B0T1D2"
TEAM = "T061F0QAZ"
APP = "A07APP0001"


def im(user: str) -> str:
    """The id of the bot's direct-message channel with a person, as conversations.open returns it."""
    return "D" + user[1:]


@dataclass
class Posted:
    method: str
    channel: str
    ts: str
    text: str
    blocks: list[dict] = field(default_factory=list)
    user: str | None = None
    team: str | None = None  # the workspace whose token posted it
    response_type: str | None = None  # for method "response_url": "ephemeral" or "in_channel"
    via: str | None = None  # which of several bot processes posted it (see FakeSlack.api_url_via)

    @property
    def only_for(self) -> str | None:
        """Whom alone the message shows to: an ephemeral one's person; None when all see it."""
        ephemeral = self.method == "response_url" and self.response_type != "in_channel"
        return self.user if ephemeral or self.method == "chat.postEphemeral" else None

    def buttons(self) -> list[dict]:
        return [e for b in self.blocks if b.get("type") == "actions" for e in b["elements"]]


@dataclass
class FakeSlack:
    token: str = "xoxb-test"
    app_token: str = "xapp-test"
    posted: list[Posted] = field(default_factory=list)
    views: dict[str, dict] = field(default_factory=dict)
    uploads: list[dict] = field(default_factory=list)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    admins: set[str] = field(default_factory=set)
    fail_next: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    acks: list[dict] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # display names, by user id
    teams: dict[str, str] = field(default_factory=dict)  # the workspace of each bot token
    client_id: str = "4120.7730"
    client_secret: str = "c1a7e5ecre7"
    grants: dict[str, str] = field(default_factory=dict)  # the workspace of each OAuth code
    unreachable: set[str] = field(default_factory=set)  # channels the bot may not post in (not_in_channel)
    url: str = ""

    def __post_init__(self) -> None:
        self.teams.setdefault(self.token, TEAM)
        self._ts = itertools.count(1)
        self._files = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._pending_files: dict[str, bytes] = {}
        self.connected = asyncio.Event()
        self.arrivals = Arrivals()
        self._held: dict[str, asyncio.Event] = {}
        self._dropped: set[asyncio.Event] = set()

    async def start(self) -> None:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_route("*", "/via/{via}/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond/{team}/{channel}/{user}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def api_url_via(self, via: str) -> str:
        """The Web API for one of several bot processes: what it posts records its name."""
        return f"{self.url}/via/{via}/api/"

    def response_url(self, channel: str, user: str, team: str = TEAM) -> str:
        """The response_url Slack gives a command or button of this person in this channel."""
        return f"{self.url}/respond/{team}/{channel}/{user}"

    def inject_429(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        self.fail_next[method].extend([retry_after] * times)

    def hold(self, method: str) -> asyncio.Event:
        """Keeps every call of a method waiting until the returned event is set."""
        self._held[method] = asyncio.Event()
        return self._held[method]

    def drop(self, method: str) -> None:
        """Lets new calls of a held method through; those held so far fail unrecorded, as calls
        whose caller died before Slack took them."""
        held = self._held.pop(method)
        self._dropped.add(held)
        held.set()

    # Waiting for what the app did: conditions, never silence

    async def until(self, condition, what, seconds: float = DEADLINE, channel: str | None = None):
        """Waits until a condition on what this server received (in one channel, if `channel`
        is given) holds; returns its value."""
        return await self.arrivals.until(condition, what, seconds, topic=channel)

    async def message(self, channel: str, containing: str, after: int = 0, method: str | None = None,
                      seconds: float = DEADLINE, team: str | None = None) -> Posted:
        """The first message (posted, updated or ephemeral) to a channel (of one workspace, if
        `team` is given), from its `after`-th on, whose text contains `containing`; waits for it."""

        def found() -> Posted | None:
            return next((p for p in self.to(channel, team)[after:]
                         if containing in p.text and method in (None, p.method)), None)

        return await self.until(found, lambda: f"{containing!r} in {channel}; it got "
                                + repr([p.text[:60] for p in self.to(channel)[after:]][-5:]), seconds, channel)

    async def nth(self, channel: str, count: int, seconds: float = DEADLINE) -> Posted:
        """The `count`-th message to a channel, counting from 1; waits for it."""
        await self.until(lambda: len(self.to(channel)) >= count, f"message {count} to {channel}", seconds, channel)
        return self.to(channel)[count - 1]

    def to(self, channel: str, team: str | None = None) -> list[Posted]:
        return [p for p in self.posted if p.channel == channel and team in (None, p.team)]

    def grant(self, team: str) -> str:
        """A code for installing the app to a workspace, as Slack gives the redirect."""
        code = f"code-{team}-{next(self._ts)}"
        self.grants[code] = team
        return code

    def last(self, channel: str) -> Posted:
        return self.to(channel)[-1]

    def current(self, channel: str, ts: str) -> Posted:
        return [p for p in self.posted if p.channel == channel and p.ts == ts][-1]

    async def push(self, envelope_type: str, payload: dict) -> str:
        """Sends a Socket Mode envelope to every connected client; returns its envelope id."""
        envelope_id = f"env-{next(self._ts)}"
        message = {"envelope_id": envelope_id, "type": envelope_type, "payload": payload,
                   "accepts_response_payload": envelope_type != "events_api"}
        for socket in self._sockets:
            await socket.send_str(json.dumps(message))
        return envelope_id

    # The Web API

    async def _api(self, request: web.Request) -> web.Response:
        try:
            return await self._answer(request)
        finally:
            self.arrivals.notify()

    async def _answer(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append((method, params))
        if method in self._held:
            held = self._held[method]
            await held.wait()
            if held in self._dropped:
                return web.json_response({"ok": False, "error": "fatal_error"}, status=500)
        authorization = request.headers.get("Authorization", "")
        team = self.teams.get(authorization.removeprefix("Bearer "))
        if method == "oauth.v2.access":
            team = self._client_authorized(authorization)
        if team is None and authorization != f"Bearer {self.app_token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        params = {**params, "_team": team, "_via": request.match_info.get("via")}
        if self.fail_next[method]:
            retry_after = self.fail_next[method].pop(0)
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(retry_after)})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(await handler(params))

    def _new_ts(self) -> str:
        return f"1767000000.{next(self._ts):06d}"

    def _client_authorized(self, authorization: str) -> str | None:
        """The app's own credentials, as oauth.v2.access takes them (HTTP basic auth)."""
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return "app" if authorization == f"Basic {expected}" else None

    async def _auth_test(self, params: dict) -> dict:
        return {"ok": True, "url": "https://example.slack.com/", "team": "Example", "user": "stagecoach",
                "team_id": params["_team"], "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}

    async def _oauth_v2_access(self, params: dict) -> dict:
        team = self.grants.pop(params.get("code", ""), None)
        if team is None:
            return {"ok": False, "error": "invalid_code"}
        token = f"xoxb-{team}-{next(self._ts)}"
        self.teams[token] = team
        return {"ok": True, "app_id": APP, "authed_user": {"id": "U0INSTALL1"}, "scope": "chat:write,commands",
                "token_type": "bot", "access_token": token, "bot_user_id": BOT_USER,
                "team": {"id": team, "name": f"Workspace {team}"}, "enterprise": None,
                "is_enterprise_install": False}

    async def _chat_postMessage(self, params: dict) -> dict:
        if params.get("channel") in self.unreachable:
            return {"ok": False, "error": "not_in_channel"}
        if not params.get("channel") or not (params.get("text") or params.get("blocks")):
            return {"ok": False, "error": "no_text"}
        posted = Posted("chat.postMessage", params["channel"], self._new_ts(), params.get("text", ""),
                        _json(params.get("blocks")) or [], team=params["_team"], via=params["_via"])
        self.posted.append(posted)
        self.arrivals.notify(posted.channel)
        return {"ok": True, "channel": posted.channel, "ts": posted.ts,
                "message": {"type": "message", "text": posted.text, "user": BOT_USER, "bot_id": BOT_ID,
                            "ts": posted.ts, "blocks": posted.blocks}}

    async def _chat_update(self, params: dict) -> dict:
        found = [p for p in self.posted if p.channel == params.get("channel") and p.ts == params.get("ts")]
        if not found:
            return {"ok": False, "error": "message_not_found"}
        posted = Posted("chat.update", params["channel"], params["ts"], params.get("text", ""),
                        _json(params.get("blocks")) or [], team=params["_team"])
        self.posted.append(posted)
        self.arrivals.notify(posted.channel)
        return {"ok": True, "channel": posted.channel, "ts": posted.ts, "text": posted.text}

    async def _chat_postEphemeral(self, params: dict) -> dict:
        if params.get("channel") in self.unreachable:
            return {"ok": False, "error": "not_in_channel"}
        posted = Posted("chat.postEphemeral", params["channel"], self._new_ts(), params.get("text", ""),
                        _json(params.get("blocks")) or [], params.get("user"), params["_team"])
        self.posted.append(posted)
        self.arrivals.notify(posted.channel)
        return {"ok": True, "message_ts": posted.ts}

    async def _conversations_open(self, params: dict) -> dict:
        return {"ok": True, "channel": {"id": im(params.get("users", ""))}}

    async def _views_publish(self, params: dict) -> dict:
        view = _json(params["view"])
        self.views[params["user_id"]] = view
        return {"ok": True, "view": {"id": "V1", "type": "home", **view}}

    async def _users_info(self, params: dict) -> dict:
        user = params["user"]
        name = self.names.get(user, "Sam")
        return {"ok": True, "user": {"id": user, "team_id": params["_team"], "name": name.lower(),
                                     "real_name": f"{name} Jansen",
                                     "is_admin": user in self.admins, "is_owner": False,
                                     "locale": "en-US", "profile": {"display_name": name}}}

    async def _files_getUploadURLExternal(self, params: dict) -> dict:
        file_id = f"F{next(self._files)}"
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    async def _respond(self, request: web.Request) -> web.Response:
        """A POST to a response_url: a message to the channel, shown to the person alone unless
        it asks to be "in_channel"."""
        body = await request.json()
        channel = request.match_info["channel"]
        posted = Posted("response_url", channel, self._new_ts(), body.get("text", ""), body.get("blocks") or [],
                        request.match_info["user"], team=request.match_info["team"],
                        response_type=body.get("response_type") or "ephemeral")
        self.posted.append(posted)
        self.arrivals.notify(channel)
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        self._pending_files[request.match_info["file_id"]] = await request.read()
        self.arrivals.notify()
        return web.Response(text="OK - 1")

    async def _files_completeUploadExternal(self, params: dict) -> dict:
        files = _json(params["files"])
        for f in files:
            self.uploads.append({"id": f["id"], "title": f.get("title"), "channel": params.get("channel_id"),
                                 "data": self._pending_files.pop(f["id"], b""), "via": params["_via"]})
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    async def _apps_connections_open(self, params: dict) -> dict:
        return {"ok": True, "url": f"{self.url.replace('http', 'ws')}/socket"}

    # Socket Mode

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                          "connection_info": {"app_id": APP}}))
        self.connected.set()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
                self.arrivals.notify()
        self._sockets.remove(socket)
        return socket


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        return params | await request.json()
    return params | dict(await request.post())


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
