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

from transitions import EventData

from .. import render
from ..catalog import Catalog
from ..events import Reply
from ..model import ConversationBase
from ..store import TeamRecord
from ..teams import MIN_VISIBLE, TeamResult, aggregate

STATES: list[str] = []

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8  # 32**8 codes: at WRONG_CODES a WRONG_CODE_WINDOW, guessing one takes millennia
WRONG_CODES = 5
WRONG_CODE_WINDOW = timedelta(minutes=10)
INVITE_LIFE = timedelta(days=30)
NAMED_PLACE = "named:"

TRANSITIONS = [
    {"trigger": "team_new", "source": "*", "dest": None, "conditions": "in_group", "after": "start_team"},
    {"trigger": "team_new", "source": "*", "dest": "assessing",
     "conditions": "names_a_new_team", "after": ["start_team", "answer_for_team"]},
    {"trigger": "team_new", "source": "*", "dest": None, "after": ["explain_team_name", "reask"]},
    {"trigger": "team", "source": "*", "dest": None,
     "conditions": "in_group", "unless": "team_open_here", "after": "start_team"},
    {"trigger": "team", "source": "*", "dest": None, "after": ["show_team_status", "reask"]},
    {"trigger": "team_join", "source": "*", "dest": "assessing", "conditions": "can_join", "after": "join_team"},
    {"trigger": "team_join", "source": "*", "dest": None, "after": ["explain_join_refused", "reask"]},
    {"trigger": "team_status", "source": "*", "dest": None, "after": ["show_team_status", "reask"]},
    {"trigger": "team_close", "source": "*", "dest": None, "conditions": "may_close", "after": ["close_team", "reask"]},
    {"trigger": "team_close", "source": "*", "dest": None, "after": ["explain_close_refused", "reask"]},
    {"trigger": "team_leave", "source": ["assessing", "revisiting", "reviewing_skipped"], "dest": "idle",
     "conditions": "answering_for_context_team", "after": "leave_team"},
    {"trigger": "team_leave", "source": "*", "dest": None,
     "conditions": "in_context_team", "after": ["leave_team", "reask"]},
    {"trigger": "team_leave", "source": "*", "dest": None, "after": ["explain_not_in_team", "reask"]},
]


class TeamActions(ConversationBase):
    joining: TeamRecord | None = None

    # Which team a command means

    @cached_property
    def context_team(self) -> TeamRecord | None:
        """In a group, its newest team; in a private chat, the team joined or started last."""
        if not self.turn.event.private:
            teams = self.store.teams_at(self.row.platform, self.row.chat_id, limit=1)
            return teams[0] if teams else None
        return self.store.team(self.row.team_id) if self.row.team_id is not None else None

    def in_group(self, event: EventData) -> bool:
        return not self.turn.event.private

    def team_open_here(self, event: EventData) -> bool:
        return self.store.open_team_at(self.row.platform, self.row.chat_id) is not None

    def _team_name(self, event: EventData) -> str:
        return (event.kwargs.get("arg") or "").strip()[:60] or self.turn.event.chat_title or self.catalog.message(
            "team_default_name")

    def _place(self, name: str) -> str:
        return self.row.chat_id if not self.turn.event.private else NAMED_PLACE + name.casefold()

    def names_a_new_team(self, event: EventData) -> bool:
        name = (event.kwargs.get("arg") or "").strip()
        return bool(name) and self.store.open_team_at(self.row.platform, self._place(name[:60])) is None

    # Starting and joining

    def start_team(self, event: EventData) -> None:
        name = self._team_name(event)
        place = self._place(name)
        existing = self.store.open_team_at(self.row.platform, place)
        if existing is not None:
            self.say("team_exists", name=existing.name, code=existing.code)
            self.replies.append(self._progress(existing, here=True))
            return
        code = self._new_code()
        team_id = self.store.create_team(
            self.row.platform, self.turn.event.workspace or "", place, name, code, self.row.user_id,
            self.turn.lang, self.turn.now,
        )
        team = self.store.team(team_id)
        assert team is not None
        self.row.team_id, self.joining = team_id, team
        if self.turn.event.private:
            self.say("team_created", name=name, code=code)
        else:
            self.replies.append(self._progress(team, here=True))

    def _new_code(self) -> str:
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if not self.store.code_taken(self.row.platform, code):
                return code

    def invited(self, event: EventData) -> bool:
        """`/start <invite>` from a team's button: join that team, if the invite still holds.
        Any other start payload is ignored, and the person gets the welcome."""
        token = (event.kwargs.get("arg") or "").strip()
        if not token or not self.turn.event.private:
            return False
        team = self.store.invited_team(token, self.row.platform, self.turn.now)
        if team is None or team.status != "open" or team.workspace != (self.turn.event.workspace or ""):
            return False
        self.joining = team
        return True

    def _code_team(self, event: EventData) -> TeamRecord | None:
        code = _as_code(event.kwargs.get("arg") or "")
        if not code:
            return None
        return self.store.team_by_code(self.row.platform, self.turn.event.workspace or "", code)

    def _wrong_codes(self) -> list[str]:
        since = datetime.fromisoformat(self.turn.now) - WRONG_CODE_WINDOW
        return self.store.wrong_codes_since(self.row.platform, self.row.user_id, since.isoformat(timespec="seconds"))

    def can_join(self, event: EventData) -> bool:
        if not self.turn.event.private or len(self._wrong_codes()) >= WRONG_CODES:
            return False
        team = self._code_team(event)
        if team is None or team.status != "open":
            return False
        self.joining = team
        return True

    def explain_join_refused(self, event: EventData) -> None:
        code = _as_code(event.kwargs.get("arg") or "")
        wrong = self._wrong_codes()
        if not self.turn.event.private:
            self.say("team_join_in_private")
        elif len(wrong) >= WRONG_CODES:
            free_at = datetime.fromisoformat(wrong[-WRONG_CODES]) + WRONG_CODE_WINDOW
            wait = free_at - datetime.fromisoformat(self.turn.now)
            self.say("team_join_slow_down", count=max(1, math.ceil(wait.total_seconds() / 60)))
        elif not code:
            self.say("team_join_how")
        elif (team := self._code_team(event)) is None:
            self.store.record_wrong_code(self.row.platform, self.row.user_id, self.turn.now)
            self.store.prune_wrong_codes((datetime.fromisoformat(self.turn.now) - WRONG_CODE_WINDOW).isoformat())
            self.say("team_unknown_code", code=(event.kwargs.get("arg") or "").strip().upper()[:12])
        else:
            self.say("team_closed", name=team.name)

    def join_team(self, event: EventData) -> None:
        team = self.joining
        assert team is not None
        self.row.team_id = team.id
        self.answer_for_team(event)
        self._announce(team)

    def answer_for_team(self, event: EventData) -> None:
        """Puts the team's assessment on screen, keeping any other one for later."""
        team = self.joining
        assert team is not None
        self.store.add_member(team.id, self.row.platform, self.row.user_id, self.turn.now)
        current = self.row.assessment_id
        if current is None or self.store.assessment_team(current) != team.id:
            self.suspend_current()
            unfinished = self.store.unfinished_assessment(*self.who, team_id=team.id)
            if unfinished is None:
                self.begin_assessment(team.id)
            else:
                self.row.assessment_id, self.row.cursor = unfinished
        self.ask(event, intro=self.catalog.message("team_answer_intro", name=team.name))

    # Progress, closing, leaving

    def report_team_answer(self, team_id: int) -> None:
        team = self.store.team(team_id)
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

    def refresh_team_messages(self, team_ids: list[int]) -> None:
        for team_id in team_ids:
            team = self.store.team(team_id)
            if team is None or team.chat_id.startswith(NAMED_PLACE):
                continue
            if self.store.posted_message(team.platform, render.team_ref(team.id), team.chat_id) is not None:
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

    def show_team_status(self, event: EventData) -> None:
        team = self.context_team
        if team is None:
            self.say("team_none")
        elif team.status == "open":
            self.replies.append(self._progress(team, here=True))
        else:
            self.replies.extend(self._result_replies(team))

    def may_close(self, event: EventData) -> bool:
        team = self.context_team
        return (
            team is not None
            and team.status == "open"
            and (team.starter_id == self.row.user_id or self.turn.event.is_admin)
            and any(m.answered for m in self.store.members(team.id))
        )

    def explain_close_refused(self, event: EventData) -> None:
        team = self.context_team
        if team is None:
            self.say("team_none")
        elif team.status != "open":
            self.say("team_already_closed", name=team.name)
        elif team.starter_id != self.row.user_id and not self.turn.event.is_admin:
            self.say("team_close_not_allowed", name=team.name)
        else:
            self.say("team_close_empty", name=team.name)

    def close_team(self, event: EventData) -> None:
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
        if with_member and self.turn.event.private and result.visible:
            mine = self.store.finished_assessments(*self.who, limit=50)
            own = next((r for r in mine if r.team_id == team.id), None)
            compared = render.person_against_team(catalog, team, own.result, result) if own else None
            if compared is not None:
                replies.append(compared)
        return replies

    def answering_for_context_team(self, event: EventData) -> bool:
        team = self.context_team
        return (
            team is not None
            and self.row.assessment_id is not None
            and self.store.assessment_team(self.row.assessment_id) == team.id
        )

    def in_context_team(self, event: EventData) -> bool:
        team = self.context_team
        return team is not None and self.store.is_member(team.id, self.row.user_id)

    def leave_team(self, event: EventData) -> None:
        team = self.context_team
        assert team is not None
        self.store.remove_member(team.id, self.row.user_id, self.turn.now)
        if self.row.assessment_id is not None and self.store.assessment_team(self.row.assessment_id) == team.id:
            self.store.discard_assessment(self.row.assessment_id)
            self.row.assessment_id, self.row.cursor = None, 0
        self.row.team_id = None
        self.say("team_left", name=team.name)
        if team.status == "open":
            self._announce(team)

    def explain_not_in_team(self, event: EventData) -> None:
        self.say("team_not_member")

    def explain_team_name(self, event: EventData) -> None:
        name = (event.kwargs.get("arg") or "").strip()
        existing = self.store.open_team_at(self.row.platform, self._place(name[:60])) if name else None
        if existing is not None:
            self.say("team_exists", name=existing.name, code=existing.code)
        else:
            self.say("team_name_needed")


def _as_code(text: str) -> str:
    """A typed join code as stored: capitals, without the spaces or dashes people add."""
    return "".join(c for c in text.upper() if c.isalnum())
