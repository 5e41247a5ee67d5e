"""Which tip comes next, and the quick check: rules kept apart from the conversation."""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from .catalog import Catalog, Tip
from .scoring import DONT_KNOW, Result, dimension_stage

QUICK_CHECK = ("strategy.goals", "listening.monitoring", "organisation.hub")


def focus_from_result(catalog: Catalog, result: Result) -> list[str]:
    """Dimensions weakest first; unknown ones last; ties keep the questionnaire's order."""
    order = [d.id for d in catalog.dimensions]
    known = result.known
    return sorted(order, key=lambda d: (known.get(d, 7), order.index(d)))


def quick_result(catalog: Catalog, values: Sequence[int]) -> tuple[int | None, list[str]]:
    """A rough stage from the quick check's answers, and its dimensions weakest first."""
    stage = dimension_stage(values)
    answered = {
        catalog.question(q).dimension: v for q, v in zip(QUICK_CHECK, values) if v != DONT_KNOW
    }
    order = [d.id for d in catalog.dimensions]
    focus = sorted(order, key=lambda d: (answered.get(d, 7), order.index(d)))
    return stage, focus


def next_tip(
    catalog: Catalog, stage: int, focus: Sequence[str], seen: Collection[str], finished: Collection[str]
) -> Tip | None:
    """The first unseen tip of a stage, from the weakest dimension first; done or dismissed tips never."""
    rank = {d: i for i, d in enumerate(focus)}
    candidates = [
        t for t in catalog.tips if t.stage == stage and t.id not in seen and t.id not in finished
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda t: (rank.get(t.dimension, len(rank)), t.id))


def choose_tip(
    catalog: Catalog, stage: int, focus: Sequence[str], statuses: Mapping[str, str]
) -> tuple[Tip | None, bool]:
    """The next tip from what was shown, done or dismissed, and whether it begins a new round
    (every tip of the stage was seen; tips done or dismissed stay out)."""
    finished = {t for t, s in statuses.items() if s != "shown"}
    tip = next_tip(catalog, stage, focus, statuses.keys(), finished)
    if tip is not None:
        return tip, False
    return next_tip(catalog, stage, focus, (), finished), True


def stage_tip_ids(catalog: Catalog, stage: int) -> list[str]:
    return [t.id for t in catalog.tips if t.stage == stage]
