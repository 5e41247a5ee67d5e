"""Drives the real Slack app (slack-bolt) against the fake Web API: serve it over HTTP on
127.0.0.1, send signed requests as Slack would, wait for what the app posts back."""
from __future__ import annotations

import html
import itertools
import json
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from adapters import slack
from bot.engine import AsyncEngine, Engine
from bot.store_sqlite import SQLiteStore
from tests.fakes.slack import APP, BOT_USER, TEAM, FakeSlack, Posted, im
from tests.waiting import DEADLINE

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ANN, BO, KIM, ROOT = "U061F7AUR", "U061F7BK2", "U061F7CQ9", "U012AB3CD"
NAMES = {ANN: "Ann", BO: "Bo", KIM: "Kim", ROOT: "Ruth"}
CHANNEL, WEEKLY = "C061F8TM3", "C061F8WK5"
CHANNEL_NAMES = {CHANNEL: "marketing", WEEKLY: "social-weekly"}
TIME_SCALE = 0.01  # one message a second per channel, each second lasting 10 ms
RESULT = "is at stage"
HELP = "/stagecoach restart"  # a line of the help, as Slack shows it
FORM = "application/x-www-form-urlencoded"
ids = itertools.count(1)


class App:
    """The real AsyncApp served over HTTP on 127.0.0.1, and a client that signs requests. With
    `installable`, the app has no token of its own: workspaces install it by its install link."""

    def __init__(self, fake: FakeSlack, db: Path, installable: bool = False) -> None:
        self.fake = fake
        self.engine = AsyncEngine(lambda: Engine(SQLiteStore(db)))
        oauth = slack.oauth_settings(self.engine, client_id=fake.client_id,
                                     client_secret=fake.client_secret) if installable else None
        self.app, self.adapter = slack.build(self.engine, None if installable else fake.token, SECRET, fake.api_url,
                                             time_scale=TIME_SCALE, oauth=oauth)
        self.url = ""

    async def start(self) -> None:
        await self.adapter.resume()
        self.runner = web.AppRunner(slack.web_app(self.app, SECRET))
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.site = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        self.url = f"{self.site}/slack/events"

    async def install(self, team: str) -> tuple[str, httpx.Response]:
        """Someone of a workspace opens the install link, goes to Slack's authorize page, allows
        the app, and comes back with a code: returns that authorize URL and the last page."""
        async with httpx.AsyncClient(timeout=DEADLINE) as browser:
            page = await browser.get(f"{self.site}/slack/install")
            assert page.status_code == 200, page.text
            found = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text)
            assert found is not None, page.text
            authorize = html.unescape(found.group(1))
            state = parse_qs(urlsplit(authorize).query)["state"][0]
            # The state cookie is Secure: a browser sends it back to the https address of a real set-up.
            cookie = page.headers["set-cookie"].split(";")[0]
            back = await browser.get(f"{self.site}/slack/oauth_redirect", headers={"Cookie": cookie},
                                     params={"code": self.fake.grant(team), "state": state})
            return authorize, back

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.adapter.drain()
        self.engine.close()

    async def post(self, body: str, content_type: str, secret: str = SECRET, age: int = 0,
                   headers: dict | None = None) -> httpx.Response:
        timestamp = str(int(time.time()) - age)
        signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
        async with httpx.AsyncClient(timeout=DEADLINE) as client:
            return await client.post(self.url, content=body.encode(), headers={
                "Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": signature, **(headers or {})})

    async def event(self, event: dict, event_id: str | None = None, team: str = TEAM, **kwargs) -> httpx.Response:
        body = json.dumps({"token": "t", "team_id": team, "api_app_id": APP, "type": "event_callback",
                           "event_id": event_id or f"Ev061F{next(ids):06d}", "event_time": 1767000000,
                           "event": event, "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}]})
        return await self.post(body, "application/json", **kwargs)

    async def dm(self, user: str, text: str, **kwargs) -> httpx.Response:
        return await self.event({"type": "message", "channel_type": "im", "channel": im(user), "user": user,
                                 "text": text, "ts": f"1767000000.{next(ids):06d}"}, **kwargs)

    async def command(self, user: str, text: str, channel: str | None = None, team: str = TEAM,
                      channel_name: str | None = None) -> httpx.Response:
        where = channel or im(user)
        body = urlencode({"token": "t", "team_id": team, "channel_id": where, "user_id": user,
                          "channel_name": channel_name or CHANNEL_NAMES.get(where, "directmessage"),
                          "command": "/stagecoach", "text": text, "trigger_id": f"13345224609.{next(ids)}.a1b2c3",
                          "response_url": self.fake.response_url(where, user, team)})
        return await self.post(body, FORM)

    async def click(self, user: str, posted: Posted, label: str, team: str = TEAM) -> httpx.Response:
        button = next(b for b in posted.buttons() if b["text"]["text"] == label)
        payload = {"type": "block_actions", "team": {"id": team}, "user": {"id": user},
                   "api_app_id": APP, "trigger_id": f"13345224609.{next(ids)}.a1b2c3",
                   "container": {"type": "message", "message_ts": posted.ts, "channel_id": posted.channel},
                   "channel": {"id": posted.channel},
                   "response_url": self.fake.response_url(posted.channel, user, team),
                   "message": {"ts": posted.ts, "text": posted.text,
                                                                 "blocks": posted.blocks},
                   "actions": [{**button, "block_id": "b", "action_ts": f"{time.time():.6f}{next(ids)}"}]}
        return await self.post(urlencode({"payload": json.dumps(payload)}), FORM)


def position(fake: FakeSlack, channel: str, posted: Posted) -> int:
    return next(i for i, p in enumerate(fake.to(channel)) if p is posted)


async def dm(app: App, user: str, text: str, expect: str) -> Posted:
    """Sends a direct message and waits for the reply that contains `expect`."""
    seen = len(app.fake.to(im(user)))
    assert (await app.dm(user, text)).status_code == 200
    return await app.fake.message(im(user), expect, after=seen)


async def click(app: App, user: str, label: str, expect: str, channel: str | None = None) -> Posted:
    """Clicks the button with this label on the newest message that has one, and waits for the
    new message that contains `expect`."""
    where = channel or im(user)
    posted = next(p for p in reversed(app.fake.to(where)) if p.buttons())
    seen = len(app.fake.to(where))
    assert (await app.click(user, posted, label)).status_code == 200
    return await app.fake.message(where, expect, after=seen, method="chat.postMessage")


async def answer_all(app: App, user: str, label: str, questions: int) -> Posted:
    """Clicks `label` on every question, each after the one before was answered; returns the result."""
    for number in range(2, questions + 1):
        await click(app, user, label, f"Question {number} of")
    return await click(app, user, label, RESULT)
