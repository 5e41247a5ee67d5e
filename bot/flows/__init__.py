"""Flow definitions, built once into one shared `transitions` machine.

A conversation is a small model object whose state lives in SQLite; the engine loads it,
fires one trigger on this machine and saves it, per event. No machine is built per user.
"""
from __future__ import annotations

from transitions import Machine

from . import assessment, menu

FLOWS = (menu, assessment)
COMMANDS = ("start", "assess", "back", "skip", "restart", "result", "lang", "help", "forget")


def build_machine() -> Machine:
    """One machine for every conversation: models are passed per trigger, never attached."""
    machine = Machine(
        model=None,
        states=[state for flow in FLOWS for state in flow.STATES],
        initial="idle",
        auto_transitions=False,
        send_event=True,
        prepare_event="read_input",
    )
    for flow in FLOWS:
        machine.add_transitions(flow.TRANSITIONS)
    return machine
