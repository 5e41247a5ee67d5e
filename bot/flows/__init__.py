"""The conversations, which bot/machine.py builds once into one shared `transitions` machine.

Each flow lists its states and its transitions in the order of its conversation. A callback is
named "part.method" on the conversation (bot/conversation.py), e.g. "questions.ask".
"""
from __future__ import annotations

from . import assessment, coaching, menu, team

FLOWS = (menu, assessment, coaching, team)
STATES = [state for flow in FLOWS for state in flow.STATES]
TRANSITIONS = [t for flow in FLOWS for t in flow.TRANSITIONS]
