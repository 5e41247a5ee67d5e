"""The scoring rule, kept in one place so that it can be explained in one sentence.

Per dimension: the lower middle value (median) of its answered questions.
Overall: the highest stage that at least 80 % of the answered dimensions reach, so one strong
dimension does not lift the whole and one outlier does not sink it. Stage 4 (Formalized) and
beyond also need its three activities: a known answer below 4 on the executive-sponsor, core-team
or governance question holds the overall stage at 3. "Don't know" (0) lowers the confidence,
never the score.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .catalog import Question

DONT_KNOW = 0
QUORUM = 0.8
FORMALIZED = 4
FORMALIZED_ACTIVITIES = ("leadership.sponsor", "organisation.hub", "organisation.governance")
UNEVEN_GAP = 3
MIN_KNOWN_SHARE = 0.5


@dataclass(frozen=True)
class Result:
    """A scored assessment; `stage` is None when too few dimensions were answered to tell."""

    stage: int | None
    dimensions: dict[str, int | None]
    answered: int
    total: int
    held_by_activities: tuple[str, ...]

    @property
    def confidence(self) -> str:
        share = self.answered / self.total if self.total else 0.0
        if share >= 0.9:
            return "high"
        return "medium" if share >= 0.7 else "low"

    @property
    def known(self) -> dict[str, int]:
        return {d: s for d, s in self.dimensions.items() if s is not None}

    @property
    def strongest(self) -> tuple[str, ...]:
        return self._extreme(max)

    @property
    def weakest(self) -> tuple[str, ...]:
        return self._extreme(min)

    @property
    def uneven(self) -> bool:
        known = self.known.values()
        return bool(known) and max(known) - min(known) >= UNEVEN_GAP

    @property
    def needed(self) -> int:
        """How many dimensions must reach a stage for it to count (the 80 % of the rule)."""
        return quorum(len(self.known))

    def _extreme(self, pick) -> tuple[str, ...]:
        known = self.known
        if len(set(known.values())) < 2:
            return ()
        target = pick(known.values())
        return tuple(d for d, s in known.items() if s == target)

    def to_dict(self) -> dict:
        return {
            "stage": self.stage,
            "dimensions": self.dimensions,
            "answered": self.answered,
            "total": self.total,
            "held_by_activities": list(self.held_by_activities),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        return cls(
            stage=data["stage"],
            dimensions=data["dimensions"],
            answered=data["answered"],
            total=data["total"],
            held_by_activities=tuple(data["held_by_activities"]),
        )


def quorum(known_dimensions: int) -> int:
    return math.ceil(QUORUM * known_dimensions - 1e-9)


def dimension_stage(values: Sequence[int]) -> int | None:
    """The lower median of the known answers: a dimension is at a stage it consistently meets."""
    known = sorted(v for v in values if v != DONT_KNOW)
    if not known:
        return None
    return known[(len(known) - 1) // 2]


def overall_stage(stages: Sequence[int]) -> int:
    """The highest stage that at least QUORUM of the given dimension stages reach."""
    needed = quorum(len(stages))
    return max(s for s in range(1, 7) if sum(1 for d in stages if d >= s) >= needed)


def score(questions: Sequence[Question], answers: Mapping[str, int]) -> Result:
    """Scores answers (question id -> 0..6, missing = not answered) against a questionnaire."""
    by_dimension: dict[str, list[int]] = {}
    for question in questions:
        by_dimension.setdefault(question.dimension, []).append(answers.get(question.id, DONT_KNOW))
    dimensions = {d: dimension_stage(values) for d, values in by_dimension.items()}
    answered = sum(1 for q in questions if answers.get(q.id, DONT_KNOW) != DONT_KNOW)
    stage, held = overall(dimensions, {q: answers.get(q, DONT_KNOW) for q in FORMALIZED_ACTIVITIES})
    return Result(stage, dimensions, answered, len(questions), held)


def overall(dimensions: Mapping[str, int | None], activities: Mapping[str, int]) -> tuple[int | None, tuple[str, ...]]:
    """The overall stage from dimension stages and the answers on the Formalized activities.

    Returns the stage (None when under half the dimensions are known) and the activities that
    held it at stage 3.
    """
    known = [s for s in dimensions.values() if s is not None]
    if not known or len(known) < MIN_KNOWN_SHARE * len(dimensions):
        return None, ()
    stage = overall_stage(known)
    missing = tuple(q for q, v in activities.items() if DONT_KNOW < v < FORMALIZED)
    if stage >= FORMALIZED and missing:
        return FORMALIZED - 1, missing
    return stage, ()
