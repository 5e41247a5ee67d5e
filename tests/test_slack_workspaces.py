"""Stagecoach installed to several Slack workspaces by its install link (Bolt's OAuth flow),
each called with its own token, against the fake Slack Web API on 127.0.0.1. Two workspaces
with the same channel and user ids never see each other's teams, champions, subscriptions or
people."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters import slack
from bot.engine import Engine
from bot.store_sqlite import SQLiteStore
from bot.testing import ChatClient
from tests.drivers.slack import ANN, BO, CHANNEL, HELP, NAMES, ROOT, WEEKLY, App, click, dm
from tests.fakes.slack import BOT_USER, TEAM, FakeSlack, im
from tests.waiting import until

OTHER = "T0B2WKSP9"  # a second workspace, whose channels and people have the same ids as the first's


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(names=dict(NAMES))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def app(fake: FakeSlack, tmp_path: Path) -> AsyncIterator[App]:
    running = App(fake, tmp_path / "slack.db", installable=True)
    await running.start()
    yield running
    await running.stop()


def rows(tmp_path: Path, query: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "slack.db") as db:
        return db.execute(query).fetchall()


async def said(app: App, team: str, user: str, text: str, channel: str, expect: str) -> None:
    """A slash command in a workspace's channel, and the reply there that contains `expect`."""
    seen = len(app.fake.to(channel, team))
    assert (await app.command(user, text, channel=channel, team=team)).status_code == 200
    await app.fake.message(channel, expect, after=seen, team=team)


async def test_the_install_link_installs_the_app_to_a_workspace(app, fake, tmp_path):
    authorize, back = await app.install(TEAM)
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == [fake.client_id]
    assert query["scope"][0].split(",") == list(slack.SCOPES)
    assert back.status_code == 200, back.text
    [(team, bot)] = rows(tmp_path, "SELECT team_id, bot FROM installations")
    assert team == TEAM and json.loads(bot)["bot_token"] in fake.teams
    assert "U0INSTALL1" not in bot  # who installed it is not kept
    await dm(app, ANN, "help", HELP)
    assert {p.team for p in fake.posted} == {TEAM}  # with the token the install gave


async def test_an_install_state_is_good_once(app, fake, tmp_path):
    async with httpx.AsyncClient() as browser:
        page = await browser.get(f"{app.site}/slack/install")
        state = page.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        cookie = {"Cookie": f"slack-app-oauth-state={state}"}
        first = await browser.get(f"{app.site}/slack/oauth_redirect", headers=cookie,
                                  params={"code": fake.grant(TEAM), "state": state})
        again = await browser.get(f"{app.site}/slack/oauth_redirect", headers=cookie,
                                  params={"code": fake.grant(OTHER), "state": state})
    assert first.status_code == 200 and again.status_code != 200
    assert rows(tmp_path, "SELECT team_id FROM installations") == [(TEAM,)]


async def test_two_workspaces_with_the_same_ids_never_see_each_other(app, fake, tmp_path):
    for team in (TEAM, OTHER):
        assert (await app.install(team))[1].status_code == 200
    fake.admins.add(ROOT)
    # Champions and weekly tips: Bo is a champion in the first workspace only.
    await said(app, TEAM, ROOT, f"champion add <@{BO}|bo>", WEEKLY, f"<@{BO}> is now a champion here")
    await said(app, OTHER, BO, "tips subscribe stage 2", WEEKLY, "Only a champion")
    await said(app, TEAM, BO, "tips subscribe tue 10:00 stage 2", WEEKLY, "every Tuesday at 10:00")
    # Teams: the same channel id starts a team of its own in each workspace.
    await said(app, TEAM, ANN, "team", CHANNEL, "Team assessment")
    await said(app, OTHER, ANN, "team", CHANNEL, "Team assessment")
    # People: Ann's assessment in one workspace is not the other Ann's.
    await dm(app, ANN, "assess", "Question 1 of")
    await click(app, ANN, "2", "Question 2 of")
    seen = len(fake.to(im(ANN), OTHER))
    assert (await app.dm(ANN, "assess", team=OTHER)).status_code == 200
    await fake.message(im(ANN), "Question 1 of", after=seen, team=OTHER)

    assert not any("every Tuesday" in p.text for p in fake.to(WEEKLY, OTHER))
    assert None not in {p.team for p in fake.posted}  # every call was made with a workspace's own token
    assert rows(tmp_path, "SELECT scope, user_id FROM champions") == [(TEAM, f"{TEAM}:{BO}")]
    assert rows(tmp_path, "SELECT chat_id, champion_id FROM subscriptions") == [
        (f"{TEAM}:{WEEKLY}", f"{TEAM}:{BO}")]
    assert sorted(rows(tmp_path, "SELECT workspace, chat_id, status FROM teams")) == [
        (TEAM, f"{TEAM}:{CHANNEL}", "open"), (OTHER, f"{OTHER}:{CHANNEL}", "open")]
    assert sorted(rows(tmp_path, "SELECT user_id, COUNT(*) FROM answers JOIN assessments ON id = assessment_id"
                                 " GROUP BY user_id")) == [(f"{TEAM}:{ANN}", 1)]


async def test_an_uninstalled_workspace_is_refused_and_the_others_carry_on(app, fake, tmp_path):
    for team in (TEAM, OTHER):
        assert (await app.install(team))[1].status_code == 200
    await dm(app, ANN, "help", HELP)
    assert (await app.event({"type": "app_uninstalled"}, team=TEAM)).status_code == 200
    assert rows(tmp_path, "SELECT team_id FROM installations") == [(OTHER,)]
    posted = len(fake.posted)
    refused = await app.dm(ANN, "assess")
    assert refused.status_code == 200 and "reinstall" in refused.text  # Bolt found no token
    seen = len(fake.to(im(ANN), OTHER))
    assert (await app.dm(ANN, "assess", team=OTHER)).status_code == 200
    await fake.message(im(ANN), "Question 1 of", after=seen, team=OTHER)
    assert [p.team for p in fake.posted[posted:]] == [OTHER]
    assert rows(tmp_path, "SELECT COUNT(*) FROM inbox") == [(0,)]


async def test_revoked_bot_tokens_are_deleted(app, fake, tmp_path):
    assert (await app.install(OTHER))[1].status_code == 200
    revoked = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [BOT_USER]}}
    assert (await app.event(revoked, team=OTHER)).status_code == 200
    await until(lambda: rows(tmp_path, "SELECT COUNT(*) FROM installations") == [(0,)], "the token to go")


async def test_a_single_token_keeps_what_was_kept_before_ids_carried_their_workspace(fake, tmp_path):
    engine = Engine(SQLiteStore(tmp_path / "slack.db"))
    before = ChatClient(engine, ANN, chat=im(ANN), platform="slack", lang="en")
    before.send("/assess")
    before.press_option("2")
    engine.store.close()
    app = App(fake, tmp_path / "slack.db")
    await app.adapter.adopt_unscoped_ids()
    await app.start()
    try:
        await dm(app, ANN, "assess", "Question 2 of")
        assert rows(tmp_path, "SELECT DISTINCT chat_id, user_id FROM conversations") == [
            (f"{TEAM}:{im(ANN)}", f"{TEAM}:{ANN}")]
    finally:
        await app.stop()
