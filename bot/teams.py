"""The team rule: members' answers combined into a team result, without exposing any member.

Per dimension the team is at the middle value of its members' stages for that dimension, and
the spread is the lowest and highest of them. The overall team stage follows the personal rule
on those values (bot/scoring.py), with each question taken at the members' middle answer.
Dimensions where members are two or more stages apart are disagreements: worth a talk.
Below three participants nothing is combined or kept but the count: with one or two, even the
overall stage is, or gives away, someone's own.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .catalog import Question
from .scoring import DONT_KNOW, Result, dimension_stage, overall, score

DISAGREEMENT_GAP = 2
MIN_VISIBLE = 3


@dataclass(frozen=True)
class TeamResult:
    stage: int | None
    participants: int
    dimensions: dict[str, int | None]
    spreads: dict[str, tuple[int, int] | None]
    held_by: tuple[str, ...] = ()
    base: int | None = None
    answers: dict[str, int] = field(default_factory=dict)

    @property
    def disagreements(self) -> tuple[str, ...]:
        """Dimensions where members are two or more stages apart, widest first."""
        gaps = {d: s[1] - s[0] for d, s in self.spreads.items() if s}
        wide = [d for d, gap in gaps.items() if gap >= DISAGREEMENT_GAP]
        return tuple(sorted(wide, key=lambda d: -gaps[d]))

    @classmethod
    def withheld(cls, participants: int) -> TeamResult:
        """Too few took part for a result: only how many did, so no one can be singled out."""
        return cls(None, participants, {}, {})

    @property
    def visible(self) -> bool:
        """Whether enough took part to show anything of the result; below that nothing is shown."""
        return self.participants >= MIN_VISIBLE

    def as_result(self) -> Result:
        """The team as one respondent, for the same rendering of stages, change and coaching."""
        return Result(self.stage, self.dimensions, 0, 0, self.held_by, self.base, self.answers)

    def to_dict(self) -> dict[str, Any]:
        if not self.visible:
            return {"participants": self.participants}
        return {
            "stage": self.stage,
            "participants": self.participants,
            "dimensions": self.dimensions,
            "spreads": {d: list(s) if s else None for d, s in self.spreads.items()},
            "held_by": list(self.held_by),
            "base": self.base,
            "answers": self.answers,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TeamResult:
        """A stored result; one stored for fewer than three before they were withheld loses its stage."""
        participants = int(data.get("participants") or 0)
        if participants < MIN_VISIBLE:
            return cls.withheld(participants)
        return cls(
            stage=data["stage"],
            participants=participants,
            dimensions=data["dimensions"],
            spreads={d: tuple(s) if s else None for d, s in data["spreads"].items()},
            held_by=tuple(data.get("held_by", data.get("held_by_activities", ()))),
            base=data.get("base", data["stage"]),
            answers=dict(data.get("answers", {})),
        )


def aggregate(questions: Sequence[Question], members: Sequence[Mapping[str, int]]) -> TeamResult:
    """Combines each member's answers (question id -> 0..6) into the team result; with fewer than
    three members nothing is combined at all."""
    if len(members) < MIN_VISIBLE:
        return TeamResult.withheld(len(members))
    results = [score(questions, answers) for answers in members]
    dimension_ids = list(dict.fromkeys(q.dimension for q in questions))
    dimensions: dict[str, int | None] = {}
    spreads: dict[str, tuple[int, int] | None] = {}
    for dimension in dimension_ids:
        stages = [s for r in results if (s := r.dimensions.get(dimension)) is not None]
        dimensions[dimension] = dimension_stage(stages)
        spreads[dimension] = (min(stages), max(stages)) if stages else None
    answers = {
        q.id: dimension_stage([a.get(q.id, DONT_KNOW) for a in members]) or DONT_KNOW for q in questions
    }
    stage, base, held = overall(questions, dimensions, answers)
    return TeamResult(stage, len(members), dimensions, spreads, held, base, answers)
