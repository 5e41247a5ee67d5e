"""Commands spelled for each platform from the one registry, and nothing else touched."""
from __future__ import annotations

import pytest

from adapters.slack import SPELLING as SLACK
from bot.commands import NEUTRAL, TELEGRAM, mentioned, spell
from bot.engine import parse_command
from bot.registry import COMMANDS, find


@pytest.mark.parametrize(("text", "slack", "telegram"), [
    ("/assess to begin", "/stagecoach assess to begin", "/assess to begin"),
    ("Type /team join 643HP3 here.", "Type /stagecoach team join 643HP3 here.", "Type /team_join 643HP3 here."),
    ("(/assess)", "(/stagecoach assess)", "(/assess)"),
    ("first\n/team close", "first\n/stagecoach team close", "first\n/team_close"),
    ("with /team close.", "with /stagecoach team close.", "with /team_close."),
    ("/help, /back or /skip;", "/stagecoach help, /stagecoach back or /stagecoach skip;", "/help, /back or /skip;"),
    ("“/roadmap done”", "“/stagecoach roadmap done”", "“/roadmap_done”"),
    ("/lang nl", "/stagecoach lang nl", "/lang nl"),
    ("/tips subscribe mon 09:00 Europe/Amsterdam", "/stagecoach tips subscribe mon 09:00 Europe/Amsterdam",
     "/tips_subscribe mon 09:00 Europe/Amsterdam"),
    ("/team new Marketing", "/stagecoach team new Marketing", "/team_new Marketing"),
    ("/team Marketing", "/stagecoach team Marketing", "/team Marketing"),
    ("/champion add @name", "/stagecoach champion add @name", "/champion_add @name"),
    ("/team_close, as Telegram spells it", "/stagecoach team close, as Telegram spells it",
     "/team_close, as Telegram spells it"),
])
def test_a_command_is_spelled_for_each_platform(text, slack, telegram):
    assert spell(text, SLACK) == slack
    assert spell(text, TELEGRAM) == telegram


def test_the_terminal_shows_the_neutral_spelling():
    assert spell("/team join 643HP3 or /team_close", NEUTRAL) == "/team join 643HP3 or /team close"


@pytest.mark.parametrize("text", [
    "and/or", "either/help", "see https://example.com/help or http://x/assess", "/tmp/x and /help/x",
    "~/assess", "./assess", "a.b/team", "/frob", "/assessment", "/help.html", "/team_frob", "/tips_", "24/7",
    "/Assess", "key=/help", "/assess2", "@/help", "",
])
def test_what_is_not_a_command_is_left_alone(text):
    assert spell(text, SLACK) == text
    assert spell(text, TELEGRAM) == text


def test_a_two_word_command_needs_both_words_registered():
    assert spell("/tips for a step", TELEGRAM) == "/tips for a step"
    assert spell("/tips why", TELEGRAM) == "/tips_why"
    assert spell("/team join", SLACK) == "/stagecoach team join"
    assert spell("/team joined", SLACK) == "/stagecoach team joined"


def test_every_mention_is_found_registered_or_not():
    assert mentioned("Type /assess, /team join CODE, /team_join, /stagecoach help or /frob. and/or /tmp/x") == [
        "assess", "team", "team_join", "stagecoach", "frob"]


@pytest.mark.parametrize(("name", "arg", "words", "rest"), [
    ("team", "join AB12 CD34", "team join", "AB12 CD34"),
    ("team_join", "AB12", "team join", "AB12"),
    ("team", "JOIN ab12", "team join", "ab12"),
    ("team", "Marketing", "team", "Marketing"),
    ("tips", "", "tips", ""),
    ("tips", "channel-done tip_1", "tips channel-done", "tip_1"),
])
def test_a_command_is_found_by_its_words_or_its_one_word_spelling(name, arg, words, rest):
    assert find(name, arg) == (COMMANDS[words], rest)


def test_a_name_not_registered_is_no_command():
    assert find("teams", "join X") is None
    assert find("team_players", "") is None


@pytest.mark.parametrize(("text", "parsed"), [
    ("tips why", ("tips", "why")),
    ("lang nl", ("lang", "nl")),
    ("assess", ("assess", "")),
    ("assess my team", None),  # a bare command that takes nothing, with more after it: a message
    ("start over", None),  # an invite comes only after /start, from a link
    ("/start over", ("start", "over")),
    ("/Team@StagecoachBot close", ("team", "close")),
])
def test_a_bare_word_is_a_command_only_where_it_takes_what_follows(text, parsed):
    assert parse_command(text) == parsed
