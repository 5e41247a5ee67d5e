"""Flow definitions, built once into one shared `transitions` machine.

A conversation is a small model object whose state lives in SQLite; the engine loads it,
fires one trigger on this machine and saves it, per event. No machine is built per user.
"""
from __future__ import annotations

from transitions import Machine

from . import assessment, coaching, menu, team, weekly

FLOWS = (menu, assessment, coaching, team, weekly)
# What a person types (or a button sends), mapped to the trigger it fires. Two-word commands
# ("tips why") take precedence over their first word.
COMMANDS = {
    "start": "start",
    "assess": "assess",
    "back": "back",
    "skip": "skip",
    "restart": "restart",
    "result": "result",
    "lang": "lang",
    "help": "help",
    "forget": "forget",
    "tips": "tips",
    "tips more": "tips",
    "tips why": "why",
    "tips done": "done",
    "tips dismiss": "dismiss",
    "tips quick": "quick_check",
    "tips stage": "pick_stage",
    "roadmap": "roadmap",
    "roadmap done": "roadmap_done",
    "home": "home",
    "tips weekly": "weekly_status",
    "tips subscribe": "weekly_subscribe",
    "tips preview": "weekly_preview",
    "tips now": "weekly_now",
    "tips pause": "weekly_pause",
    "tips resume": "weekly_resume",
    "tips stop": "weekly_stop",
    "tips history": "weekly_history",
    "tips channel-done": "weekly_done",
    "tips channel-dismiss": "weekly_dismiss",
    "champion": "champion_add",
    "champion add": "champion_add",
    "team": "team",
    "team new": "team_new",
    "team join": "team_join",
    "team status": "team_status",
    "team close": "team_close",
    "team leave": "team_leave",
}

# What a group or channel may ask for; anything else is personal and moves to a private chat.
GROUP_TRIGGERS = frozenset(
    {"start", "help", "lang", "unknown", "team", "team_new", "team_join", "team_status", "team_close", "team_leave",
     "weekly_status", "weekly_subscribe", "weekly_preview", "weekly_now", "weekly_pause", "weekly_resume",
     "weekly_stop", "weekly_history", "weekly_done", "weekly_dismiss", "champion_add"}
)


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
    transitions = [t for flow in FLOWS for t in flow.TRANSITIONS]
    # A state's own transitions are tried before the catch-alls that apply anywhere.
    transitions.sort(key=lambda t: t["source"] == "*")
    machine.add_transitions(transitions)
    return machine
