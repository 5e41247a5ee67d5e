"""Coaching from the answers: which tip comes next, what the roadmap shows in place, the quick check.

Kept apart from the conversation so that a person, a team and a channel are coached by the same
rules. A tip is chosen per dimension at that dimension's own stage, weakest dimensions first,
and never one that proposes what the answers show in place; a roadmap move is in place when the
answer to its question reaches the next stage.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from .catalog import STAGE_COUNT, Catalog, ChecklistItem, Question, Tip
from .scoring import DONT_KNOW, Result, dimension_stage, extreme_dimensions

QUICK_CHECK = ("strategy.goals", "listening.monitoring", "organisation.hub")


@dataclass(frozen=True)
class Profile:
    """What coaching works from: an overall stage, and where known the stage of each dimension
    and the answers (a person's own, or a team's middle answers). `team` says whose they are."""

    stage: int
    dimensions: Mapping[str, int | None] = field(default_factory=dict)
    answers: Mapping[str, int] = field(default_factory=dict)
    team: bool = False
    held_by: tuple[str, ...] = ()

    def stage_of(self, dimension: str) -> int:
        return self.dimensions.get(dimension) or self.stage

    def focus(self, catalog: Catalog) -> list[str]:
        """Dimensions weakest first; ties keep the questionnaire's order."""
        order = [d.id for d in catalog.dimensions]
        return sorted(order, key=lambda d: (self.stage_of(d), order.index(d)))

    @property
    def weakest(self) -> tuple[str, ...]:
        return extreme_dimensions(self.dimensions, min)

    def answer(self, question_id: str) -> int:
        return self.answers.get(question_id, DONT_KNOW)

    def shows(self, question_id: str | None, stage: int) -> bool:
        """Whether the answers show a question's practice at a stage or beyond."""
        return question_id is not None and self.answer(question_id) >= stage

    def encode(self) -> str:
        """The dimension stages as stored with a conversation: "strategy=2,listening=3"."""
        return ",".join(f"{d}={s}" for d, s in self.dimensions.items() if s is not None)

    @classmethod
    def decode(cls, stage: int, stored: str) -> Profile:
        pairs = (part.split("=", 1) for part in stored.split(",") if "=" in part)
        return cls(stage, {d: int(s) for d, s in pairs if s.isdecimal()})


def from_result(result: Result, team: bool = False) -> Profile | None:
    if result.stage is None:
        return None
    return Profile(result.stage, result.dimensions, result.answers, team, result.held_by)


def quick_profile(catalog: Catalog, values: Sequence[int]) -> Profile | None:
    """A rough profile from the quick check's answers: their middle value, and each answer as
    its dimension's stage."""
    stage = dimension_stage(values)
    if stage is None:
        return None
    dimensions: dict[str, int | None] = {
        catalog.question(q).dimension: v for q, v in zip(QUICK_CHECK, values, strict=False) if v != DONT_KNOW
    }
    return Profile(stage, dimensions)


def tip_pool(catalog: Catalog, profile: Profile) -> list[Tip]:
    """Every tip that fits: each dimension's tips at its own stage, weakest dimension first,
    without tips that propose what the answers show in place already (when that leaves a
    dimension none, its tips of the stage above)."""
    pool: list[Tip] = []
    for dimension in profile.focus(catalog):
        for stage in range(profile.stage_of(dimension), STAGE_COUNT + 1):
            fitting = [
                t for t in catalog.tips
                if t.dimension == dimension and t.stage == stage
                and not profile.shows(t.question, t.level or STAGE_COUNT + 1)
            ]
            if fitting:
                pool.extend(sorted(fitting, key=lambda t: t.id))
                break
    return pool


def choose_tip(catalog: Catalog, profile: Profile, statuses: Mapping[str, str]) -> tuple[Tip | None, bool]:
    """The next tip from what was shown, done or dismissed, and whether it begins a new round
    (every tip of the pool was seen; tips done or dismissed stay out)."""
    pool = [t for t in tip_pool(catalog, profile) if statuses.get(t.id, "shown") == "shown"]
    unseen = [t for t in pool if t.id not in statuses]
    if unseen:
        return unseen[0], False
    return (pool[0], True) if pool else (None, False)


def follows_from(catalog: Catalog, profile: Profile, tip: Tip) -> Question | None:
    """The question whose answer a tip follows from: its own, else the lowest answered one of its
    dimension."""
    if tip.question is not None and profile.answer(tip.question) != DONT_KNOW:
        return catalog.question(tip.question)
    answered = [q for q in catalog.questions if q.dimension == tip.dimension and profile.answer(q.id) != DONT_KNOW]
    return min(answered, key=lambda q: profile.answer(q.id)) if answered else None


@dataclass(frozen=True)
class Move:
    """A roadmap move, and whether the answers show it in place or the person marked it done."""

    number: int
    item: ChecklistItem
    in_place: bool
    done: bool

    @property
    def open(self) -> bool:
        return not (self.in_place or self.done)


def roadmap(catalog: Catalog, profile: Profile, done: Collection[str] = ()) -> list[Move]:
    """The moves from the profile's stage to the next, each in place when its question's answer
    reaches the next stage."""
    target = min(profile.stage + 1, STAGE_COUNT)
    return [
        Move(n, item, profile.shows(item.question, target), item.id in done)
        for n, item in enumerate(catalog.stage(profile.stage).checklist, 1)
    ]
