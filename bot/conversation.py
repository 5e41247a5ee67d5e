"""The model the flow machine acts on: one person's conversation in one chat, for one event.

It is built per event from its stored row and discarded after; all it keeps is in that row and
in the store, written inside the event's transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from transitions import EventData

from . import render
from .events import Reply
from .catalog import STAGE_COUNT, Catalog
from .scoring import DONT_KNOW, Result, score
from .store import ConversationRow, Store


@dataclass
class Turn:
    """What one event may use: the store, the person's language, the clock reading."""

    store: Store
    catalogs: dict[str, Catalog]
    lang: str
    now: str

    @property
    def catalog(self) -> Catalog:
        return self.catalogs[self.lang]


@dataclass
class Conversation:
    row: ConversationRow
    turn: Turn
    replies: list[Reply] = field(default_factory=list)
    text: str = ""
    choice: int | None = None
    stale: bool = False

    # transitions reads and writes the model's state through this attribute.
    @property
    def state(self) -> str:
        return self.row.state

    @state.setter
    def state(self, value: str) -> None:
        self.row.state = value

    @property
    def catalog(self) -> Catalog:
        return self.turn.catalog

    def say(self, key: str, **values: object) -> None:
        self.replies.append(Reply(self.catalog.message(key, **values)))

    # Input

    def read_input(self, event: EventData) -> None:
        """Turns typed text or a button payload into a choice (0-6) or flags a stale button."""
        self.text = (event.kwargs.get("text") or "").strip()
        payload = event.kwargs.get("choice")
        self.choice, self.stale = None, False
        if payload and payload.startswith("q:"):
            _, assessment_id, question_id, value = (payload.split(":", 3) + ["", "", ""])[:4]
            current = self._current_question_id()
            if assessment_id != str(self.row.assessment_id) or question_id != current:
                self.stale = True
                return
            self.choice = _as_choice(value)
        elif payload:
            self.text = payload.strip()
            self.choice = _as_choice(self.text)
        else:
            self.choice = _as_choice(self.text)

    def choice_is_stale(self, event: EventData) -> bool:
        return self.stale

    def choice_is_valid(self, event: EventData) -> bool:
        return self.choice is not None

    def says_yes(self, event: EventData) -> bool:
        return self.text.casefold() in self.catalog.message("yes_words").split()

    def says_no(self, event: EventData) -> bool:
        return self.text.casefold() in self.catalog.message("no_words").split()

    # Menu

    def welcome(self, event: EventData) -> None:
        self.say("welcome", total=len(self.catalog.questions))
        if self.row.assessment_id is not None and self.state == "idle":
            self.say("welcome_resume", number=self.row.cursor + 1, total=len(self.catalog.questions))

    def show_help(self, event: EventData) -> None:
        self.say("help")

    def explain_idle(self, event: EventData) -> None:
        self.say("idle_hint")

    def explain_unknown(self, event: EventData) -> None:
        self.say("unknown_command", command=event.kwargs.get("command", ""))

    def change_language(self, event: EventData) -> None:
        wanted = (event.kwargs.get("arg") or "").strip().casefold()
        catalogs = self.turn.catalogs
        if wanted in catalogs:
            self.turn.store.set_user_lang(self.row.platform, self.row.user_id, wanted, self.turn.now)
            self.turn.lang = wanted
            self.say("lang_set")
        else:
            self.replies.append(render.language_prompt(self.catalog, catalogs))

    def show_result(self, event: EventData) -> None:
        records = self.turn.store.finished_assessments(self.row.platform, self.row.chat_id, self.row.user_id)
        if not records:
            self.say("no_result")
            return
        latest, previous = records[0], (records[1] if len(records) > 1 else None)
        self.replies.append(
            render.result(
                self.catalog,
                Result.from_dict(latest.result),
                latest.finished_at,
                Result.from_dict(previous.result) if previous else None,
                previous.finished_at if previous else None,
            )
        )

    def reask(self, event: EventData) -> None:
        """After an aside (help, language, result), put the open question back in front of them."""
        if self.state == "assessing":
            self.ask(event)
        elif self.state == "confirming_forget":
            self.ask_forget(event)

    def ask_forget(self, event: EventData) -> None:
        self.replies.append(render.forget_prompt(self.catalog))

    def has_open_assessment(self, event: EventData) -> bool:
        return self.row.assessment_id is not None

    def erase(self, event: EventData) -> None:
        self.turn.store.forget_user(self.row.platform, self.row.user_id)
        self.row.assessment_id, self.row.cursor = None, 0
        self.say("forget_done")

    def say_kept(self, event: EventData) -> None:
        self.say("forget_kept")

    # Assessment

    def begin_or_resume(self, event: EventData) -> None:
        if self.row.assessment_id is None:
            self.begin_new(event)
        else:
            self.ask(event, intro=self.catalog.message(
                "resumed", number=self.row.cursor + 1, total=len(self.catalog.questions)))

    def begin_new(self, event: EventData) -> None:
        store, row = self.turn.store, self.row
        row.assessment_id = store.start_assessment(row.platform, row.chat_id, row.user_id, self.turn.now)
        row.cursor = 0
        self.ask(event, intro=self.catalog.message("assessment_intro", total=len(self.catalog.questions)))

    def ask(self, event: EventData, intro: str = "") -> None:
        assert self.row.assessment_id is not None
        question_id = self._current_question_id()
        previous = self.turn.store.answers(self.row.assessment_id).get(question_id)
        self.replies.append(
            render.question(self.catalog, self.row.assessment_id, self.row.cursor, previous, intro)
        )

    def explain_choices(self, event: EventData) -> None:
        self.say("invalid_choice")

    def explain_stale(self, event: EventData) -> None:
        self.say("stale_choice")

    def explain_first(self, event: EventData) -> None:
        self.say("first_question")

    def explain_not_assessing(self, event: EventData) -> None:
        self.say("not_assessing")

    def on_first_question(self, event: EventData) -> bool:
        return self.row.cursor == 0

    def on_last_question(self, event: EventData) -> bool:
        return self.row.cursor >= len(self.catalog.questions) - 1

    def record_choice(self, event: EventData) -> None:
        assert self.row.assessment_id is not None and self.choice is not None
        self.turn.store.record_answer(
            self.row.assessment_id, self._current_question_id(), self.choice, self.turn.now
        )

    def advance(self, event: EventData) -> None:
        self.row.cursor += 1

    def step_back(self, event: EventData) -> None:
        self.row.cursor -= 1

    def finish(self, event: EventData) -> None:
        store, row = self.turn.store, self.row
        assert row.assessment_id is not None
        previous = store.finished_assessments(row.platform, row.chat_id, row.user_id, limit=1)
        outcome = score(self.catalog.questions, store.answers(row.assessment_id))
        store.finish_assessment(row.assessment_id, outcome.stage, outcome.to_dict(), self.turn.now)
        row.assessment_id, row.cursor = None, 0
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

    def _current_question_id(self) -> str:
        return self.catalog.questions[min(self.row.cursor, len(self.catalog.questions) - 1)].id


def _as_choice(text: str) -> int | None:
    """A typed option number, 0 (don't know) to 6, in any script's digits; else None."""
    if len(text) > 2:
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if DONT_KNOW <= value <= STAGE_COUNT else None
