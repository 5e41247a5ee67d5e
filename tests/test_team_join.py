"""Joining a team by its code when `/team join` came without it: asked for, then waited for."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from bot.engine import Engine
from bot.store_sqlite import SQLiteStore
from bot.testing import ChatClient
from tests.drivers.telegram import ANN, BO, press, say

ASK = "Which team would you like to join?"
JOINED = "answering for team “Sales”"
UNKNOWN = "I don't know a team with the code"


def new_team(engine: Engine) -> str:
    """Ann starts team Sales in her private chat; its join code."""
    created = ChatClient(engine, "ann", lang="en").send("/team new Sales")[0].text
    return re.search(r"join code is ([A-Z0-9]+)", created).group(1)


@pytest.fixture
def bo(engine: Engine) -> ChatClient:
    return ChatClient(engine, "bo", lang="en")


def test_team_join_without_a_code_asks_for_it_and_the_next_message_joins(engine, bo):
    code = new_team(engine)
    asked = bo.send("/team join")
    assert len(asked) == 1 and ASK in asked[0].text and [o.key for o in asked[0].options] == ["cancel"]
    joined = bo.send(code.lower())
    assert JOINED in joined[0].text and "Question 1 of" in joined[0].text
    assert "Question 2 of" in bo.send("3")[-1].text


def test_a_wrong_code_is_refused_and_the_wait_goes_on(engine, bo):
    code = new_team(engine)
    bo.send("/team join")
    assert UNKNOWN in bo.send("K7P2QXM4")[0].text
    assert UNKNOWN in bo.send("hello")[0].text
    assert JOINED in bo.send(code)[0].text


def test_wrong_codes_while_waiting_still_slow_down(engine, bo, clock):
    code = new_team(engine)
    bo.send("/team join")
    for guess in ("AAAAAAAA", "AAAAAAAB", "AAAAAAAC", "AAAAAAAD", "AAAAAAAE"):
        assert UNKNOWN in bo.send(guess)[0].text
    slowed = bo.send(code)[0].text
    assert "Try again in 10 minutes" in slowed and "answering" not in slowed
    assert "Try again in" in bo.send("/team join")[0].text  # no new wait while slowed down
    clock.value = (datetime.fromisoformat(clock.value) + timedelta(minutes=10)).isoformat()
    assert JOINED in bo.send(code)[0].text


@pytest.mark.parametrize(("lang", "way_out"), [("en", "Cancel"), ("en", "stop"), ("nl", "Laat maar")])
def test_the_wait_is_left_by_its_button_or_a_word(engine, lang, way_out):
    new_team(engine)
    bo = ChatClient(engine, "bo", lang=lang)
    bo.send("/team join")
    left = bo.press_option("cancel") if way_out == "Cancel" else bo.send(way_out)
    assert "/team join" in left[0].text and not left[0].options
    assert bo.send("K7P2QXM4")[0].text == engine.catalogs[lang].message("idle_hint")


def test_a_command_while_waiting_does_what_it_does(engine, bo):
    code = new_team(engine)
    bo.send("/team join")
    aside = bo.send("/help")
    assert "Here is what I understand" in aside[0].text and ASK in aside[-1].text
    assert UNKNOWN in bo.send("/team join K7P2QXM4")[0].text and ASK in bo.replies[-1].text
    assert "Question 1 of" in bo.send("/assess")[-1].text
    assert "Please answer with the number" in bo.send(code)[0].text  # the wait was left


def test_a_button_of_another_message_while_waiting_gets_the_usual_word(engine, bo):
    code = new_team(engine)
    bo.send("/team join")
    assert "belongs to a conversation that has moved on" in bo.press("yes")[0].text
    assert "belongs to a conversation that has moved on" in bo.press("q:1:strategy.goals:3")[0].text
    assert JOINED in bo.send(code)[0].text


def test_the_wait_survives_a_restart(db_path, clock):
    before = Engine(SQLiteStore(db_path), clock=clock)
    code = new_team(before)
    assert ASK in ChatClient(before, "bo", lang="en").send("/team join")[0].text
    before.store.close()
    after = Engine(SQLiteStore(db_path), clock=clock)
    try:
        assert JOINED in ChatClient(after, "bo", lang="en").send(code)[0].text
    finally:
        after.store.close()


def test_without_a_code_elsewhere_it_only_says_how(engine, bo):
    """An assessment under way, or a group, is never put aside for a waiting step."""
    for value in ("/assess", "4"):
        bo.send(value)
    hinted = bo.send("/team join")
    assert "Type /team join and the team's code" in hinted[0].text and "Question 2 of" in hinted[-1].text
    assert "Question 3 of" in bo.send("4")[-1].text
    group = ChatClient(engine, "bo", chat="g-1", group=True, lang="en")
    assert "take part in a private chat" in group.send("/team join")[0].text


# The same through the real Telegram adapter


async def test_joining_by_a_code_asked_for_through_telegram(fake, bot):
    created = await say(fake, ANN, "/team_new Sales", "join code is")
    code = re.search(r"join code is ([A-Z0-9]+)", created.text).group(1)
    await say(fake, BO, "/team_join", ASK)
    await press(fake, BO, "Cancel", "joined a team. Once you have the code")
    await say(fake, BO, "/team_join", ASK)
    await say(fake, BO, "WRONGCODE", "know a team with the code WRONGCODE")
    await say(fake, BO, code, JOINED)
