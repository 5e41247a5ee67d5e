"""The real Slack app, through slack-bolt, against a fake Slack Web API on 127.0.0.1."""
from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from adapters import slack
from bot.engine import AsyncEngine, Engine
from bot.store import Store
from tests.waiting import settle, until
from tests.fakes.slack import FakeSlack

SECRET = "signing-secret"
ANN, BO, KIM, ROOT = "UANN", "UBO", "UKIM", "UROOT"
CHANNEL = "CTEAM"
ids = itertools.count(1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack()
    await server.start()
    yield server
    await server.stop()


class App:
    """The real AsyncApp served over HTTP on 127.0.0.1, and a client that signs requests."""

    def __init__(self, fake: FakeSlack, db: Path) -> None:
        self.fake = fake
        self.engine = AsyncEngine(lambda: Engine(Store(db)))
        self.app, self.adapter = slack.build(self.engine, fake.token, SECRET, fake.api_url, channel_rate=100)
        self.url = ""

    async def start(self) -> None:
        self.runner = web.AppRunner(slack.web_app(self.app))
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/slack/events"

    async def stop(self) -> None:
        await self.runner.cleanup()
        self.engine.close()

    async def post(self, body: str, content_type: str, secret: str = SECRET, age: int = 0,
                   headers: dict | None = None) -> httpx.Response:
        timestamp = str(int(time.time()) - age)
        signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
        async with httpx.AsyncClient() as client:
            return await client.post(self.url, content=body.encode(), headers={
                "Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": signature, **(headers or {})})

    async def event(self, event: dict, event_id: str | None = None, **kwargs) -> httpx.Response:
        body = json.dumps({"token": "t", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                           "event_id": event_id or f"Ev{next(ids)}", "event_time": 1767000000, "event": event,
                           "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}]})
        return await self.post(body, "application/json", **kwargs)

    async def dm(self, user: str, text: str, **kwargs) -> httpx.Response:
        return await self.event({"type": "message", "channel_type": "im", "channel": f"D{user}", "user": user,
                                 "text": text, "ts": f"1767000000.{next(ids):06d}"}, **kwargs)

    async def command(self, user: str, text: str, channel: str | None = None) -> httpx.Response:
        body = urlencode({"token": "t", "team_id": "T1", "channel_id": channel or f"D{user}", "user_id": user,
                          "command": "/stagecoach", "text": text, "trigger_id": f"tr{next(ids)}",
                          "response_url": "http://127.0.0.1:9/unused"})
        return await self.post(body, "application/x-www-form-urlencoded")

    async def click(self, user: str, posted, label: str) -> httpx.Response:
        button = next(b for b in posted.buttons() if b["text"]["text"] == label)
        payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": user},
                   "api_app_id": "A1", "trigger_id": f"tr{next(ids)}",
                   "container": {"type": "message", "message_ts": posted.ts, "channel_id": posted.channel},
                   "channel": {"id": posted.channel}, "message": {"ts": posted.ts, "text": posted.text,
                                                                 "blocks": posted.blocks},
                   "actions": [{**button, "block_id": "b", "action_ts": f"{time.time():.6f}{next(ids)}"}]}
        return await self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


@pytest.fixture
async def app(fake: FakeSlack, tmp_path: Path) -> AsyncIterator[App]:
    running = App(fake, tmp_path / "slack.db")
    await running.start()
    yield running
    await running.stop()


async def dm(app: App, user: str, text: str) -> None:
    before = len(app.fake.posted)
    assert (await app.dm(user, text)).status_code == 200
    await settle(lambda: len(app.fake.posted), before)


async def click(app: App, user: str, label: str, channel: str | None = None) -> None:
    posted = next(p for p in reversed(app.fake.to(channel or f"D{user}")) if p.buttons())
    before = len(app.fake.posted)
    assert (await app.click(user, posted, label)).status_code == 200
    await settle(lambda: len(app.fake.posted), before)


async def test_a_full_dm_assessment_with_buttons_updates_and_a_chart(app, fake, questions):
    await dm(app, ANN, "assess")
    question = fake.last(f"D{ANN}")
    assert [b["text"]["text"] for b in question.buttons()[:7]] == ["1", "2", "3", "4", "5", "6", "0"]
    assert "*1*" in question.blocks[0]["text"]["text"]
    for _ in range(questions):
        await click(app, ANN, "4")
    answered = fake.current(f"D{ANN}", question.ts)
    assert answered.method == "chat.update" and not answered.buttons()
    assert answered.blocks[-1]["elements"][0]["text"] == "✓ 4"
    result = [p for p in fake.to(f"D{ANN}") if "stage 4 of 6" in p.text][-1]
    assert [b["text"]["text"] for b in result.buttons()] == ["Get a tip", "My roadmap"]
    await until(lambda: bool(fake.uploads))
    assert fake.uploads[0]["data"][:8] == b"\x89PNG\r\n\x1a\n" and fake.uploads[0]["channel"] == f"D{ANN}"
    await until(lambda: ANN in fake.views)
    assert "Your stage: 4" in json.dumps(fake.views[ANN])


async def test_app_home_shows_the_stage_and_offers_the_next_steps(app, fake):
    assert (await app.event({"type": "app_home_opened", "user": BO, "channel": f"D{BO}", "tab": "home"})
            ).status_code == 200
    await until(lambda: BO in fake.views)
    home = json.dumps(fake.views[BO])
    assert "You don't have a result yet" in home and "Start or resume the assessment" in home
    buttons = [e for b in fake.views[BO]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": BO}, "api_app_id": "A1",
               "trigger_id": "tr-home", "container": {"type": "view", "view_id": "V1"},
               "actions": [{**buttons[0], "block_id": "b", "action_ts": "1767000001.000001"}]}
    before = len(fake.posted)
    await app.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
    await settle(lambda: len(fake.posted), before)
    assert "Question 1 of" in fake.last(f"D{BO}").text


async def test_the_slash_command_acks_at_once_and_answers_after(app, fake):
    response = await app.command(KIM, "help")
    assert response.status_code == 200
    await until(lambda: bool(fake.to(f"D{KIM}")))
    assert "/restart" in fake.last(f"D{KIM}").text
    await app.command(KIM, "lang nl")
    await until(lambda: "Nederlands" in fake.last(f"D{KIM}").text)


async def test_typed_text_is_escaped_before_it_is_echoed(app, fake):
    await dm(app, ANN, "team new &lt;!channel&gt; &lt;@U123&gt; &amp; co")
    text = [p for p in fake.to(f"D{ANN}") if "join code" in p.text][-1].blocks[0]["text"]["text"]
    assert "<!channel>" not in text and "<@U123>" not in text
    assert "&lt;!channel&gt; &lt;@U123&gt; &amp; co" in text


async def test_a_team_assessment_in_a_channel_with_three_members(app, fake, questions):
    await app.command(ANN, "team", channel=CHANNEL)
    await until(lambda: bool(fake.to(CHANNEL)))
    invite = fake.last(CHANNEL)
    assert invite.buttons()[0]["action_id"].startswith("private")
    for user, value in ((ANN, "2"), (BO, "3"), (KIM, "5")):
        before = len(fake.posted)
        await app.click(user, invite, "Take part")
        await settle(lambda: len(fake.posted), before)
        assert "answering for team" in fake.last(f"D{user}").text
        for _ in range(questions):
            await click(app, user, value)
    progress = fake.current(CHANNEL, invite.ts)
    assert "Answered (3)" in progress.text and "Person UANN" in progress.text
    await app.command(BO, "team close", channel=CHANNEL)
    await until(lambda: "Only the person" in fake.last(CHANNEL).text)
    fake.admins.add(ROOT)
    await app.command(ROOT, "team close", channel=CHANNEL)
    await until(lambda: any("is at stage" in p.text for p in fake.to(CHANNEL)))
    result = [p for p in fake.to(CHANNEL) if "is at stage" in p.text][-1]
    assert "3 participants" in result.text and "others stage 5" in result.text
    await until(lambda: any(u["channel"] == CHANNEL for u in fake.uploads))
    assert "Closed on" in fake.current(CHANNEL, invite.ts).text


async def test_retries_and_double_clicks_are_applied_once(app, fake, tmp_path):
    await app.dm(ANN, "assess", event_id="EvSame")
    await app.dm(ANN, "assess", event_id="EvSame", headers={"X-Slack-Retry-Num": "1",
                                                             "X-Slack-Retry-Reason": "http_timeout"})
    await settle(lambda: len(fake.posted), 0)
    assert sum("Question 1 of" in p.text for p in fake.to(f"D{ANN}")) == 1
    question = fake.last(f"D{ANN}")
    await app.click(ANN, question, "3")
    await app.click(ANN, question, "3")
    await until(lambda: any(p.method == "chat.postEphemeral" for p in fake.posted))
    await asyncio.sleep(0.3)
    assert "already answered" in [p for p in fake.posted if p.method == "chat.postEphemeral"][-1].text
    with sqlite3.connect(tmp_path / "slack.db") as db:
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1


async def test_a_bad_or_stale_signature_is_rejected_and_changes_nothing(app, fake):
    assert (await app.dm(ANN, "assess", secret="wrong")).status_code == 401
    assert (await app.dm(ANN, "assess", age=600)).status_code == 401
    await asyncio.sleep(0.3)
    assert fake.posted == []


async def test_a_429_is_waited_out_and_the_message_still_goes_out(app, fake):
    fake.inject_429("chat.postMessage", retry_after=1, times=2)
    await dm(app, KIM, "help")
    assert "/restart" in fake.last(f"D{KIM}").text
    assert sum(1 for method, _ in fake.calls if method == "chat.postMessage") == 3


async def test_the_bot_ignores_its_own_messages_and_other_bots(app, fake):
    await app.event({"type": "message", "channel_type": "im", "channel": "DX", "user": "UBOT", "bot_id": "BBOT",
                     "text": "help", "ts": "1.1"})
    await app.event({"type": "message", "channel_type": "im", "channel": "DX", "user": "UOTHER",
                     "bot_id": "BOTHER", "subtype": "bot_message", "text": "help", "ts": "1.2"})
    await asyncio.sleep(0.5)
    assert fake.posted == []


async def test_one_socket_mode_round_trip(fake, tmp_path):
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_sdk.web.async_client import AsyncWebClient

    engine = AsyncEngine(lambda: Engine(Store(tmp_path / "socket.db")))
    app, _ = slack.build(engine, fake.token, None, fake.api_url, channel_rate=100)
    handler = AsyncSocketModeHandler(app, fake.app_token,
                                     web_client=AsyncWebClient(token=fake.app_token, base_url=fake.api_url))
    await handler.connect_async()
    await until(lambda: fake.connected.is_set())
    envelope = await fake.push("events_api", {
        "type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": "EvSock",
        "event": {"type": "message", "channel_type": "im", "channel": f"D{ANN}", "user": ANN, "text": "help",
                  "ts": "1767000000.000001"},
        "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}]})
    await until(lambda: any(a.get("envelope_id") == envelope for a in fake.acks))
    await until(lambda: bool(fake.to(f"D{ANN}")))
    assert "/restart" in fake.last(f"D{ANN}").text
    await handler.close_async()
    engine.close()


def test_the_manifest_asks_for_what_the_app_uses():
    import yaml

    manifest = yaml.safe_load((Path(__file__).parents[1] / "slack-app-manifest.yml").read_text())
    assert manifest["features"]["slash_commands"][0]["command"] == slack.COMMAND
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {"app_home_opened", "message.im"}
    assert manifest["settings"]["interactivity"]["is_enabled"]
    assert {"chat:write", "chat:write.public", "commands", "files:write", "im:history", "im:write",
            "users:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])
    assert manifest["features"]["app_home"]["home_tab_enabled"]


def test_stagecoach_run_serves_slack_in_http_mode(tmp_path):
    import os
    import signal
    import socket
    import subprocess
    import sys

    async def scenario() -> None:
        server = FakeSlack()
        await server.start()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "SLACK_BOT_TOKEN": server.token, "SLACK_SIGNING_SECRET": SECRET,
               "SLACK_API_URL": server.api_url, "PORT": str(port), "STAGECOACH_DB": str(tmp_path / "run.db")}
        env.pop("TELEGRAM_BOT_TOKEN", None)
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = App.__new__(App)
        client.url = f"http://127.0.0.1:{port}/slack/events"
        try:
            for _ in range(200):
                try:
                    await client.dm(ANN, "help")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            await until(lambda: bool(server.to(f"D{ANN}")))
            assert "/restart" in server.last(f"D{ANN}").text
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
            await server.stop()

    asyncio.run(scenario())


async def test_malformed_and_hostile_requests_are_rejected_cleanly(app, fake):
    """Huge, malformed, mistyped or unknown requests: a clean 4xx or a quiet 200, never a 500."""
    statuses = [
        (await app.post("x" * 200_000, "application/json")).status_code,
        (await app.post("{not json", "application/json")).status_code,
        (await app.post(urlencode({"payload": "{broken"}), "application/x-www-form-urlencoded")).status_code,
        (await app.post(json.dumps({"type": "event_callback", "event": "not a dict"}), "application/json")).status_code,
        (await app.post(urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": ANN},
                                                          "actions": [{"action_id": "nope", "value": "x"}]})}),
                        "application/x-www-form-urlencoded")).status_code,
    ]
    assert all(status < 500 for status in statuses), statuses
    await dm(app, ANN, "assess")
    stale = fake.last(f"D{ANN}")
    await click(app, ANN, "2")
    assert (await app.click(ANN, stale, "2")).status_code == 200
    await until(lambda: any(p.method == "chat.postEphemeral" for p in fake.posted))


async def test_a_champion_subscribes_a_channel_with_the_slash_command(app, fake):
    await app.command(BO, "tips subscribe stage 2", channel="CWEEK")
    await until(lambda: bool(fake.to("CWEEK")))
    assert "Only a champion" in fake.last("CWEEK").text
    fake.admins.add(ROOT)
    await app.command(ROOT, "champion add <@UBO|bo>", channel="CWEEK")
    await until(lambda: "is now a champion" in fake.last("CWEEK").text)
    await app.command(BO, "tips subscribe tue 10:00 stage 2", channel="CWEEK")
    await until(lambda: "every Tuesday at 10:00" in fake.last("CWEEK").text)
