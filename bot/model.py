"""The base of the conversation model the flow machine acts on, for one event.

It is built per event from its stored row and discarded after; all it keeps is in that row and
in the store, written inside the event's transaction. Each flow in bot/flows/ adds the actions
its transitions name; `bot.conversation.Conversation` puts them together.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from transitions import EventData

from .catalog import STAGE_COUNT, Catalog, Question
from .coaching import Profile
from .events import Event, Mention, Person, Reply
from .scoring import DONT_KNOW
from .store import ConversationRow, Store

QUICK = "quick"
QUESTIONING = ("assessing", "revisiting", "quick_checking")


@dataclass
class Turn:
    """What one event may use: the store, the event itself, the person's language, the clock."""

    store: Store
    catalogs: dict[str, Catalog]
    event: Event
    lang: str
    now: str
    settled: Callable[[str], bool] = lambda key: True
    delivered: Callable[[str], bool] = lambda key: True

    def seen_by_person(self, key: str | None) -> bool:
        """Whether the replies to an earlier event reached the person (or are on their way);
        `delivered` says whether they have been sent."""
        return key is None or self.settled(key)

    @property
    def catalog(self) -> Catalog:
        return self.catalogs[self.lang]


@dataclass
class ConversationBase:
    row: ConversationRow
    turn: Turn
    replies: list[Reply] = field(default_factory=list)
    text: str = ""
    choice: int | None = None
    stale: bool = False
    forgotten: bool = False

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

    @property
    def store(self) -> Store:
        return self.turn.store

    @property
    def who(self) -> tuple[str, str, str]:
        return self.row.platform, self.row.chat_id, self.row.user_id

    def say(self, key: str, kind: str = "text", **values: object) -> None:
        self.replies.append(Reply(self.catalog.message(key, **values), kind=kind))

    def say_naming(self, key: str, person: Person, kind: str = "text", **values: object) -> None:
        """A message whose `{name}` is a person: the reply says where, so that an adapter can show
        them as its platform shows a person."""
        marker = "\x00"
        text = self.catalog.message(key, name=marker, **values)
        name = person.name[:40]
        start = text.index(marker)
        self.replies.append(Reply(text.replace(marker, name, 1), kind=kind,
                                  mentions=(Mention(start, start + len(name), person.user_id),)))

    def notice(self, key: str, **values: object) -> None:
        """A short word about a pressed button (an old one, a double tap): no new question."""
        self.replies.append(Reply(self.catalog.message(key, **values), kind="notice"))

    # Input

    def read_input(self, event: EventData) -> None:
        """Turns typed text or a button payload into a choice (0-6) or flags a stale button."""
        self.text = (event.kwargs.get("text") or "").strip()
        payload = event.kwargs.get("choice")
        self.choice, self.stale = None, False
        if payload and payload.startswith("q:"):
            scope, _, rest = payload[2:].partition(":")
            question_id, _, value = rest.rpartition(":")
            if self.state not in QUESTIONING or scope != self.scope() or question_id != self.current_question().id:
                self.stale = True
                return
            self.choice = as_choice(value)
        elif payload:
            self.text = payload.strip()
            self.choice = as_choice(self.text)
        else:
            self.choice = as_choice(self.text)

    def says(self, key: str) -> bool:
        """Whether the text is one of a message's '|'-separated words, e.g. yes_words."""
        return self.text.casefold() in self.catalog.message(key).casefold().split("|")

    # The question on screen: the assessment's, or the quick check's

    @property
    def questions(self) -> tuple[Question, ...]:
        raise NotImplementedError

    def scope(self) -> str:
        return QUICK if self.state == "quick_checking" else str(self.row.assessment_id)

    def current_question(self) -> Question:
        questions = self.questions
        return questions[min(self.row.cursor, len(questions) - 1)]

    def reask(self, event: EventData) -> None:
        """After an aside (help, language, result), put the open question back in front of them."""
        raise NotImplementedError

    # What one flow asks of another; each is defined by the flow named, and `Conversation` has them all.

    def ask(self, event: EventData, intro: str = "") -> None:
        """Puts the question at the cursor on screen (bot/flows/assessment.py)."""
        raise NotImplementedError

    def offer_skipped(self, event: EventData) -> None:
        """Offers the skipped questions again before the result (bot/flows/assessment.py)."""
        raise NotImplementedError

    def begin_assessment(self, team_id: int | None) -> None:
        """Starts a new assessment, keeping an unfinished one for later (bot/flows/assessment.py)."""
        raise NotImplementedError

    def suspend_current(self) -> None:
        """Keeps the open assessment for later and takes it off screen (bot/flows/assessment.py)."""
        raise NotImplementedError

    @property
    def profile(self) -> Profile | None:
        """The stage and dimensions that coaching works from, if any (bot/flows/coaching.py)."""
        raise NotImplementedError

    def refresh_team_messages(self, team_ids: list[int]) -> None:
        """Updates the progress messages of teams in their groups, where posted (bot/flows/team.py)."""
        raise NotImplementedError

    def report_team_answer(self, team_id: int) -> None:
        """Tells the person, and the team's place, that a team answer counted (bot/flows/team.py)."""
        raise NotImplementedError


def as_choice(text: str) -> int | None:
    """A typed option number, 0 (don't know) to 6: "2", " 2 ", "2.", "2)" or a full-width "２",
    in any script's digits; else None."""
    cleaned = unicodedata.normalize("NFKC", text).strip().rstrip(".)").strip()
    if not cleaned.isdecimal() or len(cleaned) > 1:
        return None
    value = int(cleaned)
    return value if DONT_KNOW <= value <= STAGE_COUNT else None
