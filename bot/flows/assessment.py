"""The assessment flow: one question at a time, with back and skip, and a result at the end."""
from __future__ import annotations

from transitions import EventData

from .. import render
from ..catalog import Question
from ..coaching import QUICK_CHECK
from ..model import QUESTIONING, ConversationBase, as_choice
from ..scoring import Result, score

STATES = ["assessing", "reviewing_skipped", "revisiting"]


def answering(state: str, done: str, finish: list[str], review: str | None = None) -> list[dict]:
    """How a state with a question on screen takes a message: a stale button, then anything that
    is not an option, then an answer to the last question (which finishes, or first offers the
    skipped questions again when `review` names the state for that), then any answer."""
    rules: list[dict] = [
        {"trigger": "message", "source": state, "dest": None,
         "conditions": "choice_is_stale", "after": "explain_stale"},
        {"trigger": "message", "source": state, "dest": None,
         "unless": "choice_is_valid", "after": ["explain_choices", "ask"]},
    ]
    if review:
        rules.append({"trigger": "message", "source": state, "dest": review,
                      "conditions": ["on_last_question", "others_unanswered"], "before": "record_choice",
                      "after": "offer_skipped"})
    rules += [
        {"trigger": "message", "source": state, "dest": done,
         "conditions": "on_last_question", "before": "record_choice", "after": finish},
        {"trigger": "message", "source": state, "dest": None,
         "before": "record_choice", "after": ["advance", "ask"]},
    ]
    if review:
        rules.append({"trigger": "skip", "source": state, "dest": review,
                      "conditions": ["on_last_question", "any_unanswered"], "after": "offer_skipped"})
    rules.append({"trigger": "skip", "source": state, "dest": done, "conditions": "on_last_question", "after": finish})
    return rules


TRANSITIONS = [
    # Skipped questions come back before the result: answer them now, or see the result.
    {"trigger": "assess", "source": "reviewing_skipped", "dest": "revisiting", "after": "revisit_skipped"},
    {"trigger": "result", "source": "reviewing_skipped", "dest": "idle", "after": "finish"},
    {"trigger": "back", "source": "reviewing_skipped", "dest": "assessing", "after": "ask"},
    {"trigger": "message", "source": "reviewing_skipped", "dest": "revisiting",
     "conditions": "says_yes", "after": "revisit_skipped"},
    {"trigger": "message", "source": "reviewing_skipped", "dest": "idle", "conditions": "says_no", "after": "finish"},
    {"trigger": "message", "source": "reviewing_skipped", "dest": None, "after": "offer_skipped"},
    # A result still on its way (held back by a platform's flood limits) is shown, not replaced
    # by a new, empty assessment: the person who typed /assess had not seen it yet.
    {"trigger": "assess", "source": "idle", "dest": None, "conditions": "result_on_its_way", "after": "show_result"},
    {"trigger": "assess", "source": "*", "dest": "assessing", "after": "begin_or_resume"},
    {"trigger": "restart", "source": "*", "dest": "assessing", "after": "begin_new"},
    *answering("assessing", done="idle", finish=["finish"], review="reviewing_skipped"),
    *answering("revisiting", done="idle", finish=["finish"]),
    {"trigger": "skip", "source": list(QUESTIONING), "dest": None,
     "unless": "on_last_question", "after": ["advance", "ask"]},
    {"trigger": "back", "source": list(QUESTIONING), "dest": None,
     "conditions": "on_first_question", "after": ["explain_first", "ask"]},
    {"trigger": "back", "source": list(QUESTIONING), "dest": None, "after": ["step_back", "ask"]},
    # Anywhere else there is nothing to go back to or skip.
    {"trigger": "back", "source": "*", "dest": None, "after": ["explain_not_assessing", "reask"]},
    {"trigger": "skip", "source": "*", "dest": None, "after": ["explain_not_assessing", "reask"]},
]


class AssessmentActions(ConversationBase):
    @property
    def questions(self) -> tuple[Question, ...]:
        if self.state == "quick_checking":
            return tuple(self.catalog.question(q) for q in QUICK_CHECK)
        return self.catalog.questions

    def choice_is_valid(self, event: EventData) -> bool:
        return self.choice is not None

    def on_first_question(self, event: EventData) -> bool:
        return self.row.cursor == 0

    def on_last_question(self, event: EventData) -> bool:
        return self._following() is None

    def _following(self) -> int | None:
        """The question after the one on screen: the next one, or when revisiting skipped
        questions the next one still unanswered."""
        if self.state == "revisiting":
            return next((i for i in self._unanswered() if i > self.row.cursor), None)
        following = self.row.cursor + 1
        return following if following < len(self.questions) else None

    def _unanswered(self) -> list[int]:
        assert self.row.assessment_id is not None
        answered = self.store.answers(self.row.assessment_id)
        return [i for i, q in enumerate(self.catalog.questions) if q.id not in answered]

    def any_unanswered(self, event: EventData) -> bool:
        return bool(self._unanswered())

    def others_unanswered(self, event: EventData) -> bool:
        return any(i != self.row.cursor for i in self._unanswered())

    def offer_skipped(self, event: EventData) -> None:
        self.replies.append(render.skipped_prompt(self.catalog, len(self._unanswered())))

    def revisit_skipped(self, event: EventData) -> None:
        self.row.cursor = next(iter(self._unanswered()), self.row.cursor)
        self.ask(event)

    def ask(self, event: EventData, intro: str = "") -> None:
        question = self.current_question()
        if self.state == "quick_checking":
            previous = quick_values(self.row.quick)[self.row.cursor] or None
        else:
            assert self.row.assessment_id is not None
            previous = self.store.answer(self.row.assessment_id, question.id)
        self.replies.append(
            render.question(self.catalog, self.questions, self.scope(), self.row.cursor, previous, intro)
        )

    def explain_choices(self, event: EventData) -> None:
        self.say("invalid_choice")

    def explain_stale(self, event: EventData) -> None:
        """A tap on an answered question: a double tap needs only a word; but if our reply to
        the answer never reached them (a crash), they need the question they are at."""
        self.notice("stale_choice", number=self.row.cursor + 1)
        if not self.turn.seen_by_person(self.row.last_key):
            self.ask(event)

    def result_on_its_way(self, event: EventData) -> bool:
        key = self.row.last_key
        if key is None or self.turn.delivered(key):
            return False
        return any(r.get("kind") == "result" for r in self.store.replies_for_event(key) or [])

    def explain_first(self, event: EventData) -> None:
        self.say("first_question")

    def explain_not_assessing(self, event: EventData) -> None:
        self.say("not_assessing")

    def record_choice(self, event: EventData) -> None:
        assert self.choice is not None
        if self.state == "quick_checking":
            values = quick_values(self.row.quick)
            values[self.row.cursor] = self.choice
            self.row.quick = "".join(map(str, values))
            return
        assert self.row.assessment_id is not None
        self.store.record_answer(self.row.assessment_id, self.current_question().id, self.choice, self.turn.now)

    def advance(self, event: EventData) -> None:
        following = self._following()
        assert following is not None
        self.row.cursor = following

    def step_back(self, event: EventData) -> None:
        self.row.cursor -= 1

    def begin_or_resume(self, event: EventData) -> None:
        """Carries on with the assessment on screen, or a suspended own one, or begins anew."""
        if self.row.assessment_id is None:
            suspended = self.store.unfinished_assessment(*self.who, team_id=None)
            if suspended is None:
                self.begin_new(event)
                return
            self.row.assessment_id, self.row.cursor = suspended
        total = len(self.catalog.questions)
        self.ask(event, intro=self.catalog.message("resumed", number=self.row.cursor + 1, total=total))

    def begin_new(self, event: EventData) -> None:
        """A fresh assessment in place of the one on screen (for the same team, if any)."""
        team_id = None
        if self.row.assessment_id is not None:
            team_id = self.store.assessment_team(self.row.assessment_id)
            self.store.discard_assessment(self.row.assessment_id)
            self.row.assessment_id = None
        self.begin_assessment(team_id)
        self.ask(event, intro=self.catalog.message("assessment_intro", total=len(self.catalog.questions)))

    def begin_assessment(self, team_id: int | None) -> None:
        self.suspend_current()
        self.row.assessment_id = self.store.start_assessment(*self.who, self.turn.now, team_id=team_id)
        self.row.cursor = 0

    def suspend_current(self) -> None:
        if self.row.assessment_id is not None:
            self.store.suspend_assessment(self.row.assessment_id, self.row.cursor)
            self.row.assessment_id, self.row.cursor = None, 0

    def finish(self, event: EventData) -> None:
        assessment_id = self.row.assessment_id
        assert assessment_id is not None
        previous = self.store.finished_assessments(*self.who, limit=1)
        outcome = score(self.catalog.questions, self.store.answers(assessment_id))
        self.store.finish_assessment(assessment_id, outcome.stage, outcome.to_dict(), self.turn.now)
        self.row.assessment_id, self.row.cursor = None, 0
        self.row.coach_stage, self.row.coach_focus = None, ""
        before = previous[0] if previous else None
        self.replies.append(
            render.result(
                self.catalog,
                outcome,
                self.turn.now,
                Result.from_dict(before.result) if before else None,
                before.finished_at if before else None,
            )
        )
        team_id = self.store.assessment_team(assessment_id)
        if team_id is not None:
            self.report_team_answer(team_id)


def quick_values(quick: str) -> list[int]:
    padded = quick.ljust(len(QUICK_CHECK), "0")
    return [as_choice(c) or 0 for c in padded]
