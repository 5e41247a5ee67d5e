"""Team assessments: the rule, the lifecycle, privacy, history and exports."""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.catalog import default_catalogs
from bot.registry import REGISTRY
from bot.scoring import score
from bot.teams import aggregate
from bot.testing import ChatClient

QUESTIONS = default_catalogs()["en"].questions
DIMENSIONS = list(dict.fromkeys(q.dimension for q in QUESTIONS))
answers_strategy = st.lists(st.integers(0, 6), min_size=len(QUESTIONS), max_size=len(QUESTIONS)).map(
    lambda values: {q.id: v for q, v in zip(QUESTIONS, values, strict=True)})


def by_dimension(**stages: int) -> dict[str, int]:
    """Answers where every question of a dimension gets that dimension's stage (default 3)."""
    return {q.id: stages.get(q.dimension, 3) for q in QUESTIONS}


def test_the_team_rule_on_a_hand_computed_example():
    members = [
        by_dimension(strategy=2, listening=1, tools=4),
        by_dimension(strategy=3, listening=4, tools=4),
        by_dimension(strategy=5, listening=2, tools=5),
        by_dimension(strategy=4, listening=3, tools=4),
    ]
    team = aggregate(QUESTIONS, members)
    assert team.participants == 4
    assert team.dimensions["strategy"] == 4  # the middle of 2, 3, 4, 5, halfway counting up
    assert team.spreads["strategy"] == (2, 5)
    assert team.dimensions["listening"] == 3 and team.spreads["listening"] == (1, 4)
    assert team.dimensions["tools"] == 4 and team.spreads["tools"] == (4, 5)
    assert team.disagreements == ("strategy", "listening")
    assert team.stage == 3


@settings(max_examples=60)
@given(answers_strategy)
def test_a_team_of_identical_members_is_that_member(answers):
    member = score(QUESTIONS, answers)
    team = aggregate(QUESTIONS, [answers, answers, answers])
    assert team.stage == member.stage
    assert team.dimensions == member.dimensions
    assert team.disagreements == ()


@settings(max_examples=60)
@given(st.lists(answers_strategy, min_size=1, max_size=5), st.randoms())
def test_the_order_of_members_changes_nothing(members, random):
    shuffled = list(members)
    random.shuffle(shuffled)
    assert aggregate(QUESTIONS, members) == aggregate(QUESTIONS, shuffled)


def code_of(client: ChatClient) -> str:
    return re.search(r"\b([A-Z2-9]{8})\b", client.text).group(1)


def answer_all(client: ChatClient, value: int, questions: int) -> None:
    for _ in range(questions):
        client.send(str(value))


def test_a_named_team_from_start_to_close(engine, questions):
    ann, bo, kim = (ChatClient(engine, name, lang="en") for name in ("ann", "bo", "kim"))
    ann.send("/team new Marketing")
    code = code_of(ann)
    assert "Question 1 of" in ann.text and "answering for team “Marketing”" in ann.text
    bo.send(f"/team join {code.lower()}")
    kim.send(f"/team join {code}")
    answer_all(ann, 2, questions)
    assert "Your answers now count for team “Marketing”" in ann.text
    answer_all(bo, 3, questions)
    status = ann.send("/team status")[-1].text
    assert "Answered (2): Ann, Bo" in status and "Still answering: Kim" in status
    assert "stage" not in status.lower().split("code")[1]
    assert "Only the person who started" in bo.send("/team close")[-1].text
    answer_all(kim, 6, questions)
    result = ann.send("/team close")[0]
    assert "Team “Marketing” is at stage 3 of 6: Engagement" in result.text
    assert "3 participants" in result.text
    assert "some of you see stage 2, others stage 6" in result.text
    assert result.chart is not None and result.chart.ranges[0] == (2, 6)
    assert "cannot be reopened" in ann.send("/team close")[-1].text
    assert "has closed" in ChatClient(engine, "zed").send(f"/team join {code}")[-1].text


def test_a_team_result_names_its_next_moves_from_the_members_middle_answers(engine, questions):
    catalog = engine.catalogs["en"]
    sponsor_in_place = [4 if q.id == "leadership.sponsor" else 3 for q in catalog.questions]
    members = [ChatClient(engine, name, lang="en") for name in ("ann", "bo", "kim")]
    members[0].send("/team new Sales")
    code = code_of(members[0])
    for member in members[1:]:
        member.send(f"/team join {code}")
    for member in members:
        for value in sponsor_in_place:
            member.send(str(value))
    result = members[0].send("/team close")[0].text
    moves = {item.question: item.text for item in catalog.stage(3).checklist}
    asks = result[result.index("What stage 4, Formalized, asks of you next:"):]
    assert moves["organisation.hub"] in asks and moves["leadership.sponsor"] not in asks


def test_below_three_nothing_is_combined_or_kept_but_the_count():
    for size in (1, 2):
        team = aggregate(QUESTIONS, [by_dimension(strategy=5)] * size)
        assert (team.stage, team.dimensions, team.spreads, team.answers) == (None, {}, {}, {})
        assert team.participants == size and not team.visible
        assert team.to_dict() == {"participants": size}
    assert aggregate(QUESTIONS, [by_dimension()] * 3).visible


def test_a_team_of_one_closes_kindly_without_a_result(engine, questions):
    ann = ChatClient(engine, "ann", lang="en")
    ann.send("/team new Solo")
    answer_all(ann, 3, questions)
    result = ann.send("/team close")[0].text
    assert "Team “Solo” has closed with 1 answer. A team result needs at least three" in result
    assert "no one's answers can be singled out" in result
    assert "stage" not in result and "Engagement" not in result
    assert ann.send("/team status")[0].text == result
    nl = ChatClient(engine, "ann", lang="nl")
    assert "is gesloten met 1 antwoord" in nl.send("/team status")[0].text


def test_team_output_never_shows_an_individual(engine, questions):
    ann, bo = ChatClient(engine, "ann"), ChatClient(engine, "bo")
    ann.send("/team new Duo")
    bo.send(f"/team join {code_of(ann)}")
    answer_all(ann, 1, questions)
    answer_all(bo, 5, questions)
    result = ann.send("/team close")[0]
    assert "has closed with 2 answers" in result.text and "at least three" in result.text
    assert "Per dimension" not in result.text and result.chart is None
    assert "Ann" not in result.text and "Bo" not in result.text
    for member in (ann, bo):
        status = member.send("/team status")
        assert len(status) == 1 and status[0].chart is None  # no comparison chart below three either


def test_a_member_compares_themselves_with_the_closed_team(engine, questions):
    members = [ChatClient(engine, n) for n in ("ann", "bo", "kim")]
    members[0].send("/team new Trio")
    code = code_of(members[0])
    for member, value in zip(members, (2, 3, 4), strict=True):
        if member is not members[0]:
            member.send(f"/team join {code}")
        answer_all(member, value, questions)
    members[0].send("/team close")
    _, compare = members[1].send("/team status")
    assert compare.kind == "team_compare" and compare.chart.series[1][0] == 3
    assert compare.chart.legend == ("Team (median)", "You")


def test_leaving_takes_the_answers_out(engine, questions):
    ann, bo, kim, lu = (ChatClient(engine, n) for n in ("ann", "bo", "kim", "lu"))
    ann.send("/team new Quartet")
    code = code_of(ann)
    for member in (bo, kim, lu):
        member.send(f"/team join {code}")
    answer_all(ann, 2, questions)
    answer_all(kim, 2, questions)
    answer_all(lu, 2, questions)
    bo.send("3")
    bo.send("/team leave")
    assert "no longer count" in bo.text
    assert "not in a team" in bo.send("/team leave")[-1].text
    result = ann.send("/team close")[0]
    assert "3 participants" in result.text and "stage 2 of 6" in result.text


def test_a_member_of_two_teams_keeps_the_answers_apart(engine, questions):
    ann, bo = ChatClient(engine, "ann"), ChatClient(engine, "bo")
    ann.send("/team new Alpha")
    alpha = code_of(ann)
    answer_all(ann, 1, 3)
    bo.send("/team new Beta")
    beta = code_of(bo)
    ann.send(f"/team join {beta}")
    assert "Question 1 of" in ann.text
    answer_all(ann, 6, questions)
    ann.send(f"/team join {alpha}")
    assert "Question 4 of" in ann.text
    answer_all(ann, 1, questions - 3)
    answer_all(bo, 6, questions)
    for code, value, names in ((alpha, 1, ("cy", "di")), (beta, 6, ("ed", "fay"))):
        for name in names:  # three in each team, so that each shows a result
            other = ChatClient(engine, name)
            other.send(f"/team join {code}")
            answer_all(other, value, questions)
    beta_result = bo.send("/team close")[0]
    assert "stage 6 of 6" in beta_result.text
    alpha_result = ann.send("/team close")[0]
    assert "stage 1 of 6" in alpha_result.text


def test_a_personal_assessment_waits_while_a_team_one_is_answered(engine, questions):
    ann, bo = ChatClient(engine, "ann"), ChatClient(engine, "bo")
    ann.send("/assess")
    ann.send("4")
    bo.send("/team new Gamma")
    ann.send(f"/team join {code_of(bo)}")
    answer_all(ann, 3, questions)
    ann.send("/assess")
    assert "Question 2 of" in ann.text and "Welcome back" in ann.text


def test_a_group_team_takes_answers_in_private_and_shows_progress_in_the_group(engine, questions):
    group = ChatClient(engine, "ann", chat="g-100", group=True)
    invite = group.send("/team@stagecoach_bot")[-1]
    assert invite.kind == "team_progress" and invite.ref.startswith("team:")
    code = code_of(group)
    assert invite.options[0].value.startswith("/start ") and invite.options[0].private
    members = [ChatClient(engine, n) for n in ("ann", "bo", "kim")]
    for member in members:
        member.send(f"/team join {code}")
        progress = member.replies[-1]
        assert progress.to == "g-100" and progress.ref == invite.ref
        answer_all(member, 4, questions)
    assert members[-1].replies[-1].to == "g-100" and "Answered (3)" in members[-1].replies[-1].text
    assert "already open here" in group.send("/team new")[0].text
    admin = ChatClient(engine, "root", chat="g-100", group=True, admin=True)
    progress, result = admin.send("/team close")
    assert progress.ref == invite.ref and "Closed on" in progress.text and not progress.options
    assert result.to is None and "stage 4 of 6" in result.text


def test_a_new_team_in_the_same_place_shows_how_it_moved(engine, questions, clock):
    def run(value: int) -> str:
        group = ChatClient(engine, "ann", chat="g-7", group=True)
        group.send("/team")
        code = code_of(group)
        for name in ("ann", "bo", "kim"):
            member = ChatClient(engine, name)
            member.send(f"/team join {code}")
            answer_all(member, value, questions)
        return group.send("/team close")[-1].text

    run(2)
    clock.value = "2026-09-01T09:00:00+00:00"
    text = run(3)
    assert "Since your result of 2026-03-02: from Presence to Engagement (+1)" in text


def test_exports_are_parseable_and_hold_no_names(engine, questions, db_path, tmp_path):
    ann, bo, kim = (ChatClient(engine, n) for n in ("ann", "bo", "kim"))
    ann.send("/team new Export")
    code = code_of(ann)
    for member in (bo, kim):
        member.send(f"/team join {code}")
    for member, value in ((ann, 2), (bo, 3), (kim, 4)):
        answer_all(member, value, questions)
    ann.send("/team close")
    ChatClient(engine, "solo").answer_all(5)

    def export(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "bot.cli", "export", *args, "--db", str(db_path)],
                              capture_output=True, text=True, timeout=60, check=True)
        return done.stdout

    people = list(csv.DictReader(io.StringIO(export("people"))))
    assert len(people) == 4 and {p["user_id"] for p in people} == {"ann", "bo", "kim", "solo"}
    assert [p["stage"] for p in people if p["team_code"] == code] == ["2", "3", "4"]
    only_team = json.loads(export("people", "--format", "json", "--team", code.lower()))
    assert len(only_team) == 3 and only_team[0]["stage_strategy"] == 2
    teams = json.loads(export("teams", "--format", "json"))
    assert teams[0]["participants"] == 3 and teams[0]["median_strategy"] == 3 and teams[0]["low_strategy"] == 2
    assert json.loads(export("people", "--format", "json", "--since", "2027-01-01")) == []
    everything = export("people") + export("teams")
    assert "Ann" not in everything and "Question" not in everything


def test_personal_commands_in_a_group_move_to_a_private_chat(engine):
    group = ChatClient(engine, "ann", chat="g-5", group=True)
    reply = group.send("/assess")[-1]
    assert "private chat" in reply.text
    assert reply.options[0].private and reply.options[0].value == "/assess"
    assert "/team" in group.send("/tips")[-1].text
    assert "Here is what I understand" in group.send("/help")[-1].text


def test_a_group_carries_on_in_private_only_what_changes_nothing(engine):
    """Anyone in the group may press the button, and it acts in their own private chat."""
    carried = [c for c in REGISTRY if c.carried]
    assert carried and all(not c.group and not c.arguments and len(c.words) == 1 for c in carried)
    ann = ChatClient(engine, "ann")
    for value in ("/assess", "4", "4", "4"):
        ann.send(value)
    store = engine.store

    def where() -> tuple[str, int, int, dict[str, int]]:
        row = store.load_conversation("test", "ann", "ann")
        assert row.assessment_id is not None
        return row.state, row.assessment_id, row.cursor, store.answers(row.assessment_id)

    before, group = where(), ChatClient(engine, "ann", chat="g-6", group=True)
    for command in (c for c in REGISTRY if not c.group):
        button = group.send(f"/{command.name} 2")[-1].options[0]
        assert button.private and button.value in (f"/{command.words[0]}", "/start")  # never what follows
        if len(command.words) == 1:
            assert button.value == (f"/{command.name}" if command.carried else "/start")
        if command.carried:
            ann.press(button.value)
            assert where() == before, command.name
    assert "Question 4 of" in ann.send("/assess")[-1].text


def test_a_refused_join_leaves_the_person_where_they_were(engine):
    """Mid-assessment a join has no waiting step (tests/test_team_join.py has the one from idle):
    the code comes with the command, and a refusal says why and puts back what was on screen."""
    ann = ChatClient(engine, "ann")
    for value in ("/assess", "4", "4"):
        ann.send(value)
    refused = ann.send("/team join NOSUCHCODE")
    assert "I don't know a team with the code NOSUCHCODE" in refused[0].text and "Question 3 of" in refused[-1].text
    assert "Question 3 of" in ann.send("/team join")[-1].text
    assert "Question 4 of" in ann.send("5")[-1].text


def test_joining_leaves_a_forget_confirmation_and_erases_nothing(engine, questions):
    """A join from anywhere puts the team's questions on screen; what was there waits or ends."""
    ann, bo = ChatClient(engine, "ann"), ChatClient(engine, "bo")
    for value in ("/assess", "2", "2", "/forget"):
        ann.send(value)
    bo.send("/team new Delta")
    assert "answering for team “Delta”" in ann.send(f"/team join {code_of(bo)}")[0].text
    assert "Please answer with the number" in ann.send("yes")[0].text
    answer_all(ann, 3, questions)
    assert "count for team “Delta”" in ann.text
    assert "Question 3 of" in ann.send("/assess")[-1].text


def test_the_take_part_button_again_resumes_the_team_questions_where_they_were(engine, questions):
    """An interrupted join is picked up by joining again, at the question it was left at."""
    group = ChatClient(engine, "ann", chat="g-7", group=True)
    take_part = group.send("/team")[-1].options[0].value
    bo = ChatClient(engine, "bo")
    bo.send(take_part)
    assert "Question 1 of" in bo.text
    answer_all(bo, 3, 2)
    bo.send("/forget")
    again = bo.send(take_part)
    assert "answering for team" in again[0].text and "Question 3 of" in again[0].text
    answer_all(bo, 3, questions - 2)
    assert "count for team" in bo.text and "Answered (1): Bo" in bo.replies[-1].text
