"""The assessment flow: one question at a time, with back and skip, and a result at the end.

The quick check (bot/flows/coaching.py) asks its three questions the same way; `Questions`
puts either on screen and takes the answers.
"""
from __future__ import annotations

from .. import render
from ..catalog import Question
from ..coaching import QUICK_CHECK
from ..model import QUESTIONING, QUICK, Chat, Part, as_choice, hearing, saying
from ..scoring import score

STATES = ["assessing", "reviewing_skipped", "revisiting"]


def answering(state: str, done: str, finish: list[str], review: str | None = None) -> list[dict]:
    """How a state with a question on screen takes a message: first the usual one, an answer to
    a question that is not the last (the machine looks no further for most messages); then a
    stale button, anything that is not an option, an answer to the last question (which
    finishes, or first offers the skipped questions again when `review` names the state for
    that); and how it takes a skip of the last question."""
    rules: list[dict] = [
        {"trigger": "message", "source": state, "dest": None,
         "conditions": "questions.choice_is_valid", "unless": "questions.on_last_question",
         "before": "questions.record_choice", "after": ["questions.advance", "questions.ask"]},
        {"trigger": "message", "source": state, "dest": None,
         "conditions": "chat.stale", "after": "questions.explain_stale"},
        {"trigger": "message", "source": state, "dest": None,
         "unless": "questions.choice_is_valid", "after": ["questions.explain_choices", "questions.ask"]},
    ]
    if review:
        rules.append({"trigger": "message", "source": state, "dest": review,
                      "conditions": ["questions.on_last_question", "questions.others_unanswered"],
                      "before": "questions.record_choice", "after": "questions.offer_skipped"})
    rules.append({"trigger": "message", "source": state, "dest": done,
                  "conditions": "questions.on_last_question", "before": "questions.record_choice", "after": finish})
    if review:
        rules.append({"trigger": "skip", "source": state, "dest": review,
                      "conditions": ["questions.on_last_question", "questions.any_unanswered"],
                      "after": "questions.offer_skipped"})
    rules.append({"trigger": "skip", "source": state, "dest": done,
                  "conditions": "questions.on_last_question", "after": finish})
    return rules


FINISH = ["questions.finish", "team.report_answer"]

TRANSITIONS = [
    # A result still on its way (held back by a platform's flood limits) is shown, not replaced
    # by a new, empty assessment: the person who typed /assess had not seen it yet.
    {"trigger": "assess", "source": "idle", "dest": None,
     "conditions": "questions.result_on_its_way", "after": "menu.show_result"},
    {"trigger": "assess", "source": "reviewing_skipped", "dest": "revisiting", "after": "questions.revisit_skipped"},
    {"trigger": "assess", "source": "*", "dest": "assessing", "after": "questions.begin_or_resume"},
    {"trigger": "restart", "source": "*", "dest": "assessing", "after": "questions.begin_new"},
    *answering("assessing", done="idle", finish=FINISH, review="reviewing_skipped"),
    *answering("revisiting", done="idle", finish=FINISH),
    {"trigger": "skip", "source": list(QUESTIONING), "dest": None,
     "unless": "questions.on_last_question", "after": ["questions.advance", "questions.ask"]},
    {"trigger": "back", "source": list(QUESTIONING), "dest": None,
     "conditions": "questions.on_first_question", "after": ["questions.explain_first", "questions.ask"]},
    {"trigger": "back", "source": list(QUESTIONING), "dest": None,
     "after": ["questions.step_back", "questions.ask"]},
    # Skipped questions come back before the result: answer them now, or see the result.
    {"trigger": "message", "source": "reviewing_skipped", "dest": "revisiting",
     "conditions": "questions.says_yes", "after": "questions.revisit_skipped"},
    {"trigger": "message", "source": "reviewing_skipped", "dest": "idle",
     "conditions": "questions.says_no", "after": FINISH},
    {"trigger": "message", "source": "reviewing_skipped", "dest": None, "after": "questions.offer_skipped"},
    {"trigger": "result", "source": "reviewing_skipped", "dest": "idle", "after": FINISH},
    {"trigger": "back", "source": "reviewing_skipped", "dest": "assessing", "after": "questions.ask"},
]


class Questions(Part):
    """The question on screen (the assessment's, or the quick check's) and the answers to it."""

    def __init__(self, chat: Chat) -> None:
        super().__init__(chat)
        self.finished: int | None = None  # the assessment this event finished
        self._read: tuple[int, dict[str, int]] | None = None  # see answers

    # What the person sent

    def read(self, text: str, payload: str | None) -> None:
        """Turns typed text or a button payload into a choice (0-6) or flags a stale button."""
        self.chat.text = text.strip()
        if payload and payload.startswith("q:"):
            scope, _, rest = payload[2:].partition(":")
            question_id, _, value = rest.rpartition(":")
            if self.row.state not in QUESTIONING or scope != self.scope() or question_id != self.current().id:
                self.chat.stale = True
                return
            self.chat.choice = as_choice(value)
        elif payload:
            self.chat.text = payload.strip()
            self.chat.choice = as_choice(self.chat.text)
        else:
            self.chat.choice = as_choice(self.chat.text)

    def choice_is_valid(self) -> bool:
        return self.chat.choice is not None

    says_yes = hearing("yes_words")
    says_no = hearing("no_words")

    # Which question

    @property
    def questions(self) -> tuple[Question, ...]:
        catalog = self.catalog
        if self.row.state == "quick_checking":
            return tuple(catalog.question(q) for q in QUICK_CHECK)
        return catalog.questions

    def scope(self) -> str:
        return QUICK if self.row.state == "quick_checking" else str(self.row.assessment_id)

    def current(self) -> Question:
        questions = self.questions
        return questions[min(self.row.cursor, len(questions) - 1)]

    def on_first_question(self) -> bool:
        return self.row.cursor == 0

    def on_last_question(self) -> bool:
        return self._following() is None

    def _following(self) -> int | None:
        """The question after the one on screen: the next one, or when revisiting skipped
        questions the next one still unanswered."""
        if self.row.state == "revisiting":
            return next((i for i in self._unanswered() if i > self.row.cursor), None)
        following = self.row.cursor + 1
        return following if following < len(self.questions) else None

    def answers(self) -> dict[str, int]:
        """The open assessment's answers, read once per event (the last answer asks for them
        twice: are others unanswered, and the score) and kept up to date by record_choice."""
        assessment_id = self.row.assessment_id
        assert assessment_id is not None
        if self._read is None or self._read[0] != assessment_id:
            self._read = assessment_id, self.store.answers(assessment_id)
        return self._read[1]

    def _unanswered(self) -> list[int]:
        answered = self.answers()
        return [i for i, q in enumerate(self.catalog.questions) if q.id not in answered]

    def any_unanswered(self) -> bool:
        return bool(self._unanswered())

    def others_unanswered(self) -> bool:
        return any(i != self.row.cursor for i in self._unanswered())

    def result_on_its_way(self) -> bool:
        seen = self.store.stored_event(self.row.last_key) if self.row.last_key is not None else None
        return seen is not None and any(r.get("kind") == "result" for r in seen.replies)  # none once delivered

    # Putting it on screen

    def ask(self, intro: str = "") -> None:
        question = self.current()
        if self.row.state == "quick_checking":
            previous = quick_values(self.row.quick)[self.row.cursor] or None
        else:
            assert self.row.assessment_id is not None
            previous = self.store.answer(self.row.assessment_id, question.id)
        self.replies.append(
            render.question(self.catalog, self.questions, self.scope(), self.row.cursor, previous, intro))

    def offer_skipped(self) -> None:
        self.replies.append(render.skipped_prompt(self.catalog, len(self._unanswered())))

    def revisit_skipped(self) -> None:
        self.row.cursor = next(iter(self._unanswered()), self.row.cursor)
        self.ask()

    def explain_stale(self) -> None:
        """A tap on an answered question: a double tap needs only a word; but if our reply to
        the answer never reached them (a crash), they need the question they are at."""
        self.notice("stale_choice", number=self.row.cursor + 1)
        if self.row.last_key is not None and not self.turn.settled(self.row.last_key):
            self.ask()

    explain_choices = saying("invalid_choice")
    explain_first = saying("first_question")
    explain_not_assessing = saying("not_assessing")

    # Answers and moving on

    def record_choice(self) -> None:
        assert self.chat.choice is not None
        if self.row.state == "quick_checking":
            values = quick_values(self.row.quick)
            values[self.row.cursor] = self.chat.choice
            self.row.quick = "".join(map(str, values))
            return
        assert self.row.assessment_id is not None
        question_id = self.current().id
        self.store.record_answer(self.row.assessment_id, question_id, self.chat.choice, self.turn.now)
        if self._read is not None and self._read[0] == self.row.assessment_id:
            self._read[1][question_id] = self.chat.choice

    def advance(self) -> None:
        following = self._following()
        assert following is not None
        self.row.cursor = following

    def step_back(self) -> None:
        self.row.cursor -= 1

    # Beginning, keeping for later, finishing

    def begin_or_resume(self) -> None:
        """Carries on with the assessment on screen, or a suspended own one, or begins anew."""
        if self.row.assessment_id is None:
            suspended = self.store.unfinished_assessment(*self.who, team_id=None)
            if suspended is None:
                self.begin_new()
                return
            self.row.assessment_id, self.row.cursor = suspended
        total = len(self.catalog.questions)
        self.ask(intro=self.catalog.message("resumed", number=self.row.cursor + 1, total=total))

    def begin_new(self) -> None:
        """A fresh assessment in place of the one on screen (for the same team, if any)."""
        team_id = None
        if self.row.assessment_id is not None:
            team_id = self.store.assessment_team(self.row.assessment_id)
            self.store.discard_assessment(self.row.assessment_id)
            self.row.assessment_id = None
        self.begin(team_id)
        self.ask(intro=self.catalog.message("assessment_intro", total=len(self.catalog.questions)))

    def begin(self, team_id: int | None) -> None:
        """Starts a new assessment, keeping an unfinished one for later."""
        self.suspend()
        self.row.assessment_id = self.store.start_assessment(*self.who, self.turn.now, team_id=team_id)
        self.row.cursor = 0

    def suspend(self) -> None:
        """Keeps the open assessment for later and takes it off screen."""
        if self.row.assessment_id is not None:
            self.store.suspend_assessment(self.row.assessment_id, self.row.cursor)
            self.row.assessment_id, self.row.cursor = None, 0

    def finish(self) -> None:
        assessment_id = self.row.assessment_id
        assert assessment_id is not None
        previous = self.store.finished_assessments(*self.who, limit=1)
        outcome = score(self.catalog.questions, self.answers())
        self.store.finish_assessment(assessment_id, outcome.stage, outcome.to_dict(), self.turn.now)
        self.row.assessment_id, self.row.cursor = None, 0
        self.row.coach_stage, self.row.coach_focus = None, ""
        self.finished = assessment_id
        self.replies.append(render.result(self.catalog, outcome, self.turn.now, previous[0] if previous else None))


def quick_values(quick: str) -> list[int]:
    padded = quick.ljust(len(QUICK_CHECK), "0")
    return [as_choice(c) or 0 for c in padded]
