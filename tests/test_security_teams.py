"""Small teams stay private: below three participants no one's stage or dimensions reach a group,
a private chat, a chart, a weekly tip or an export, also for results stored before that rule."""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot import render
from bot.catalog import default_catalogs
from bot.engine import Engine
from bot.events import Reply
from bot.store import Subscription, TeamRecord
from bot.teams import TeamResult, aggregate
from bot.testing import ChatClient
from bot.weekly import channel_profile

CATALOGS = default_catalogs()
GROUP = "-1001700000042"  # a Telegram supergroup
ROOT = "184265399"  # one of its admins, who did not start the team
MEMBERS = ("184265301", "184265302", "184265303", "184265304")
STRATEGIC = 5  # what the first member answers throughout: stage 5, Strategic
REVEALING = re.compile(
    r"\b(?:stage|fase) \d|"
    + "|".join(re.escape(word) for c in CATALOGS.values() for s in c.stages for word in (s.name, s.tagline))
)


def in_group(engine: Engine, user: str, admin: bool = False) -> ChatClient:
    return ChatClient(engine, user, chat=GROUP, platform="telegram", group=True, admin=admin, lang="en")


def in_private(engine: Engine, user: str) -> ChatClient:
    return ChatClient(engine, user, platform="telegram", lang="en")


def revealing(replies: list[Reply]) -> list[str]:
    """Replies that name a stage or carry a chart: what must not follow from a small team."""
    return [r.text for r in replies if r.chart is not None or REVEALING.search(r.text)]


def group_team(engine: Engine, values: list[int], questions: int) -> tuple[str, list[Reply]]:
    """A team started in the group by the first member; each member answers every question with
    their value in a private chat. Returns its code and everything that reached the group."""
    invite = in_group(engine, MEMBERS[0]).send("/team")
    code = re.search(r"code ([A-Z2-9]{8})", invite[-1].text).group(1)
    take_part = invite[-1].options[0].value
    to_group = list(invite)
    for user, value in zip(MEMBERS, values, strict=False):
        member = in_private(engine, user)
        member.send(take_part)
        for _ in range(questions):
            to_group += [r for r in member.send(str(value)) if r.to == GROUP]
    return code, to_group


@pytest.mark.parametrize("values", [[STRATEGIC], [STRATEGIC, 2]], ids=["one", "two"])
def test_a_small_telegram_team_closed_by_an_admin_shows_no_ones_stage(engine, questions, values):
    _, to_group = group_team(engine, values, questions)
    assert revealing(in_private(engine, MEMBERS[0]).send("/result"))  # one's own stage, to oneself only
    closing = in_group(engine, ROOT, admin=True).send("/team_close")
    seen = to_group + closing + in_group(engine, ROOT).send("/team_status")
    for user in MEMBERS[:len(values)]:
        status = in_private(engine, user).send("/team status")
        assert len(status) == 1  # and no chart comparing them with the team
        seen += status
    assert revealing(seen) == []
    assert any(f"has closed with {len(values)} answer" in r.text for r in closing)
    assert any("at least three" in r.text and "singled out" in r.text for r in closing)
    weekly = in_group(engine, ROOT, admin=True).send("/tips_subscribe")
    assert "Which stage should the tips be for?" in weekly[0].text  # not coached from the small team


def test_a_team_of_three_shows_its_result_as_before(engine, questions):
    group_team(engine, [STRATEGIC, 2, 4], questions)
    result = in_group(engine, ROOT, admin=True).send("/team_close")[-1]
    assert "is at stage 4 of 6: Formalized" in result.text and "3 participants" in result.text
    assert "some of you see stage 2, others stage 5" in result.text and result.chart is not None
    status = in_private(engine, MEMBERS[1]).send("/team status")
    assert [r.kind for r in status] == ["team_result", "team_compare"]
    assert "every Monday" in in_group(engine, ROOT, admin=True).send("/tips_subscribe")[0].text


def export(db_path: Path, *args: str) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-m", "bot.cli", "export", *args, "--db", str(db_path)],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout, done.stderr


def test_exports_leave_out_a_two_person_teams_members(engine, questions, db_path):
    small, _ = group_team(engine, [STRATEGIC, 2], questions)
    in_group(engine, ROOT, admin=True).send("/team_close")
    in_private(engine, MEMBERS[0]).answer_all(3)  # a personal assessment: not the team's
    duo = in_private(engine, MEMBERS[2])
    duo.send("/team new Still open")  # open, with two who finished: its rows stay out too
    open_code = re.search(r"join code is ([A-Z2-9]{8})", duo.replies[0].text).group(1)
    for _ in range(questions):
        duo.send("6")
    in_private(engine, MEMBERS[3]).send(f"/team join {open_code}")
    for _ in range(questions):
        in_private(engine, MEMBERS[3]).send("6")

    only_team, notice = export(db_path, "people", "--format", "json", "--team", small)
    assert json.loads(only_team) == []
    assert "2 rows withheld" in notice and "fewer than 3 participants" in notice
    everything, notice = export(db_path, "people")
    rows = list(csv.DictReader(io.StringIO(everything)))
    assert [(r["user_id"], r["team_code"], r["stage"]) for r in rows] == [(MEMBERS[0], "", "3")]
    assert "4 rows withheld" in notice
    teams, notice = export(db_path, "teams", "--format", "json")
    (row,) = json.loads(teams)
    assert row["team_code"] == small and row["participants"] == 2 and row["stage"] is None
    assert all(value is None for key, value in row.items() if key.startswith(("median_", "low_", "high_")))
    assert "1 team with fewer than 3 participants" in notice


def legacy(engine: Engine, clock, questions: int) -> TeamRecord:
    """A one-person team closed before small teams were withheld: its stored result has a stage."""
    code, _ = group_team(engine, [STRATEGIC], questions)
    team = engine.store.team_by_code("telegram", "", code)
    assert team is not None
    old = aggregate(engine.catalogs["en"].questions, [{q.id: STRATEGIC for q in engine.catalogs["en"].questions}] * 3)
    stored = old.to_dict() | {"participants": 1}
    with engine.store.transaction():
        engine.store.close_team(team.id, old.stage, stored, clock())
    closed = engine.store.team(team.id)
    assert closed is not None and closed.result is not None and closed.result["stage"] == STRATEGIC
    return closed


def test_a_legacy_result_of_one_is_rendered_and_exported_without_its_stage(engine, questions, clock, db_path):
    team = legacy(engine, clock, questions)
    catalog = engine.catalogs["en"]
    stored = team.result or {}
    as_stored = TeamResult(stored["stage"], 1, stored["dimensions"],
                           {d: tuple(s) for d, s in stored["spreads"].items()}, answers=stored["answers"])
    shown = [render.team_result(catalog, team, as_stored), render.team_progress(catalog, team, [])]
    assert render.person_against_team(catalog, team, {"stage": STRATEGIC, "dimensions": {}}, as_stored) is None
    shown += in_group(engine, ROOT).send("/team_status") + in_private(engine, MEMBERS[0]).send("/team status")
    assert revealing(shown) == [] and "has closed with 1 answer" in shown[0].text

    people, _ = export(db_path, "people", "--format", "json")
    assert json.loads(people) == []
    (row,) = json.loads(export(db_path, "teams", "--format", "json")[0])
    assert row["participants"] == 1 and row["stage"] is None and row["median_strategy"] is None


def weekly(clock) -> Subscription:
    """The group's subscription as a champion makes it, without naming a stage."""
    return Subscription(0, "telegram", GROUP, "en", None, 0, "09:00", "Europe/Amsterdam", "active", ROOT, clock())


def test_a_legacy_result_of_one_is_not_used_for_weekly_tips(engine, questions, clock):
    legacy(engine, clock, questions)
    assert channel_profile(engine.store, engine.catalogs["en"], weekly(clock)) is None
    assert "Which stage should the tips be for?" in in_group(engine, ROOT, admin=True).send("/tips_subscribe")[0].text


def test_weekly_tips_pass_over_a_legacy_result_of_one_to_the_last_team_of_three(engine, questions, clock):
    group_team(engine, [2, 2, 2], questions)
    in_group(engine, ROOT, admin=True).send("/team_close")
    legacy(engine, clock, questions)
    profile = channel_profile(engine.store, engine.catalogs["en"], weekly(clock))
    assert profile is not None and profile.stage == 2
    preview = in_group(engine, ROOT, admin=True).send("/tips_subscribe en")
    assert "for stage Presence" in preview[0].text
