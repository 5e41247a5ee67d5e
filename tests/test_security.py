"""Security and privacy: nobody acts where they have no right, and forgetting forgets.

Each attack that once worked is kept here as a regression test, through the real adapters and
the fake platforms on 127.0.0.1 where a platform is involved. The table of who may do what is
read from the README and every cell of it is tried on both platforms."""
from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.events import Person
from bot.flows.team import CODE_ALPHABET, CODE_LENGTH
from bot.store import IMPERSONAL, PERSONAL
from bot.store_sqlite import SQLiteStore
from bot.testing import ChatClient
from tests.drivers import slack as slack_driver
from tests.drivers import telegram as telegram_driver
from tests.fakes.slack import TEAM, FakeSlack, Posted, im
from tests.fakes.telegram import FakeTelegram, Sent

README = Path(__file__).parent.parent / "README.md"
REFUSALS = ("Only a champion", "Only an admin", "Only the person who started")
ROLES = ("admin", "champion", "team starter", "member", "champion elsewhere")

# Telegram: a group, another group where the champion elsewhere is admin, and who is who.
TG_GROUP, TG_OTHER = -1001876543210, -1001876549999
TG = {"admin": 5012776409, "champion": 184265302, "team starter": 184265301, "member": 184265304,
      "champion elsewhere": 184265303}
TG_NAMES = {5012776409: "Ruth", 184265302: "Bo", 184265301: "Ann", 184265304: "Lea", 184265303: "Kim"}
# Slack: a channel in our workspace, and another workspace.
SL_CHANNEL, SL_OTHER_CHANNEL, SL_OTHER_TEAM = "C061F8WK5", "C0OTHER01", "T0OTHER01"
SL = {"admin": "U012AB3CD", "champion": "U061F7BK2", "team starter": "U061F7AUR", "member": "U061F7DL4",
      "champion elsewhere": "U061F7CQ9"}
SL_NAMES = {"U012AB3CD": "Ruth", "U061F7BK2": "Bo", "U061F7AUR": "Ann", "U061F7DL4": "Lea", "U061F7CQ9": "Kim"}


def permissions() -> list[tuple[str, str, dict[str, bool]]]:
    """README's table of who may do what: (action, its command, allowed by role)."""
    section = README.read_text().split("## Who may do what", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| action")]
    table = []
    for row in rows:
        action, *marks = [cell.strip() for cell in row.strip("|").split("|")]
        command = re.search(r"`(/[^`]+)`", action)
        assert command and len(marks) == len(ROLES) and set(marks) <= {"✓", "–"}, row
        table.append((action, command.group(1), {role: mark == "✓" for role, mark in zip(ROLES, marks, strict=True)}))
    return table


def test_the_readme_table_covers_every_right_that_is_checked():
    commands = {command for _, command, _ in permissions()}
    assert {"/team", "/team close", "/tips subscribe", "/tips pause", "/tips now", "/champion add",
            "/tips weekly"} <= commands


# The platforms, run for real


@pytest.fixture
async def tg_fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(names=dict(TG_NAMES))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def tg(tg_fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[telegram_driver.Bot]:
    running = telegram_driver.Bot(tg_fake, tmp_path / "telegram.db")
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def sl_fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(names=dict(SL_NAMES))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def sl(sl_fake: FakeSlack, tmp_path: Path) -> AsyncIterator[slack_driver.App]:
    running = slack_driver.App(sl_fake, tmp_path / "slack.db")
    await running.start()
    yield running
    await running.stop()


async def tg_say(fake: FakeTelegram, user: int, text: str, chat: int, expect: str = "", **kwargs) -> str:
    """Sends in a group (or private chat) and returns the text of the first reply there."""
    return (await tg_sent(fake, user, text, chat, expect, **kwargs)).text


async def tg_sent(fake: FakeTelegram, user: int, text: str, chat: int, expect: str = "", **kwargs) -> Sent:
    seen = len(fake.to(chat))
    chat_type = "private" if chat > 0 else "supergroup"
    fake.text(user, text, chat=None if chat > 0 else chat, chat_type=chat_type, title="Marketing", **kwargs)
    return await fake.message(chat, expect, after=seen)


async def sl_say(app: slack_driver.App, user: str, text: str, channel: str, expect: str = "",
                 team: str = TEAM) -> str:
    """Runs `/stagecoach <text>` in a channel and returns the text of the first reply there."""
    return (await sl_posted(app, user, text, channel, expect, team)).text


async def sl_posted(app: slack_driver.App, user: str, text: str, channel: str, expect: str = "",
                    team: str = TEAM) -> Posted:
    seen = len(app.fake.to(channel))
    assert (await app.command(user, text, channel=channel, team=team)).status_code == 200
    return await app.fake.message(channel, expect, after=seen)


async def tg_try(fake: FakeTelegram, user: int, command: str) -> list[str]:
    """What reached the group after a command, up to the answer to a /help sent after it: some
    commands answer by updating a message in place, which may leave it unchanged."""
    seen = len(fake.to(TG_GROUP))
    fake.text(user, command, chat=TG_GROUP, chat_type="supergroup", title="Marketing")
    marker = await tg_sent(fake, user, "/help", TG_GROUP, "/restart")
    return [s.text for s in fake.to(TG_GROUP)[seen:] if s is not marker]


async def sl_try(app: slack_driver.App, user: str, command: str) -> list[str]:
    """As tg_try, in the Slack channel."""
    seen = len(app.fake.to(SL_CHANNEL))
    assert (await app.command(user, command, channel=SL_CHANNEL)).status_code == 200
    marker = await sl_posted(app, user, "help", SL_CHANNEL, slack_driver.HELP)
    return [p.text for p in app.fake.to(SL_CHANNEL)[seen:] if p is not marker]


def telegram_spelling(command: str) -> str:
    """`/tips subscribe` as Telegram spells commands: `/tips_subscribe`."""
    return command.replace(" ", "_")


async def test_every_right_in_the_table_holds_on_telegram(tg_fake, tg):
    tg_fake.admins |= {(TG_GROUP, TG["admin"]), (TG_OTHER, TG["champion elsewhere"])}
    await tg_say(tg_fake, TG["team starter"], "/team", TG_GROUP, "Team assessment")
    named = await tg_say(tg_fake, TG["admin"], "/champion_add", TG_GROUP, reply_to=TG["champion"])
    assert "Bo is now a champion" in named
    # The attack: admin of a group of one's own, champion there, then acting in another group.
    elsewhere = TG["champion elsewhere"]
    assert "Kim is now a champion" in await tg_say(tg_fake, elsewhere, "/champion_add", TG_OTHER, reply_to=elsewhere)
    for action, command, allowed in permissions():
        for role in ROLES:
            replies = await tg_try(tg_fake, TG[role], telegram_spelling(command))
            refused = any(r in reply for r in REFUSALS for reply in replies)
            assert refused != allowed[role], f"Telegram: {role} → {action}: {replies}"


async def test_every_right_in_the_table_holds_on_slack(sl_fake, sl):
    sl_fake.admins.add(SL["admin"])
    await sl_say(sl, SL["team starter"], "team", SL_CHANNEL, "Team assessment")
    named = await sl_say(sl, SL["admin"], f"champion add <@{SL['champion']}|bo>", SL_CHANNEL)
    assert f"<@{SL['champion']}> is now a champion" in named
    elsewhere = SL["champion elsewhere"]
    sl_fake.admins.add(elsewhere)  # an admin of another workspace names herself there
    named_there = await sl_say(sl, elsewhere, f"champion add <@{elsewhere}>", SL_OTHER_CHANNEL, team=SL_OTHER_TEAM)
    assert f"<@{elsewhere}> is now a champion" in named_there
    sl_fake.admins.discard(elsewhere)
    for action, command, allowed in permissions():
        for role in ROLES:
            replies = await sl_try(sl, SL[role], command.lstrip("/"))
            refused = any(r in reply for r in REFUSALS for reply in replies)
            assert refused != allowed[role], f"Slack: {role} → {action}: {replies}"


async def test_a_champion_of_one_group_changes_nothing_in_another(tg_fake, tg, tmp_path):
    """Finding 1: champions were stored platform-wide."""
    admin, attacker = TG["admin"], TG["champion elsewhere"]
    tg_fake.admins |= {(TG_GROUP, admin), (TG_OTHER, attacker)}
    await tg_say(tg_fake, admin, "/tips_subscribe mon 09:00 stage 3", TG_GROUP, "every Monday")
    await tg_say(tg_fake, attacker, "/champion_add", TG_OTHER, "is now a champion", reply_to=attacker)
    for command in ("/tips_subscribe sun 03:00 stage 1", "/tips_stop", "/tips_now", "/tips_pause"):
        assert "Only a champion" in await tg_say(tg_fake, attacker, command, TG_GROUP)
    assert not any("Tip of the week" in s.text for s in tg_fake.to(TG_GROUP))
    with sqlite3.connect(tmp_path / "telegram.db") as db:
        assert db.execute("SELECT weekday, at, stage, status FROM subscriptions").fetchall() == [
            (0, "09:00", 3, "active")]


async def test_a_demoted_admin_loses_the_right_at_once(tg_fake, tg, sl_fake, sl):
    """Finding 7: admin status was cached for five minutes."""
    admin = TG["admin"]
    tg_fake.admins.add((TG_GROUP, admin))
    await tg_say(tg_fake, admin, "/tips_subscribe stage 2", TG_GROUP, "every Monday")
    tg_fake.admins.discard((TG_GROUP, admin))
    assert "Only a champion" in await tg_say(tg_fake, admin, "/tips_stop", TG_GROUP)
    sl_fake.admins.add(SL["admin"])
    await sl_say(sl, SL["admin"], "tips subscribe stage 2", SL_CHANNEL, "every Monday")
    sl_fake.admins.discard(SL["admin"])
    assert "Only a champion" in await sl_say(sl, SL["admin"], "tips stop", SL_CHANNEL)


async def test_a_champion_is_named_by_a_real_mention_or_not_at_all(tg_fake, tg, tmp_path):
    """Finding 7: `/champion add @name` stored a name, reported success and did nothing."""
    admin, bo = TG["admin"], TG["champion"]
    tg_fake.admins.add((TG_GROUP, admin))
    how = await tg_say(tg_fake, admin, "/champion_add @bo", TG_GROUP)
    assert "Reply to a message of the person" in how and "now a champion" not in how
    assert "Only a champion" in await tg_say(tg_fake, bo, "/tips_subscribe stage 2", TG_GROUP)
    assert "Bo is now a champion" in await tg_say(tg_fake, admin, "/champion_add Bo", TG_GROUP, text_mention=bo)
    assert "every Monday" in await tg_say(tg_fake, bo, "/tips_subscribe stage 2", TG_GROUP)
    with sqlite3.connect(tmp_path / "telegram.db") as db:
        assert db.execute("SELECT scope, user_id FROM champions").fetchall() == [(str(TG_GROUP), str(bo))]


# Deep links carry intents, not commands


async def test_a_start_link_never_runs_a_command(tg_fake, tg, tmp_path):
    """Finding 2: `?start=L3Jlc3RhcnQ` (base64 of /restart) deleted answers in progress."""
    ann = TG["team starter"]
    await tg_say(tg_fake, ann, "/assess", ann, "Question 1 of")
    for number in range(2, 12):
        await telegram_driver.press(tg_fake, ann, "3", f"Question {number} of")
    for payload in ("L3Jlc3RhcnQ", "L2ZvcmdldA", "/restart", "team_join_ABCDEFGH"):
        welcome = await tg_sent(tg_fake, ann, f"/start {payload}", ann, "Stagecoach. I help")
        after = next(i for i, s in enumerate(tg_fake.to(ann)) if s is welcome)
        await tg_fake.message(ann, "Question 11 of", after=after)  # the welcome, then where she was
    with sqlite3.connect(tmp_path / "telegram.db") as db:
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 10


async def test_the_take_part_link_joins_and_is_the_only_thing_it_can_do(tg_fake, tg):
    await tg_say(tg_fake, TG["admin"], "/team", TG_GROUP, "Team assessment")
    progress = next(s for s in tg_fake.to(TG_GROUP) if "Team assessment" in s.text)
    url = progress.reply_markup["inline_keyboard"][0][0]["url"]
    token = url.split("?start=")[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token) and "team" not in token.lower()
    bo = TG["champion"]
    assert "answering for team" in await tg_say(tg_fake, bo, f"/start {token}", bo, "answering for team")


def test_an_invite_expires_and_the_team_message_gets_a_fresh_one(engine, clock):
    group = ChatClient(engine, "ann", chat="-100", platform="telegram", group=True)
    old = group.send("/team")[-1].options[0].value
    clock.value = (datetime.fromisoformat(clock.value) + timedelta(days=31)).isoformat()
    bo = ChatClient(engine, "bo", platform="telegram")
    assert "Hello! I'm Stagecoach" in bo.send(old)[0].text
    fresh = group.send("/team")[-1].options[0].value
    assert fresh != old and "answering for team" in bo.send(fresh)[0].text


async def test_the_take_part_button_in_a_slack_channel_is_enough_to_join(sl_fake, sl):
    await sl_say(sl, SL["admin"], "team", SL_CHANNEL, "Team assessment")
    progress = next(p for p in sl_fake.to(SL_CHANNEL) if "Team assessment" in p.text)
    bo = SL["champion"]
    seen = len(sl_fake.to(im(bo)))
    assert (await sl.click(bo, progress, "Take part")).status_code == 200
    assert "answering for team" in (await sl_fake.message(im(bo), "answering for team", after=seen)).text


# Join codes


def test_join_codes_are_long_and_wrong_guesses_are_slowed_down(engine, clock):
    """Finding 4: 32**6 codes and no throttling: 5,000 guesses in about a second."""
    starter = ChatClient(engine, "ann", platform="telegram")
    text = starter.send("/team new Sales")[0].text
    code = re.search(r"join code is ([A-Z0-9]+)", text).group(1)
    assert len(code) == CODE_LENGTH == 8 and set(code) <= set(CODE_ALPHABET)
    guesser = ChatClient(engine, "mallory", platform="telegram")
    for guess in ("AAAAAAAA", "AAAAAAAB", "AAAAAAAC", "AAAAAAAD", "AAAAAAAE"):
        assert "I don't know a team" in guesser.send(f"/team join {guess}")[0].text
    slowed = guesser.send(f"/team join {code}")[0].text
    assert "Try again in 10 minutes" in slowed and "answering" not in slowed
    clock.value = (datetime.fromisoformat(clock.value) + timedelta(minutes=10)).isoformat()
    assert "answering for team “Sales”" in guesser.send(f"/team join {code.lower()[:4]}-{code[4:]}")[0].text


async def test_five_wrong_codes_through_telegram_pause_joining_by_code(tg_fake, tg):
    starter, guesser = TG["team starter"], TG["member"]
    created = await tg_say(tg_fake, starter, "/team_new Sales", starter, "join code is")
    code = re.search(r"join code is ([A-Z0-9]+)", created).group(1)
    for number in range(5):
        await tg_say(tg_fake, guesser, f"/team_join WRONG{number:03d}", guesser, "know a team with the code")
    assert "Try again in" in await tg_say(tg_fake, guesser, f"/team_join {code}", guesser)


async def test_a_code_holds_only_in_the_workspace_of_its_team(sl_fake, sl):
    """Finding 4: a code worked from any chat of the platform."""
    ann, kim = SL["team starter"], SL["champion elsewhere"]
    created = await sl_say(sl, ann, "team new Sales", im(ann), "join code is")
    code = re.search(r"join code is ([A-Z0-9]+)", created).group(1)
    seen = len(sl_fake.to(im(kim)))
    assert (await sl.dm(kim, f"/team join {code}", team=SL_OTHER_TEAM)).status_code == 200
    assert "I don't know a team" in (await sl_fake.message(im(kim), "", after=seen)).text
    seen = len(sl_fake.to(im(kim)))
    assert (await sl.dm(kim, f"/team join {code}")).status_code == 200
    assert "answering for team" in (await sl_fake.message(im(kim), "", after=seen)).text


# Forget means forget


def table_columns(db: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
              if not r[0].startswith("sqlite_")]
    return {t: {c[1] for c in db.execute(f"PRAGMA table_info({t})")} for t in tables}


def test_every_column_is_known_as_personal_or_not(db_path):
    SQLiteStore(db_path).close()
    with sqlite3.connect(db_path) as db:
        schema = table_columns(db)
    listed = {t: set(PERSONAL.get(t, {})) | set(IMPERSONAL.get(t, ())) for t in set(PERSONAL) | set(IMPERSONAL)}
    assert schema == listed
    assert all(not set(PERSONAL.get(t, {})) & set(IMPERSONAL.get(t, ())) for t in schema)


ZOE, ZOE_NAME, GROUP = "987654321", "Zoë Q. Forgetme", "-1001555000111"


def test_forget_leaves_no_row_or_stored_reply_that_names_the_person(engine, questions, db_path):
    """Finding 3: champions, subscriptions, team starters, names in others' replies, the confirmation."""

    def person(user: str, chat: str | None = None, admin: bool = False) -> ChatClient:
        return ChatClient(engine, user, chat=chat, platform="telegram", group=chat is not None, admin=admin,
                          lang="en", name=ZOE_NAME if user == ZOE else None)

    zoe = person(ZOE)
    zoe.answer_all(4)
    zoe.send("/tips")
    zoe.send("/roadmap")
    zoe.send("/tips subscribe stage 3")  # her own private chat's weekly tips
    zoe.send("/team join NOSUCHCO")
    in_group = person(ZOE, GROUP, admin=True)
    in_group.send("/team", key="zoe-team")  # she starts the group's team
    in_group.send("/champion add", mentions=(Person("555", "Bob"),))
    in_group.send("/tips subscribe stage 2")
    ChatClient(engine, "root", chat=GROUP, platform="telegram", group=True, admin=True).send(
        "/champion add", mentions=(Person(ZOE, ZOE_NAME),))
    take_part = in_group.send("/team status")[-1].options[0].value
    zoe.send(take_part, key="zoe-join")
    for _ in range(questions):
        zoe.send("4")
    person("555").send(take_part, key="bob-join")  # its progress for the group names Zoë, undelivered
    with sqlite3.connect(db_path) as db:
        before = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in table_columns(db)}
    assert all(before[t] for t in ("champions", "subscriptions", "tip_feedback", "wrong_codes", "team_members"))
    zoe.send("/forget")
    zoe.send("yes", key="zoe-forget")

    with sqlite3.connect(db_path) as db:
        for table, columns in table_columns(db).items():
            for column in columns:
                found = db.execute(f"SELECT COUNT(*) FROM {table} WHERE CAST({column} AS TEXT) LIKE ?"
                                   f" OR CAST({column} AS TEXT) LIKE ?", [f"%{ZOE}%", "%Forgetme%"]).fetchone()[0]
                assert found == 0, f"{table}.{column} still names the person"
        assert db.execute("SELECT COUNT(*) FROM events WHERE key = 'zoe-forget'").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM champions WHERE user_id = '555'").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM subscriptions").fetchone()[0] == 1  # the group's stays


async def test_forgetting_takes_the_name_off_the_groups_team_message(tg_fake, tg, questions):
    admin, bo = TG["admin"], TG["champion"]
    await tg_say(tg_fake, admin, "/team", TG_GROUP, "Team assessment")
    progress = next(s for s in tg_fake.to(TG_GROUP) if "Team assessment" in s.text)
    token = progress.reply_markup["inline_keyboard"][0][0]["url"].split("?start=")[1]
    await tg_say(tg_fake, bo, f"/start {token}", bo, "Question 1 of")
    await tg_fake.until(lambda: "Bo" in tg_fake.current(TG_GROUP, progress.message_id).text, "Bo in the progress")
    await tg_say(tg_fake, bo, "/forget", bo, "yes")
    await tg_say(tg_fake, bo, "yes", bo, "has been deleted")
    await tg_fake.until(lambda: "Bo" not in tg_fake.current(TG_GROUP, progress.message_id).text,
                        lambda: f"no Bo in: {tg_fake.current(TG_GROUP, progress.message_id).text}")
