"""The team flow: start a team assessment, join it, answer privately, see who answered, close it.

A team belongs to the place where it was started: a group or channel, or in a private chat a
named team. Members answer the normal assessment in their private chat; the team sees who has
answered, never what. People join by the team's invite button (a link that carries an opaque,
expiring invite) or by its code, which holds only in the workspace where the team was started;
a person who types wrong codes is slowed down, so that codes cannot be guessed.
"""
from __future__ import annotations

import math
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cached_property

from .. import render
from ..catalog import Catalog
from ..events import Reply
from ..model import Chat
from ..store import TeamRecord
from ..teams import MIN_VISIBLE, TeamResult, aggregate
from .assessment import Questions

STATES: list[str] = []  # a team is joined into the assessment's states

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8  # 32**8 codes: at WRONG_CODES a WRONG_CODE_WINDOW, guessing one takes millennia
WRONG_CODES = 5
WRONG_CODE_WINDOW = timedelta(minutes=10)
INVITE_LIFE = timedelta(days=30)
NAMED_PLACE = "named:"

TRANSITIONS = [
    # Joining puts the team's assessment on screen; a refused join says why (see `join_refusal`).
    {"trigger": "team_join", "source": "*", "dest": "assessing", "conditions": "team.can_join",
     "after": "team.join_by_code"},
    # A named team started in a private chat is answered at once; one started in a group is not.
    {"trigger": "team_new", "source": "*", "dest": "assessing", "conditions": "team.names_a_new_team",
     "unless": "team.in_group", "after": ["team.start", "team.answer_started"]},
    # Leaving the team whose assessment is on screen ends that assessment.
    {"trigger": "team_leave", "source": ["assessing", "revisiting", "reviewing_skipped"], "dest": "idle",
     "conditions": "team.answering_for_context_team", "after": "team.leave"},
]

Refusal = tuple[str, dict[str, object]]  # a message id and its values


class Team:
    """Team assessments: starting, joining, answering for, seeing, closing and leaving one."""

    def __init__(self, chat: Chat, questions: Questions) -> None:
        self.chat = chat
        self.questions = questions
        self.started: TeamRecord | None = None

    # Which team a command means

    @cached_property
    def context_team(self) -> TeamRecord | None:
        """In a group, its newest team; in a private chat, the team joined or started last."""
        chat = self.chat
        if not chat.private:
            teams = chat.store.teams_at(chat.row.platform, chat.row.chat_id, limit=1)
            return teams[0] if teams else None
        return chat.store.team(chat.row.team_id) if chat.row.team_id is not None else None

    def in_group(self) -> bool:
        return not self.chat.private

    def _open_team_at(self, place: str) -> TeamRecord | None:
        return self.chat.store.open_team_at(self.chat.row.platform, place)

    def _team_name(self) -> str:
        chat = self.chat
        return chat.arg.strip()[:60] or chat.turn.event.chat_title or chat.catalog.message("team_default_name")

    def _place(self, name: str) -> str:
        return self.chat.row.chat_id if not self.chat.private else NAMED_PLACE + name.casefold()

    def names_a_new_team(self) -> bool:
        name = self.chat.arg.strip()
        return bool(name) and self._open_team_at(self._place(name[:60])) is None

    # Starting

    def team(self) -> None:
        """`/team`: in a group without an open team, start one; else show the team's state."""
        if self.in_group() and self._open_team_at(self.chat.row.chat_id) is None:
            self.start()
        else:
            self.status()
            self.chat.reask()

    def new_here_or_explain(self) -> None:
        """`/team new` in a group starts the group's team; in a private chat it needs a new name."""
        if self.in_group():
            self.start()
            return
        name = self.chat.arg.strip()
        existing = self._open_team_at(self._place(name[:60])) if name else None
        if existing is not None:
            self.chat.say("team_exists", name=existing.name, code=existing.code)
        else:
            self.chat.say("team_name_needed")
        self.chat.reask()

    def start(self) -> None:
        chat = self.chat
        name = self._team_name()
        place = self._place(name)
        existing = self._open_team_at(place)
        if existing is not None:
            chat.say("team_exists", name=existing.name, code=existing.code)
            chat.replies.append(self._progress(existing, here=True))
            return
        code = self._new_code()
        team_id = chat.store.create_team(
            chat.row.platform, chat.turn.event.workspace or "", place, name, code, chat.row.user_id,
            chat.turn.lang, chat.turn.now,
        )
        team = chat.store.team(team_id)
        assert team is not None
        chat.row.team_id, self.started = team_id, team
        if chat.private:
            chat.say("team_created", name=name, code=code)
        else:
            chat.replies.append(self._progress(team, here=True))

    def _new_code(self) -> str:
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if not self.chat.store.code_taken(self.chat.row.platform, code):
                return code

    # Joining

    @cached_property
    def invited_team(self) -> TeamRecord | None:
        """The open team that `/start <invite>` from a team's button names, if the invite still
        holds (in a private chat, in the team's workspace)."""
        chat = self.chat
        token = chat.arg.strip()
        if not token or not chat.private:
            return None
        team = chat.store.invited_team(token, chat.row.platform, chat.turn.now)
        if team is None or team.status != "open" or team.workspace != (chat.turn.event.workspace or ""):
            return None
        return team

    def invited(self) -> bool:
        """Any other start payload is ignored, and the person gets the welcome."""
        return self.invited_team is not None

    @cached_property
    def code_team(self) -> TeamRecord | None:
        code = _as_code(self.chat.arg)
        if not code:
            return None
        return self.chat.store.team_by_code(self.chat.row.platform, self.chat.turn.event.workspace or "", code)

    @cached_property
    def wrong_codes(self) -> list[str]:
        chat = self.chat
        since = datetime.fromisoformat(chat.turn.now) - WRONG_CODE_WINDOW
        return chat.store.wrong_codes_since(chat.row.platform, chat.row.user_id, since.isoformat(timespec="seconds"))

    @cached_property
    def join_refusal(self) -> Refusal | None:
        """Why `/team join CODE` cannot join a team, or None when it can."""
        chat = self.chat
        if not chat.private:
            return "team_join_in_private", {}
        if len(self.wrong_codes) >= WRONG_CODES:
            free_at = datetime.fromisoformat(self.wrong_codes[-WRONG_CODES]) + WRONG_CODE_WINDOW
            wait = free_at - datetime.fromisoformat(chat.turn.now)
            return "team_join_slow_down", {"count": max(1, math.ceil(wait.total_seconds() / 60))}
        if not _as_code(chat.arg):
            return "team_join_how", {}
        team = self.code_team
        if team is None:
            return "team_unknown_code", {"code": chat.arg.strip().upper()[:12]}
        if team.status != "open":
            return "team_closed", {"name": team.name}
        return None

    def can_join(self) -> bool:
        return self.join_refusal is None

    def explain_join_refused(self) -> None:
        """Says why a join was refused; a wrong code counts towards slowing its typist down."""
        assert self.join_refusal is not None
        key, values = self.join_refusal
        chat = self.chat
        if key == "team_unknown_code":
            chat.store.record_wrong_code(chat.row.platform, chat.row.user_id, chat.turn.now)
            chat.store.prune_wrong_codes((datetime.fromisoformat(chat.turn.now) - WRONG_CODE_WINDOW).isoformat())
        self._refuse((key, values))

    def _refuse(self, refusal: Refusal) -> None:
        key, values = refusal
        self.chat.replies.append(Reply(self.chat.catalog.message(key, **values)))

    def join(self) -> None:
        assert self.invited_team is not None
        self._join(self.invited_team)

    def join_by_code(self) -> None:
        assert self.code_team is not None
        self._join(self.code_team)

    def _join(self, team: TeamRecord) -> None:
        self.chat.row.team_id = team.id
        self._answer_for(team)
        self._announce(team)

    def answer_started(self) -> None:
        assert self.started is not None
        self._answer_for(self.started)

    def _answer_for(self, team: TeamRecord) -> None:
        """Puts the team's assessment on screen, keeping any other one for later."""
        chat, row = self.chat, self.chat.row
        chat.store.add_member(team.id, row.platform, row.user_id, chat.turn.now)
        current = row.assessment_id
        if current is None or chat.store.assessment_team(current) != team.id:
            self.questions.suspend()
            unfinished = chat.store.unfinished_assessment(*chat.who, team_id=team.id)
            if unfinished is None:
                self.questions.begin(team.id)
            else:
                row.assessment_id, row.cursor = unfinished
        self.questions.ask(intro=chat.catalog.message("team_answer_intro", name=team.name))

    # Progress, closing, leaving

    def report_answer(self) -> None:
        """After an assessment for a team: the person, and the team's place, hear that it counted."""
        finished = self.questions.finished
        team_id = self.chat.store.assessment_team(finished) if finished is not None else None
        team = self.chat.store.team(team_id) if team_id is not None else None
        if team is None:
            return
        if team.status != "open":
            self.chat.say("team_closed_late", name=team.name)
            return
        self.chat.say("team_answer_counted", name=team.name)
        self._announce(team)

    def _announce(self, team: TeamRecord) -> None:
        """Updates the team's progress message in its group, if it has one."""
        if not team.chat_id.startswith(NAMED_PLACE) and team.chat_id != self.chat.row.chat_id:
            self.chat.replies.append(self._progress(team, here=False))

    def refresh_messages(self, team_ids: list[int]) -> None:
        """Updates the progress messages of teams in their groups, where posted."""
        store = self.chat.store
        for team_id in team_ids:
            team = store.team(team_id)
            if team is None or team.chat_id.startswith(NAMED_PLACE):
                continue
            if store.posted_message(team.platform, render.team_ref(team.id), team.chat_id) is not None:
                self.chat.replies.append(self._progress(team, here=False))

    def _progress(self, team: TeamRecord, here: bool) -> Reply:
        catalog = self.chat.turn.catalogs.get(team.lang, self.chat.catalog)
        invite = self._invite(team) if team.status == "open" else None
        reply = render.team_progress(catalog, team, self.chat.store.members(team.id), invite)
        return reply if here else replace(reply, to=team.chat_id)

    def _invite(self, team: TeamRecord) -> str:
        """An invite that holds at least a week more, made anew when the last one runs out."""
        chat = self.chat
        now = datetime.fromisoformat(chat.turn.now)
        token = chat.store.invite_for(team.id, (now + timedelta(days=7)).isoformat(timespec="seconds"))
        if token is None:
            token = secrets.token_urlsafe(16)
            chat.store.create_invite(token, team.id, chat.turn.now, (now + INVITE_LIFE).isoformat(timespec="seconds"))
        return token

    def status(self) -> None:
        team = self.context_team
        if team is None:
            self.chat.say("team_none")
        elif team.status == "open":
            self.chat.replies.append(self._progress(team, here=True))
        else:
            self.chat.replies.extend(self._result_replies(team))

    def close_refusal(self) -> Refusal | None:
        """Why `/team close` cannot close the team meant, or None when it can."""
        chat, team = self.chat, self.context_team
        if team is None:
            return "team_none", {}
        if team.status != "open":
            return "team_already_closed", {"name": team.name}
        if team.starter_id != chat.row.user_id and not chat.turn.event.is_admin:
            return "team_close_not_allowed", {"name": team.name}
        if not any(m.answered for m in chat.store.members(team.id)):
            return "team_close_empty", {"name": team.name}
        return None

    def close(self) -> None:
        """Closes the team meant, if its starter (or an admin) asks and someone answered."""
        refusal = self.close_refusal()
        if refusal is not None:
            self._refuse(refusal)
            return
        chat, team = self.chat, self.context_team
        assert team is not None
        answers = [a for _, a in chat.store.team_answers(team.id)]
        outcome = aggregate(chat.catalog.questions, answers)
        chat.store.close_team(team.id, outcome.stage, outcome.to_dict(), chat.turn.now)
        closed = chat.store.team(team.id)
        assert closed is not None
        self.__dict__["context_team"] = closed
        in_place = closed.chat_id == chat.row.chat_id
        if not closed.chat_id.startswith(NAMED_PLACE):
            chat.replies.append(self._progress(closed, here=in_place))
        chat.replies.extend(self._result_replies(closed))
        if not closed.chat_id.startswith(NAMED_PLACE) and not in_place:
            catalog = chat.turn.catalogs.get(closed.lang, chat.catalog)
            for reply in self._result_replies(closed, catalog, with_member=False):
                chat.replies.append(replace(reply, to=closed.chat_id))

    def _result_replies(
        self, team: TeamRecord, catalog: Catalog | None = None, with_member: bool = True
    ) -> list[Reply]:
        """The team result, its change since the place's previous one, and the person against it.
        A team too small to show is neither compared with nor compared against."""
        chat = self.chat
        catalog = catalog or chat.catalog
        result = TeamResult.from_dict(team.result or {})
        earlier = [t for t in chat.store.closed_teams_at(team.platform, team.chat_id, limit=5,
                                                         min_participants=MIN_VISIBLE) if t.id < team.id]
        previous = (earlier[0], TeamResult.from_dict(earlier[0].result or {})) if earlier else None
        replies = [render.team_result(catalog, team, result, previous)]
        if with_member and chat.private and result.visible:
            mine = chat.store.finished_assessments(*chat.who, limit=50)
            own = next((r for r in mine if r.team_id == team.id), None)
            compared = render.person_against_team(catalog, team, own.result, result) if own else None
            if compared is not None:
                replies.append(compared)
        return replies

    def _answering_for(self, team: TeamRecord) -> bool:
        assessment_id = self.chat.row.assessment_id
        return assessment_id is not None and self.chat.store.assessment_team(assessment_id) == team.id

    def answering_for_context_team(self) -> bool:
        team = self.context_team
        return team is not None and self._answering_for(team)

    def leave_or_explain(self) -> None:
        """`/team leave` of a team whose assessment is not on screen, or of none."""
        team = self.context_team
        if team is not None and self.chat.store.is_member(team.id, self.chat.row.user_id):
            self.leave()
        else:
            self.chat.say("team_not_member")

    def leave(self) -> None:
        chat, team = self.chat, self.context_team
        assert team is not None
        chat.store.remove_member(team.id, chat.row.user_id, chat.turn.now)
        if self._answering_for(team):
            assert chat.row.assessment_id is not None
            chat.store.discard_assessment(chat.row.assessment_id)
            chat.row.assessment_id, chat.row.cursor = None, 0
        chat.row.team_id = None
        chat.say("team_left", name=team.name)
        if team.status == "open":
            self._announce(team)


def _as_code(text: str) -> str:
    """A typed join code as stored: capitals, without the spaces or dashes people add."""
    return "".join(c for c in text.upper() if c.isalnum())
