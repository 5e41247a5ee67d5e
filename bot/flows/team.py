"""The team flow: start a team assessment, join it, answer privately, see who answered, close it.

A team belongs to the place where it was started: a group or channel, or in a private chat a
named team. Members answer the normal assessment in their private chat; the team sees who has
answered, never what. People join by the team's invite button (a link that carries an opaque,
expiring invite) or by its code (with `/team join`, or asked for), which holds only in the team's
workspace; a person who types wrong codes is slowed down, so that codes cannot be guessed.
"""
from __future__ import annotations

import math
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cached_property

from .. import render
from ..catalog import Catalog
from ..events import Option, Reply, ReplyKind
from ..model import Chat, Part, hearing, saying
from ..store import TeamRecord
from ..teams import MIN_VISIBLE, TeamResult, aggregate
from .assessment import Questions

STATES = ["joining_team"]  # `/team join` without its code: asked for it, and waiting

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8  # 32**8 codes: at WRONG_CODES a WRONG_CODE_WINDOW, guessing one takes millennia
WRONG_CODES = 5
WRONG_CODE_WINDOW = timedelta(minutes=10)
INVITE_LIFE = timedelta(days=30)
NAMED_PLACE = "named:"

TRANSITIONS = [
    # A named team started in a private chat is answered at once; one started in a group is not.
    {"trigger": "team_new", "source": "*", "dest": "assessing", "conditions": ["team.names_a_new_team", "chat.private"],
     "after": ["team.start", "team.answer_started"]},
    # Joining, from wherever the person is, by the team's button (a start payload that is its
    # invite; any other payload gets the welcome) or by its code. The team's questions come on
    # screen, any other assessment kept for later; a refused code says why (`join_refusal`) and
    # leaves the person where they were. The answers count for the team once finished (FINISH).
    {"trigger": "start", "source": "*", "dest": "assessing", "conditions": "team.invited", "after": "team.join"},
    {"trigger": "team_join", "source": "*", "dest": "assessing", "conditions": "team.can_join",
     "after": "team.join_by_code"},
    # Without its code, with nothing else on screen, it asks for the code; the next message is a
    # way out, another message's button, or the code (it joins, or is refused and the wait goes on).
    {"trigger": "team_join", "source": ["idle", "joining_team"], "dest": "joining_team",
     "conditions": "team.lacks_code", "after": "team.ask_code"},
    {"trigger": "message", "source": "joining_team", "dest": "idle", "conditions": "team.says_cancel",
     "after": "team.say_join_cancelled"},
    {"trigger": "message", "source": "joining_team", "dest": None, "conditions": "team.pressed",
     "after": "menu.explain_old_button"},
    {"trigger": "message", "source": "joining_team", "dest": "assessing", "conditions": "team.can_join",
     "after": "team.join_by_code"},
    {"trigger": "message", "source": "joining_team", "dest": None, "after": "team.explain_join_refused"},
    # Leaving the team whose assessment is on screen ends that assessment.
    {"trigger": "team_leave", "source": ["assessing", "revisiting", "reviewing_skipped"], "dest": "idle",
     "conditions": "team.answering_for_context_team", "after": "team.leave"},
]

Refusal = tuple[str, dict[str, object]]  # a message id and its values


class Team(Part):
    """Team assessments: starting, joining, answering for, seeing, closing and leaving one."""

    def __init__(self, chat: Chat, questions: Questions) -> None:
        super().__init__(chat)
        self.questions = questions
        self.started: TeamRecord | None = None

    # Which team a command means

    @cached_property
    def context_team(self) -> TeamRecord | None:
        """In a group, its newest team; in a private chat, the team joined or started last."""
        if not self.chat.private:
            teams = self.store.teams_at(self.row.platform, self.row.chat_id, limit=1)
            return teams[0] if teams else None
        return self.store.team(self.row.team_id) if self.row.team_id is not None else None

    def _open_team_at(self, place: str) -> TeamRecord | None:
        return self.store.open_team_at(self.row.platform, place)

    def _team_name(self) -> str:
        return self.chat.arg.strip()[:60] or self.turn.event.chat_title or self.catalog.message("team_default_name")

    def _place(self, name: str) -> str:
        return self.row.chat_id if not self.chat.private else NAMED_PLACE + name.casefold()

    def names_a_new_team(self) -> bool:
        name = self.chat.arg.strip()
        return bool(name) and self._open_team_at(self._place(name[:60])) is None

    # Starting

    def team(self) -> None:
        """`/team`: in a group without an open team, start one; else show the team's state."""
        if not self.chat.private and self._open_team_at(self.row.chat_id) is None:
            self.start()
        else:
            self.status()
            self.chat.reask()

    def new_here_or_explain(self) -> None:
        """`/team new` in a group starts the group's team; in a private chat it needs a new name."""
        if not self.chat.private:
            self.start()
            return
        name = self.chat.arg.strip()
        existing = self._open_team_at(self._place(name[:60])) if name else None
        if existing is not None:
            self.say("team_exists", name=existing.name, code=existing.code)
        else:
            self.say("team_name_needed")
        self.chat.reask()

    def start(self) -> None:
        name = self._team_name()
        place = self._place(name)
        existing = self._open_team_at(place)
        if existing is not None:
            self.say("team_exists", name=existing.name, code=existing.code)
            self.replies.append(self._progress(existing, here=True))
            return
        code = self._new_code()
        team_id = self.store.create_team(self.row.platform, self.turn.event.workspace or "", place, name, code,
                                         self.row.user_id, self.turn.lang, self.turn.now)
        team = self.store.team(team_id)
        assert team is not None
        self.row.team_id, self.started = team_id, team
        if self.chat.private:
            self.say("team_created", name=name, code=code)
        else:
            self.replies.append(self._progress(team, here=True))

    def _new_code(self) -> str:
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if not self.store.code_taken(self.row.platform, code):
                return code

    # Joining

    @cached_property
    def invited_team(self) -> TeamRecord | None:
        """The open team that `/start <invite>` from a team's button names, if the invite still
        holds (in a private chat, in the team's workspace)."""
        token = self.chat.arg.strip()
        if not token or not self.chat.private:
            return None
        team = self.store.invited_team(token, self.row.platform, self.turn.now)
        if team is None or team.status != "open" or team.workspace != (self.turn.event.workspace or ""):
            return None
        return team

    def invited(self) -> bool:
        """Any other start payload is ignored, and the person gets the welcome."""
        return self.invited_team is not None

    @property
    def typed_code(self) -> str:
        """What follows `/team join`, or when the code was asked for, the message itself."""
        return self.chat.arg or self.chat.text

    @cached_property
    def code_team(self) -> TeamRecord | None:
        code = _as_code(self.typed_code)
        if not code:
            return None
        return self.store.team_by_code(self.row.platform, self.turn.event.workspace or "", code)

    @cached_property
    def wrong_codes(self) -> list[str]:
        since = datetime.fromisoformat(self.turn.now) - WRONG_CODE_WINDOW
        return self.store.wrong_codes_since(self.row.platform, self.row.user_id, since.isoformat(timespec="seconds"))

    @cached_property
    def join_refusal(self) -> Refusal | None:
        """Why `/team join CODE` cannot join a team, or None when it can."""
        if not self.chat.private:
            return "team_join_in_private", {}
        if len(self.wrong_codes) >= WRONG_CODES:
            free_at = datetime.fromisoformat(self.wrong_codes[-WRONG_CODES]) + WRONG_CODE_WINDOW
            wait = free_at - datetime.fromisoformat(self.turn.now)
            return "team_join_slow_down", {"count": max(1, math.ceil(wait.total_seconds() / 60))}
        if not _as_code(self.typed_code):
            return "team_join_how", {}
        team = self.code_team
        if team is None:
            return "team_unknown_code", {"code": self.typed_code.strip().upper()[:12]}
        if team.status != "open":
            return "team_closed", {"name": team.name}
        return None

    def can_join(self) -> bool:
        return self.join_refusal is None

    def lacks_code(self) -> bool:
        """`/team join` alone, in a private chat, by someone not slowed down: ask for the code."""
        return self.join_refusal == ("team_join_how", {})

    def ask_code(self) -> None:
        cancel = Option("cancel", self.catalog.message("team_join_cancel_label"), "cancel")
        self.replies.append(Reply(self.catalog.message("team_join_ask"), (cancel,), kind=ReplyKind.QUESTION))

    def pressed(self) -> bool:
        """A button, rather than typed text: the code is typed, so it belongs to another message."""
        return self.turn.event.choice is not None

    says_cancel = hearing("team_join_cancel_words")
    say_join_cancelled = saying("team_join_cancelled")

    def explain_join_refused(self) -> None:
        """Says why a join was refused; a wrong code counts towards slowing its typist down."""
        assert self.join_refusal is not None
        if self.join_refusal[0] == "team_unknown_code":
            self.store.record_wrong_code(self.row.platform, self.row.user_id, self.turn.now)
            self.store.prune_wrong_codes((datetime.fromisoformat(self.turn.now) - WRONG_CODE_WINDOW).isoformat())
        self._refuse(self.join_refusal)

    def _refuse(self, refusal: Refusal) -> None:
        key, values = refusal
        self.replies.append(Reply(self.catalog.message(key, **values)))

    def join(self) -> None:
        assert self.invited_team is not None
        self._join(self.invited_team)

    def join_by_code(self) -> None:
        assert self.code_team is not None
        self._join(self.code_team)

    def _join(self, team: TeamRecord) -> None:
        self.row.team_id = team.id
        self._answer_for(team)
        self._announce(team)

    def answer_started(self) -> None:
        assert self.started is not None
        self._answer_for(self.started)

    def _answer_for(self, team: TeamRecord) -> None:
        """Puts the team's assessment on screen, keeping any other one for later."""
        self.store.add_member(team.id, self.row.platform, self.row.user_id, self.turn.now)
        current = self.row.assessment_id
        if current is None or self.store.assessment_team(current) != team.id:
            self.questions.suspend()
            unfinished = self.store.unfinished_assessment(*self.who, team_id=team.id)
            if unfinished is None:
                self.questions.begin(team.id)
            else:
                self.row.assessment_id, self.row.cursor = unfinished
        self.questions.ask(intro=self.catalog.message("team_answer_intro", name=team.name))

    # Progress, closing, leaving

    def report_answer(self) -> None:
        """After an assessment for a team: the person, and the team's place, hear that it counted."""
        finished = self.questions.finished
        team_id = self.store.assessment_team(finished) if finished is not None else None
        team = self.store.team(team_id) if team_id is not None else None
        if team is None:
            return
        if team.status != "open":
            self.say("team_closed_late", name=team.name)
            return
        self.say("team_answer_counted", name=team.name)
        self._announce(team)

    def _announce(self, team: TeamRecord) -> None:
        """Updates the team's progress message in its group, if it has one."""
        if not team.chat_id.startswith(NAMED_PLACE) and team.chat_id != self.row.chat_id:
            self.replies.append(self._progress(team, here=False))

    def refresh_messages(self, team_ids: list[int]) -> None:
        """Updates the progress messages of teams in their groups, where posted."""
        store = self.store
        for team_id in team_ids:
            team = store.team(team_id)
            if team is None or team.chat_id.startswith(NAMED_PLACE):
                continue
            if store.posted_message(team.platform, render.team_ref(team.id), team.chat_id) is not None:
                self.replies.append(self._progress(team, here=False))

    def _progress(self, team: TeamRecord, here: bool) -> Reply:
        catalog = self.turn.catalogs.get(team.lang, self.catalog)
        invite = self._invite(team) if team.status == "open" else None
        reply = render.team_progress(catalog, team, self.store.members(team.id), invite)
        return reply if here else replace(reply, to=team.chat_id)

    def _invite(self, team: TeamRecord) -> str:
        """An invite that holds at least a week more, made anew when the last one runs out."""
        now = datetime.fromisoformat(self.turn.now)
        token = self.store.invite_for(team.id, (now + timedelta(days=7)).isoformat(timespec="seconds"))
        if token is None:
            token = secrets.token_urlsafe(16)
            self.store.create_invite(token, team.id, self.turn.now, (now + INVITE_LIFE).isoformat(timespec="seconds"))
        return token

    def status(self) -> None:
        team = self.context_team
        if team is None:
            self.say("team_none")
        elif team.status == "open":
            self.replies.append(self._progress(team, here=True))
        else:
            self.replies.extend(self._result_replies(team))

    def close_refusal(self) -> Refusal | None:
        """Why `/team close` cannot close the team meant, or None when it can."""
        team = self.context_team
        if team is None:
            return "team_none", {}
        if team.status != "open":
            return "team_already_closed", {"name": team.name}
        if team.starter_id != self.row.user_id and not self.turn.event.is_admin:
            return "team_close_not_allowed", {"name": team.name}
        if not any(m.answered for m in self.store.members(team.id)):
            return "team_close_empty", {"name": team.name}
        return None

    def close(self) -> None:
        """Closes the team meant, if its starter (or an admin) asks and someone answered."""
        meant = self.context_team
        if meant is not None:  # once, and after every answer another instance is recording for it
            self.store.lock_team(meant.id)
            self.__dict__["context_team"] = self.store.team(meant.id)
        refusal = self.close_refusal()
        if refusal is not None:
            self._refuse(refusal)
            return
        team = self.context_team
        assert team is not None
        answers = [a for _, a in self.store.team_answers(team.id)]
        outcome = aggregate(self.catalog.questions, answers)
        self.store.close_team(team.id, outcome.stage, outcome.to_dict(), self.turn.now)
        closed = self.store.team(team.id)
        assert closed is not None
        self.__dict__["context_team"] = closed
        in_place = closed.chat_id == self.row.chat_id
        if not closed.chat_id.startswith(NAMED_PLACE):
            self.replies.append(self._progress(closed, here=in_place))
        self.replies.extend(self._result_replies(closed))
        if not closed.chat_id.startswith(NAMED_PLACE) and not in_place:
            catalog = self.turn.catalogs.get(closed.lang, self.catalog)
            for reply in self._result_replies(closed, catalog, with_member=False):
                self.replies.append(replace(reply, to=closed.chat_id))

    def _result_replies(
        self, team: TeamRecord, catalog: Catalog | None = None, with_member: bool = True
    ) -> list[Reply]:
        """The team result, its change since the place's previous one, and the person against it.
        A team too small to show is neither compared with nor compared against."""
        catalog = catalog or self.catalog
        result = TeamResult.from_dict(team.result or {})
        earlier = [t for t in self.store.closed_teams_at(team.platform, team.chat_id, limit=5,
                                                         min_participants=MIN_VISIBLE) if t.id < team.id]
        previous = (earlier[0], TeamResult.from_dict(earlier[0].result or {})) if earlier else None
        replies = [render.team_result(catalog, team, result, previous)]
        if with_member and self.chat.private and result.visible:
            mine = self.store.finished_assessments(*self.who, limit=50)
            own = next((r for r in mine if r.team_id == team.id), None)
            compared = render.person_against_team(catalog, team, own.result, result) if own else None
            if compared is not None:
                replies.append(compared)
        return replies

    def _answering_for(self, team: TeamRecord) -> bool:
        assessment_id = self.row.assessment_id
        return assessment_id is not None and self.store.assessment_team(assessment_id) == team.id

    def answering_for_context_team(self) -> bool:
        team = self.context_team
        return team is not None and self._answering_for(team)

    def leave_or_explain(self) -> None:
        """`/team leave` of a team whose assessment is not on screen, or of none."""
        team = self.context_team
        if team is not None and self.store.is_member(team.id, self.row.user_id):
            self.leave()
        else:
            self.say("team_not_member")

    def leave(self) -> None:
        team = self.context_team
        assert team is not None
        self.store.remove_member(team.id, self.row.user_id, self.turn.now)
        if self._answering_for(team):
            assert self.row.assessment_id is not None
            self.store.discard_assessment(self.row.assessment_id)
            self.row.assessment_id, self.row.cursor = None, 0
        self.row.team_id = None
        self.say("team_left", name=team.name)
        if team.status == "open":
            self._announce(team)


def _as_code(text: str) -> str:
    """A typed join code as stored: capitals, without the spaces or dashes people add."""
    return "".join(c for c in text.upper() if c.isalnum())
