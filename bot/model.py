"""What every flow acts on: one person's chat, for one event, and what it has said back.

A `Chat` is built per event from its stored row and discarded after; all it keeps is in that
row and in the store, written inside the event's transaction. The flows in bot/flows/ each act
on it; `bot.conversation.Conversation` puts them together for the flow machine.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from .catalog import STAGE_COUNT, Catalog
from .events import Event, Mention, Person, Reply, ReplyKind
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
    # Whether an earlier event's replies reached the person or are on their way.
    settled: Callable[[str], bool] = lambda key: True

    @property
    def catalog(self) -> Catalog:
        return self.catalogs[self.lang]


@dataclass
class Chat:
    """The conversation's row, what the person sent (`text`, a `choice`, what follows a command:
    its `arg`), and the replies so far. `reask` puts the open question back after an aside."""

    row: ConversationRow
    turn: Turn
    replies: list[Reply] = field(default_factory=list)
    text: str = ""
    arg: str = ""
    choice: int | None = None
    stale: bool = False
    forgotten: bool = False
    reask: Callable[[], None] = lambda: None

    @property
    def catalog(self) -> Catalog:
        return self.turn.catalog

    @property
    def private(self) -> bool:
        return self.turn.event.private

    def say(self, key: str, kind: ReplyKind = ReplyKind.TEXT, **values: object) -> None:
        self.replies.append(Reply(self.catalog.message(key, **values), kind=kind))

    def say_naming(self, key: str, person: Person, kind: ReplyKind = ReplyKind.TEXT, **values: object) -> None:
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
        self.replies.append(Reply(self.catalog.message(key, **values), kind=ReplyKind.NOTICE))

    def says(self, key: str) -> bool:
        """Whether the text is one of a message's '|'-separated words, e.g. yes_words."""
        return self.text.casefold() in self.catalog.message(key).casefold().split("|")


class Part:
    """One flow's actions on a chat, with what they use most at hand."""

    def __init__(self, chat: Chat) -> None:
        self.chat, self.row, self.turn, self.store = chat, chat.row, chat.turn, chat.turn.store
        self.who = chat.row.platform, chat.row.chat_id, chat.row.user_id
        self.replies, self.say, self.notice = chat.replies, chat.say, chat.notice

    @property
    def catalog(self) -> Catalog:
        return self.turn.catalog


def saying(key: str) -> Callable[[Part], None]:
    """A callback that says one message, for a part to name: `say_kept = saying("forget_kept")`."""
    return lambda part: part.say(key)


def hearing(words: str) -> Callable[[Part], bool]:
    """A guard: whether the text is one of a message's words, `says_yes = hearing("yes_words")`."""
    return lambda part: part.chat.says(words)


def as_choice(text: str) -> int | None:
    """A typed option number, 0 (don't know) to 6: "2", " 2 ", "2.", "2)" or a full-width "２",
    in any script's digits; else None."""
    cleaned = unicodedata.normalize("NFKC", text).strip().rstrip(".)").strip()
    if not cleaned.isdecimal() or len(cleaned) > 1:
        return None
    value = int(cleaned)
    return value if DONT_KNOW <= value <= STAGE_COUNT else None
