"""The scoring rule, kept in one place so that it can be explained in two sentences.

Your stage is the highest stage that more than half of your answered dimensions reach, each
dimension counting the middle value of its answers, and that your listening lags by at most one.
From stage 4 on, that stage's defining practices (and those of the stages before it) must also be
answered at that stage or higher.

Why this shape: dimensions do not move together. Culture and employee participation lag until
Converged by definition, so a rule that needs nearly every dimension under-rates real
organisations; a median tolerates lagging dimensions and ignores one strong one. The stage
definitions themselves then gate the stages that have them: Formalized's sponsor, core team and
governance; Strategic's whole board, business functions beyond marketing and service, and time
to rethink; Converged's every employee, social and digital as one, and a social culture. And
listening (the monitoring pyramid) is the base that every stage stands on, so an organisation
climbs no more than one stage beyond how well it listens.

A defining practice answered at stage `a` holds the overall stage at `a` (never below the stage
before the one it defines), so one answer moved by one step moves the stage by at most one.
"Don't know" (0) lowers the confidence, never the score.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .catalog import STAGE_COUNT, Question

DONT_KNOW = 0
UNEVEN_GAP = 3  # dimensions this many stages apart make a profile uneven
UNEVEN_ANSWER_GAP = 4  # and so do two answers this far apart, which a dimension's middle hides
MIN_KNOWN_SHARE = 0.5
LISTENING = "listening"
LISTENING_LEAD = 1  # how far the stage may run ahead of listening

# Each stage's defining practices: the question that shows it, and the first stage it defines.
# The whole board (Strategic) is leadership.sponsor's option 5.
DEFINING: dict[str, int] = {
    "leadership.sponsor": 4,
    "organisation.hub": 4,
    "organisation.governance": 4,
    "strategy.functions": 5,
    "strategy.review": 5,
    "people.participation": 6,
    "tools.integration": 6,
    "culture.openness": 6,
}


@dataclass(frozen=True)
class Result:
    """A scored assessment; `stage` is None when too few dimensions were answered to tell.

    `base` is the stage the dimensions alone point to; `held_by` the defining practices that
    hold the stage below it; `answers` the answers scored (question id -> 0..6), from which
    coaching tells what is in place.
    """

    stage: int | None
    dimensions: dict[str, int | None]
    answered: int
    total: int
    held_by: tuple[str, ...] = ()
    base: int | None = None
    answers: dict[str, int] = field(default_factory=dict)

    @property
    def confidence(self) -> str:
        share = self.answered / self.total if self.total else 0.0
        if share >= 0.9:
            return "high"
        return "medium" if share >= 0.7 else "low"

    # Worked out once: a result is read several times while it is shown (frozen, so they hold).
    @cached_property
    def known(self) -> dict[str, int]:
        return {d: s for d, s in self.dimensions.items() if s is not None}

    @cached_property
    def strongest(self) -> tuple[str, ...]:
        return self._extreme(max)

    @cached_property
    def weakest(self) -> tuple[str, ...]:
        return self._extreme(min)

    @property
    def uneven(self) -> bool:
        """Dimensions three or more stages apart, or practices four or more (strong webcare and
        no sponsor at all, say), which each dimension's middle value smooths away."""
        known = self.known.values()
        answers = [v for v in self.answers.values() if v != DONT_KNOW]
        return (bool(known) and max(known) - min(known) >= UNEVEN_GAP) or (
            bool(answers) and max(answers) - min(answers) >= UNEVEN_ANSWER_GAP)

    @property
    def needed(self) -> int:
        """How many dimensions must reach a stage for it to count: more than half."""
        return majority(len(self.known))

    def _extreme(self, pick: Callable[..., int]) -> tuple[str, ...]:
        return extreme_dimensions(self.dimensions, pick)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "dimensions": self.dimensions,
            "answered": self.answered,
            "total": self.total,
            "held_by": list(self.held_by),
            "base": self.base,
            "answers": self.answers,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """Reads a stored result, including those stored before `base` and `answers` existed."""
        return cls(
            stage=data["stage"],
            dimensions=dict(data["dimensions"]),
            answered=data["answered"],
            total=data["total"],
            held_by=tuple(data.get("held_by", data.get("held_by_activities", ()))),
            base=data.get("base", data["stage"]),
            answers=dict(data.get("answers", {})),
        )


def extreme_dimensions(dimensions: Mapping[str, int | None], pick: Callable[..., int]) -> tuple[str, ...]:
    """The dimensions at the lowest (`min`) or highest (`max`) known stage; none when all are level."""
    known = {d: s for d, s in dimensions.items() if s is not None}
    if len(set(known.values())) < 2:
        return ()
    target = pick(known.values())
    return tuple(d for d, s in known.items() if s == target)


def majority(known_dimensions: int) -> int:
    return known_dimensions // 2 + 1


def dimension_stage(values: Sequence[int]) -> int | None:
    """The middle value of the known answers; halfway between two stages counts as the higher
    (answers 3 and 4 give 4), since the overall median already takes the cautious side."""
    known = sorted(v for v in values if v != DONT_KNOW)
    if not known:
        return None
    middle = len(known) // 2
    if len(known) % 2:
        return known[middle]
    return -(-(known[middle - 1] + known[middle]) // 2)


def dimensions_stage(stages: Sequence[int]) -> int:
    """The highest stage that more than half of the given dimension stages reach."""
    needed = majority(len(stages))
    return max(s for s in range(1, STAGE_COUNT + 1) if sum(1 for d in stages if d >= s) >= needed)


def ceiling(question_id: str, answer: int) -> int:
    """The highest overall stage a defining practice, answered so, allows."""
    first = DEFINING[question_id]
    if answer == DONT_KNOW:
        return STAGE_COUNT
    return max(answer, first - 1)


def score(questions: Sequence[Question], answers: Mapping[str, int]) -> Result:
    """Scores answers (question id -> 0..6, missing = not answered) against a questionnaire."""
    by_dimension: dict[str, list[int]] = {}
    for question in questions:
        by_dimension.setdefault(question.dimension, []).append(answers.get(question.id, DONT_KNOW))
    dimensions = {d: dimension_stage(values) for d, values in by_dimension.items()}
    kept = {q.id: answers[q.id] for q in questions if q.id in answers}
    answered = sum(1 for v in kept.values() if v != DONT_KNOW)
    stage, base, held = overall(questions, dimensions, kept)
    return Result(stage, dimensions, answered, len(questions), held, base, kept)


def overall(
    questions: Sequence[Question], dimensions: Mapping[str, int | None], answers: Mapping[str, int]
) -> tuple[int | None, int | None, tuple[str, ...]]:
    """The overall stage from dimension stages, listening, and the defining practices.

    Returns the stage (None when under half the dimensions are known), the stage the dimensions
    alone point to, and the questions whose answers hold the stage below that.
    """
    known = [s for s in dimensions.values() if s is not None]
    if not known or len(known) < MIN_KNOWN_SHARE * len(dimensions):
        return None, None, ()
    base = dimensions_stage(known)
    ceilings = {q: ceiling(q, answers.get(q, DONT_KNOW)) for q in DEFINING}
    listening = dimensions.get(LISTENING)
    listening_ceiling = STAGE_COUNT if listening is None else listening + LISTENING_LEAD
    stage = min(base, listening_ceiling, *ceilings.values())
    held = [q for q, c in ceilings.items() if c == stage < base]
    if listening_ceiling == stage < base:
        held += [q.id for q in questions
                 if q.dimension == LISTENING and DONT_KNOW < answers.get(q.id, DONT_KNOW) < stage]
    return stage, base, tuple(dict.fromkeys(held))
