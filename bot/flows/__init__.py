"""The conversations, built once into one shared `transitions` machine.

Each flow lists its states and its transitions in the order of its conversation. A callback is
named "part.method" on the conversation (bot/conversation.py), e.g. "questions.ask"; the machine
has no model of its own: the engine passes one conversation per trigger, never a machine per user.
"""
from __future__ import annotations

from functools import cache
from operator import attrgetter
from typing import Any

from transitions import EventData, Machine

from . import assessment, coaching, menu, team

FLOWS = (menu, assessment, coaching, team)
STATES = [state for flow in FLOWS for state in flow.STATES]
TRANSITIONS = [t for flow in FLOWS for t in flow.TRANSITIONS]


def resolve(name: str, model: object) -> Any:
    """A callback named "part.method" (or "part.attribute") on a conversation."""
    found = getter(name)(model)
    return found if callable(found) else lambda: found


@cache
def getter(name: str) -> attrgetter[Any]:
    return attrgetter(name)


class FlowMachine(Machine):
    """A machine whose callbacks are named on the parts of its model, by a dotted path."""

    @staticmethod
    def resolve_callable(func: Any, event_data: EventData) -> Any:
        return resolve(func, event_data.model) if isinstance(func, str) else func


def build_machine(cls: type[Machine] = FlowMachine, **options: Any) -> Machine:
    """One machine for every conversation: models are passed per trigger, never attached. A
    trigger that no transition of the current state takes does nothing (and reports False)."""
    return cls(model=None, states=STATES, transitions=TRANSITIONS, initial="idle", auto_transitions=False,
               ignore_invalid_triggers=True, **options)
