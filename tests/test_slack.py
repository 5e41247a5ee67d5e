"""The real Slack app, through slack-bolt, against a fake Slack Web API on 127.0.0.1.

Every step waits for what it expects the fake to receive, with a generous deadline; a check
that something did NOT happen first waits for the answer to a later request."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml

from adapters import slack
from bot.engine import AsyncEngine, Engine
from bot.events import Mention, Reply
from bot.registry import COMMANDS
from bot.store_sqlite import SQLiteStore
from tests.drivers.slack import (
    ANN,
    BO,
    CHANNEL,
    FORM,
    HELP,
    KIM,
    NAMES,
    RESULT,
    ROOT,
    SECRET,
    TIME_SCALE,
    WEEKLY,
    App,
    answer_all,
    click,
    dm,
    position,
)
from tests.fakes.slack import APP, BOT_ID, BOT_USER, TEAM, FakeSlack, Posted, im
from tests.waiting import exited, until


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(names=dict(NAMES))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def app(fake: FakeSlack, tmp_path: Path) -> AsyncIterator[App]:
    running = App(fake, tmp_path / "slack.db")
    await running.start()
    yield running
    await running.stop()


async def test_a_full_dm_assessment_with_buttons_updates_and_a_chart(app, fake, questions):
    question = await dm(app, ANN, "assess", "Question 1 of")
    assert [b["text"]["text"] for b in question.buttons()[:7]] == ["1", "2", "3", "4", "5", "6", "0"]
    assert "*1*" in question.blocks[0]["text"]["text"]
    result = await answer_all(app, ANN, "4", questions)
    assert "stage 4 of 6" in result.text
    answered = fake.current(im(ANN), question.ts)
    assert answered.method == "chat.update" and not answered.buttons()
    assert answered.blocks[-1]["elements"][0]["text"] == "✓ 4"
    assert [b["text"]["text"] for b in result.buttons()] == ["Get a tip", "My roadmap"]
    chart = await fake.until(lambda: next((u for u in fake.uploads if u["channel"] == im(ANN)), None), "the chart")
    assert chart["data"][:8] == b"\x89PNG\r\n\x1a\n"
    await fake.until(lambda: "Your stage: 4" in json.dumps(fake.views.get(ANN, {})), "App Home to show stage 4")


async def test_app_home_shows_the_stage_and_offers_the_next_steps(app, fake):
    opened = {"type": "app_home_opened", "user": BO, "channel": im(BO), "tab": "home"}
    assert (await app.event(opened)).status_code == 200
    view = await fake.until(lambda: fake.views.get(BO), "App Home")
    home = json.dumps(view)
    assert "You don't have a result yet" in home and "Start or resume the assessment" in home
    buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": BO}, "api_app_id": APP,
               "trigger_id": "13345224609.738474920.8088930838d88f008e0",
               "container": {"type": "view", "view_id": "V1"},
               "actions": [{**buttons[0], "block_id": "b", "action_ts": "1767000001.000001"}]}
    assert (await app.post(urlencode({"payload": json.dumps(payload)}), FORM)).status_code == 200
    await fake.message(im(BO), "Question 1 of")


@pytest.mark.parametrize("request_kind", ["command", "message", "button"])
async def test_a_request_is_acknowledged_before_it_is_answered(app, fake, request_kind):
    """Slack wants an answer within 3 seconds: the app acknowledges first and works after. The
    fake holds the app's first call after the acknowledgement, so only an app that does not
    wait for its work can answer the request at all."""
    if request_kind == "button":
        await dm(app, KIM, "assess", "Question 1 of")
    release = fake.hold("chat.update" if request_kind == "button" else "users.info")  # the first call after the ack
    seen = len(fake.to(im(KIM)))
    send = {
        "command": lambda: app.command(KIM, "help"),
        "message": lambda: app.dm(KIM, "help"),
        "button": lambda: app.click(KIM, fake.last(im(KIM)), "2"),
    }[request_kind]
    response = await send()
    assert response.status_code == 200 and response.text == ""
    assert fake.to(im(KIM))[seen:] == []  # nothing answered yet: the work waits on the held call
    release.set()
    await fake.message(im(KIM), HELP if request_kind != "button" else "Question 2 of", after=seen)


async def test_the_slash_command_answers_in_the_language_asked_for(app, fake):
    await app.command(KIM, "help")
    await fake.message(im(KIM), HELP)
    await app.command(KIM, "lang nl")
    await fake.message(im(KIM), "Nederlands")


async def test_typed_text_is_escaped_before_it_is_echoed(app, fake):
    reply = await dm(app, ANN, "team new &lt;!channel&gt; &lt;@U123ABC45&gt; &amp; co", "join code")
    text = reply.blocks[0]["text"]["text"]
    assert "<!channel>" not in text and "<@U123ABC45>" not in text
    assert "&lt;!channel&gt; &lt;@U123ABC45&gt; &amp; co" in text


async def test_a_team_assessment_in_a_channel_with_three_members(app, fake, questions):
    await app.command(ANN, "team", channel=CHANNEL)
    invite = await fake.message(CHANNEL, "Team assessment")
    assert invite.buttons()[0]["action_id"].startswith("private")

    def progress() -> str:
        return fake.current(CHANNEL, invite.ts).text

    for answered, (user, value) in enumerate(((ANN, "2"), (BO, "3"), (KIM, "5")), 1):
        seen = len(fake.to(im(user)))
        assert (await app.click(user, invite, "Take part")).status_code == 200
        await fake.message(im(user), "answering for team", after=seen)
        await answer_all(app, user, value, questions)
        await fake.until(lambda answered=answered: f"Answered ({answered})" in progress(),
                         lambda answered=answered: f"Answered ({answered}): {progress()}")
    assert "Ann" in progress() and "Bo" in progress() and "Kim" in progress()
    seen = len(fake.to(CHANNEL))
    await app.command(BO, "team close", channel=CHANNEL)
    await fake.message(CHANNEL, "Only the person", after=seen)
    fake.admins.add(ROOT)
    await app.command(ROOT, "team close", channel=CHANNEL)
    result = await fake.message(CHANNEL, RESULT, method="chat.postMessage")
    assert "3 participants" in result.text and "others stage 5" in result.text
    await fake.until(lambda: any(u["channel"] == CHANNEL for u in fake.uploads), "the team's chart")
    await fake.until(lambda: "Closed on" in progress(), lambda: f"the team message to close: {progress()}")


async def test_retries_and_double_clicks_are_applied_once(app, fake, tmp_path):
    assert (await app.dm(ANN, "assess", event_id="Ev061FSAME01")).status_code == 200
    assert (await app.dm(ANN, "assess", event_id="Ev061FSAME01", headers={
        "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})).status_code == 200
    question = await fake.message(im(ANN), "Question 1 of")
    marker = await dm(app, ANN, "help", HELP)  # asked after the retry was acknowledged
    assert sum("Question 1 of" in p.text for p in fake.to(im(ANN))[:position(fake, im(ANN), marker)]) == 1
    seen = len(fake.to(im(ANN)))
    assert (await app.click(ANN, question, "3")).status_code == 200
    assert (await app.click(ANN, question, "3")).status_code == 200
    await fake.message(im(ANN), "already answered", after=seen, method="chat.postEphemeral")
    await fake.message(im(ANN), "Question 2 of", after=seen, method="chat.postMessage")
    marker = await dm(app, ANN, "help", HELP)
    assert sum("Question 2 of" in p.text for p in fake.to(im(ANN))[seen:position(fake, im(ANN), marker)]) == 1
    with sqlite3.connect(tmp_path / "slack.db") as db:
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1


async def test_a_bad_or_stale_signature_is_rejected_and_changes_nothing(app, fake):
    assert (await app.dm(ANN, "assess", secret="wrong")).status_code == 401
    assert (await app.dm(ANN, "assess", age=600)).status_code == 401
    marker = await dm(app, ANN, "help", HELP)
    assert fake.posted == [marker]


async def test_a_429_is_waited_out_and_the_message_still_goes_out(app, fake):
    fake.inject_429("chat.postMessage", retry_after=1, times=2)
    await dm(app, KIM, "help", HELP)
    assert sum(1 for method, _ in fake.calls if method == "chat.postMessage") == 3
    assert sum(HELP in p.text for p in fake.posted) == 1


async def test_the_bot_ignores_its_own_messages_and_other_bots(app, fake):
    assert (await app.event({"type": "message", "channel_type": "im", "channel": im(ANN), "user": BOT_USER,
                             "bot_id": BOT_ID, "text": "help", "ts": "1767000000.000101"})).status_code == 200
    assert (await app.event({"type": "message", "channel_type": "im", "channel": im(ANN), "user": "U07OTHERB",
                             "bot_id": "B07OTHERB", "subtype": "bot_message", "text": "help",
                             "ts": "1767000000.000102"})).status_code == 200
    marker = await dm(app, ANN, "assess", "Question 1 of")
    assert fake.posted == [marker]


async def test_one_socket_mode_round_trip(fake, tmp_path):
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_sdk.web.async_client import AsyncWebClient

    engine = AsyncEngine(lambda: Engine(SQLiteStore(tmp_path / "socket.db")))
    app, adapter = slack.build(engine, fake.token, None, fake.api_url, time_scale=TIME_SCALE)
    handler = AsyncSocketModeHandler(app, fake.app_token,
                                     web_client=AsyncWebClient(token=fake.app_token, base_url=fake.api_url))
    await handler.connect_async()
    await fake.until(fake.connected.is_set, "a Socket Mode connection")
    envelope = await fake.push("events_api", {
        "type": "event_callback", "team_id": TEAM, "api_app_id": APP, "event_id": "Ev061FSOCK01",
        "event": {"type": "message", "channel_type": "im", "channel": im(ANN), "user": ANN, "text": "help",
                  "ts": "1767000000.000001"},
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]})
    await fake.until(lambda: any(a.get("envelope_id") == envelope for a in fake.acks), "the envelope's ack")
    await fake.message(im(ANN), HELP)
    await handler.close_async()
    await adapter.drain()
    engine.close()


def test_the_manifest_asks_for_what_the_app_uses():
    manifest = yaml.safe_load((Path(__file__).parents[1] / "slack-app-manifest.yml").read_text())
    assert manifest["features"]["slash_commands"][0]["command"] == slack.COMMAND
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_home_opened", "message.im", "app_uninstalled", "tokens_revoked"}
    assert manifest["oauth_config"]["redirect_urls"] == ["https://YOUR-HOST/slack/oauth_redirect"]
    assert tuple(manifest["oauth_config"]["scopes"]["bot"]) == slack.SCOPES
    assert manifest["settings"]["interactivity"]["is_enabled"]
    assert {"chat:write", "chat:write.public", "commands", "files:write", "im:history", "im:write",
            "users:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])
    assert manifest["features"]["app_home"]["home_tab_enabled"]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_stagecoach_run_serves_slack_in_http_mode(tmp_path):
    async def scenario() -> None:
        server = FakeSlack(names=dict(NAMES))
        await server.start()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "SLACK_BOT_TOKEN": server.token, "SLACK_SIGNING_SECRET": SECRET,
               "SLACK_API_URL": server.api_url, "PORT": str(port), "STAGECOACH_DB": str(tmp_path / "run.db")}
        env.pop("TELEGRAM_BOT_TOKEN", None)
        process = await asyncio.to_thread(subprocess.Popen, [sys.executable, "-m", "bot.cli", "run"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = App.__new__(App)
        client.url = f"http://127.0.0.1:{port}/slack/events"
        try:
            await until(lambda: listening(port) or process.poll() is not None, "the app to listen")
            assert (await client.dm(ANN, "help")).status_code == 200
            await server.message(im(ANN), HELP)
        finally:
            process.send_signal(signal.SIGTERM)
            assert await exited(process) == 0
            await server.stop()

    asyncio.run(scenario())


async def test_malformed_and_hostile_requests_are_refused_with_a_clean_4xx(app, fake):
    """Huge, malformed, mistyped or unknown requests each get the 4xx that says why, never a 200
    (Slack would take that as handled) and never a 500."""
    unknown_action = json.dumps({"type": "block_actions", "team": {"id": TEAM}, "user": {"id": ANN},
                                 "actions": [{"action_id": "nope", "value": "x", "action_ts": "1.1"}]})
    for body, content_type, status in [
        ("x" * 200_000, "application/json", 400),
        ("{" * (slack.MAX_BODY + 1), "application/json", 413),
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        (urlencode({"payload": "{broken"}), FORM, 400),
        (urlencode({"payload": "[]"}), FORM, 400),
        (json.dumps({"type": "event_callback", "event": "not a dict"}), "application/json", 400),
        (urlencode({"payload": unknown_action}), FORM, 404),
    ]:
        assert (await app.post(body, content_type)).status_code == status, body[:60]
    question = await dm(app, ANN, "assess", "Question 1 of")
    await click(app, ANN, "2", "Question 2 of")
    seen = len(fake.to(im(ANN)))
    assert (await app.click(ANN, question, "2")).status_code == 200  # a real, but stale, button
    await fake.message(im(ANN), "already answered", after=seen, method="chat.postEphemeral")


async def test_a_champion_subscribes_a_channel_with_the_slash_command(app, fake):
    await app.command(BO, "tips subscribe stage 2", channel=WEEKLY)
    await fake.message(WEEKLY, "Only a champion")
    fake.admins.add(ROOT)
    await app.command(ROOT, f"champion add <@{BO}|bo>", channel=WEEKLY)
    await fake.message(WEEKLY, f"<@{BO}> is now a champion here")
    await app.command(BO, "tips subscribe tue 10:00 stage 2", channel=WEEKLY)
    await fake.message(WEEKLY, "every Tuesday at 10:00")


SLASH = re.compile(r"(?<![\w/.:~@&=?#%+-])/([a-z][\w-]*)(?: ([a-z][\w-]*))?(?: ([a-z][\w-]*))?")


def shown(value: object) -> list[str]:
    """Every text a person sees in a message or view: Block Kit text objects, not button values."""
    if isinstance(value, dict):
        return [t for key, item in value.items() if key != "value"
                for t in ([item] if key == "text" and isinstance(item, str) else shown(item))]
    if isinstance(value, list):
        return [t for item in value for t in shown(item)]
    return []


async def test_every_command_the_bot_names_is_one_slack_users_can_type(app, fake):
    """Slack takes any message that starts with `/` for a slash command, and has only ours."""
    await dm(app, ANN, "start", "I'm Stagecoach")
    helped = await dm(app, ANN, "help", HELP)
    assert "/stagecoach team join CODE" in helped.text and "/stagecoach assess" in helped.blocks[0]["text"]["text"]
    await app.event({"type": "app_home_opened", "user": ANN, "channel": im(ANN), "tab": "home"})
    home = await fake.until(lambda: fake.views.get(ANN), "App Home")
    assert "Type /stagecoach assess" in json.dumps(home)
    await app.command(ANN, "team", channel=CHANNEL)
    invite = await fake.message(CHANNEL, "Team assessment")
    assert "send me /stagecoach team join " in invite.text and "with /stagecoach team close." in invite.text
    seen = len(fake.to(CHANNEL))
    await app.command(BO, "assess", channel=CHANNEL)
    redirect = await fake.message(CHANNEL, "private chat", after=seen)
    assert "type /stagecoach team." in redirect.text
    texts = [t for p in fake.posted for t in [p.text, *shown(p.blocks)]] + shown(home)
    named = [m for text in texts for m in SLASH.finditer(text)]
    assert len(named) > 20
    for mention in named:
        assert mention.group(1) == "stagecoach", mention.group(0)
        words = mention.group(2), f"{mention.group(2)} {mention.group(3)}"
        assert any(w in COMMANDS for w in words), mention.group(0)


async def reply_in(app: App, user: str, text: str, channel: str, expect: str) -> Posted:
    """Runs `/stagecoach <text>` in a channel; the reply there that contains `expect`."""
    seen = len(app.fake.to(channel))
    assert (await app.command(user, text, channel=channel)).status_code == 200
    return await app.fake.message(channel, expect, after=seen)


# (who, command, what the reply says, whom alone it shows to: None when the channel sees it)
IN_A_CHANNEL = [
    (BO, "tips subscribe stage 2", "Only a champion", BO),
    (BO, f"champion add <@{KIM}|kim>", "Only an admin", BO),
    (KIM, "assess", "Answers and results are personal", KIM),
    (KIM, "result", "Answers and results are personal", KIM),
    (KIM, "help", HELP, KIM),
    (KIM, "frobnicate", "I don't know the command /frobnicate", KIM),
    (ANN, "team", "Team assessment “#marketing”", None),
    (BO, "team close", "Only the person who started", BO),
    (KIM, "team join K7P2QXM4", "take part in a private chat", KIM),
    (KIM, "team status", "Team assessment “#marketing”", None),
    (ROOT, "champion add", "Mention the person", ROOT),
    (ROOT, f"champion add <@{BO}|bo>", f"<@{BO}> is now a champion here", None),
    (BO, "tips subscribe tue 10:00 stage 2", "every Tuesday at 10:00", None),
    (KIM, "tips weekly", "every Tuesday at 10:00", None),
    (KIM, "tips preview", "Preview of the next weekly tip", KIM),
    (KIM, "tips history", "No weekly tips", KIM),
    (BO, "tips pause", "Weekly tips are paused", None),
    (BO, "tips resume", "Weekly tips are on again", None),
    (BO, "tips now", "Why this fits you", None),
    (KIM, "lang nl", "Nederlands", KIM),
]


async def test_a_channel_sees_what_concerns_it_and_the_rest_goes_to_its_person_alone(app, fake):
    fake.admins.add(ROOT)
    for user, command, expect, only_for in IN_A_CHANNEL:
        posted = await reply_in(app, user, command, CHANNEL, expect)
        assert posted.only_for == only_for, (command, posted.method, posted.text[:60])
        if only_for is not None:  # the slash command's own way back, ephemeral by default
            assert (posted.method, posted.response_type, posted.user) == ("response_url", "ephemeral", user)
        else:
            assert posted.method in ("chat.postMessage", "chat.update"), command


async def test_where_the_bot_cannot_post_the_person_still_gets_the_answer(app, fake):
    """A private channel the bot has not joined, and a DM between two people: Slack refuses
    chat.postMessage there, and the command answers through its response_url, with how to
    bring Stagecoach in."""
    hidden, between_two = "G061F8PRV", "D061F8ANNBO"
    fake.unreachable |= {hidden, between_two}
    for channel, name, command, expect in [(hidden, "privategroup", "team", "Team assessment"),
                                           (between_two, "directmessage", "help", HELP)]:
        assert (await app.command(ANN, command, channel=channel, channel_name=name)).status_code == 200
        answer = await fake.message(channel, expect, method="response_url")
        assert answer.only_for == ANN
        assert "under Integrations" in answer.blocks[-1]["elements"][0]["text"]
    assert not [p for p in fake.posted if p.method == "chat.postMessage" and p.channel in fake.unreachable]


async def test_app_home_follows_language_results_and_tips_and_a_first_dm_is_welcomed(app, fake):
    await dm(app, ANN, "hello", "I'm Stagecoach")
    await app.command(ANN, "lang nl", channel=CHANNEL)
    await fake.until(lambda: "je coach" in json.dumps(fake.views.get(ANN, {}), ensure_ascii=False),
                     "App Home in Dutch after /stagecoach lang nl")
    view = fake.views[ANN]
    english = next(e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["text"]["text"] == "English")
    payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": ANN}, "api_app_id": APP,
               "trigger_id": "13345224609.738474920.8088930838d88f008e1",
               "container": {"type": "view", "view_id": "V1"},
               "actions": [{**english, "block_id": "b", "action_ts": "1767000002.000001"}]}
    assert (await app.post(urlencode({"payload": json.dumps(payload)}), FORM)).status_code == 200
    await fake.until(lambda: "maturity coach" in json.dumps(fake.views.get(ANN, {})),
                     "App Home in English after its language button")
    await app.command(ANN, "tips stage 2")
    await fake.message(im(ANN), "Tip for stage 2")
    await click(app, ANN, "Done it", "Well done")
    await fake.until(lambda: "1 tip done" in json.dumps(fake.views.get(ANN, {})), "App Home to count the tip done")


async def test_only_the_people_a_reply_names_become_mentions():
    named = Reply("<!channel> and Bo <@U1>", mentions=(Mention(15, 17, "U061F7BK2"),))
    assert slack.mrkdwn(named) == "&lt;!channel&gt; and <@U061F7BK2> &lt;@U1&gt;"
    forged = Reply("Bo <!channel>", mentions=(Mention(0, 2, "!channel"),))
    assert slack.mrkdwn(forged) == "Bo &lt;!channel&gt;"
