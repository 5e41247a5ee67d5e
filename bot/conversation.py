"""The conversation the flow machine acts on: one person's chat, and the flows' parts that act on it."""
from __future__ import annotations

from functools import cached_property

from transitions import Machine

from .flows.assessment import Questions
from .flows.coaching import Coaching
from .flows.menu import Menu
from .flows.team import Team
from .flows.weekly import Weekly
from .machine import getter
from .model import QUESTIONING, Chat, Turn
from .registry import Command
from .store import ConversationRow

# What puts a state's open question back: the question on screen, or what the state waits for.
REASKS = {**dict.fromkeys(QUESTIONING, "questions.ask"), "reviewing_skipped": "questions.offer_skipped",
          "confirming_forget": "menu.ask_forget", "joining_team": "team.ask_code"}


class Conversation:
    """Built per event from its stored row; each part is one flow's actions on the same chat,
    made when an event first needs it."""

    def __init__(self, row: ConversationRow, turn: Turn) -> None:
        self.chat = Chat(row, turn, reask=self.reask)
        self.replies = self.chat.replies

    questions = cached_property(lambda self: Questions(self.chat))
    coaching = cached_property(lambda self: Coaching(self.chat, self.questions))
    team = cached_property(lambda self: Team(self.chat, self.questions))
    weekly = cached_property(lambda self: Weekly(self.chat))
    menu = cached_property(lambda self: Menu(self.chat, self.coaching, self.team))

    # transitions reads and writes the model's state through this attribute.
    @property
    def state(self) -> str:
        return self.chat.row.state

    @state.setter
    def state(self, value: str) -> None:
        self.chat.row.state = value

    @property
    def forgotten(self) -> bool:
        return self.chat.forgotten

    def run(self, machine: Machine, command: Command, arg: str) -> None:
        """A command: its trigger (or, when no transition takes it, its `otherwise`) or its handler,
        then the open question again if the command says so."""
        self.chat.arg = arg
        if command.trigger and (machine.events[command.trigger].trigger(self) or not command.otherwise):
            return
        getter(command.otherwise or command.handler)(self)()
        if command.reasks:
            self.reask()

    def message(self, machine: Machine, text: str, payload: str | None) -> None:
        """Typed text or a pressed option that is no command: an answer, a yes or no, a word on a tip."""
        self.questions.read(text, payload)
        machine.events["message"].trigger(self)

    def reask(self) -> None:
        """After an aside (help, language, result), put the open question back in front of them."""
        if self.state in REASKS:
            getter(REASKS[self.state])(self)()


__all__ = ["Conversation", "Turn"]
