"""The flow machine: the conversations of bot/flows/ built once into one `transitions` machine.

A callback is named "part.method" on the conversation (bot/conversation.py), e.g.
"questions.ask"; the machine has no model of its own: the engine passes one conversation per
trigger, never a machine per user. It runs a few callbacks for every message, so it calls them
without the library's log records.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from itertools import chain
from operator import attrgetter
from typing import Any

from transitions import EventData, Machine, Transition

from .flows import STATES, TRANSITIONS


def resolve(name: str, model: object) -> Any:
    """A callback named "part.method" (or "part.attribute") on a conversation."""
    found = getter(name)(model)
    return found if callable(found) else lambda: found


@cache
def getter(name: str) -> attrgetter[Any]:
    return attrgetter(name)


class FlowTransition(Transition):
    """Transition.execute in the same steps, without its four debug records and with the
    machine-wide callbacks (none here) left out when empty: it runs for every message."""

    def execute(self, event_data: EventData) -> bool:
        machine = event_data.machine
        if self.prepare:
            machine.callbacks(self.prepare, event_data)
        if not self._eval_conditions(event_data):
            return False
        machine.callbacks(chain(machine.before_state_change, self.before), event_data)
        if self.dest:
            self._change_state(event_data)
        machine.callbacks(chain(self.after, machine.after_state_change), event_data)
        return True


class FlowMachine(Machine):
    """A machine whose callbacks are named on the parts of its model, by a dotted path."""

    transition_cls = FlowTransition

    @staticmethod
    def resolve_callable(func: Any, event_data: EventData) -> Any:
        return resolve(func, event_data.model) if isinstance(func, str) else func

    def callbacks(self, funcs: Iterable[Any], event_data: EventData) -> None:
        """Calls each callback as Machine.callbacks does, without a log record for each: this
        runs for every message, a few times."""
        model, args, kwargs = event_data.model, event_data.args, event_data.kwargs
        for func in funcs:
            (resolve(func, model) if isinstance(func, str) else func)(*args, **kwargs)


def build_machine(cls: type[Machine] = FlowMachine, **options: Any) -> Machine:
    """One machine for every conversation: models are passed per trigger, never attached. A
    trigger that no transition of the current state takes does nothing (and reports False)."""
    return cls(model=None, states=STATES, transitions=TRANSITIONS, initial="idle", auto_transitions=False,
               ignore_invalid_triggers=True, **options)
