"""The conversation model: every flow's actions on one person's conversation in one chat."""
from __future__ import annotations

from .flows.assessment import AssessmentActions
from .flows.coaching import CoachingActions
from .flows.menu import MenuActions
from .flows.team import TeamActions
from .flows.weekly import WeeklyActions
from .model import Turn


class Conversation(MenuActions, AssessmentActions, CoachingActions, TeamActions, WeeklyActions):
    """Built per event from its stored row; the shared flow machine fires its actions."""


__all__ = ["Conversation", "Turn"]
