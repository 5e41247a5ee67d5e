"""The scoring rule on hand-computed examples and as properties."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.catalog import default_catalogs
from bot.scoring import FORMALIZED_ACTIVITIES, dimension_stage, overall_stage, score

QUESTIONS = default_catalogs()["en"].questions
DIMENSIONS = list(dict.fromkeys(q.dimension for q in QUESTIONS))


def answers_by_dimension(stages: dict[str, int]) -> dict[str, int]:
    """Every question of a dimension answered with that dimension's stage."""
    return {q.id: stages[q.dimension] for q in QUESTIONS}


def test_dimension_stage_is_the_lower_median_of_known_answers():
    assert dimension_stage([2, 5]) == 2
    assert dimension_stage([1, 4, 6]) == 4
    assert dimension_stage([0, 5]) == 5
    assert dimension_stage([0, 0]) is None


def test_overall_stage_is_the_highest_that_eight_in_ten_dimensions_reach():
    assert overall_stage([3] * 8 + [1]) == 3
    assert overall_stage([3] * 7 + [1, 1]) == 1
    assert overall_stage([2, 3, 3, 4, 4, 4, 5, 5, 6]) == 3
    assert overall_stage([5, 5, 5, 5, 4]) == 5
    assert overall_stage([5, 5, 5, 4, 4]) == 4


def test_uniform_answers_give_that_stage():
    for stage in range(1, 7):
        assert score(QUESTIONS, {q.id: stage for q in QUESTIONS}).stage == stage


def test_one_strong_dimension_does_not_lift_the_whole():
    stages = dict.fromkeys(DIMENSIONS, 2) | {"culture": 6}
    assert score(QUESTIONS, answers_by_dimension(stages)).stage == 2


def test_one_weak_dimension_does_not_sink_the_whole():
    stages = dict.fromkeys(DIMENSIONS, 5) | {"tools": 1}
    result = score(QUESTIONS, answers_by_dimension(stages))
    assert result.stage == 5
    assert result.weakest == ("tools",)
    assert result.uneven


def test_a_missing_formalized_activity_holds_the_stage_at_three():
    answers = {q.id: 5 for q in QUESTIONS} | {"organisation.hub": 2}
    result = score(QUESTIONS, answers)
    assert result.stage == 3
    assert result.held_by_activities == ("organisation.hub",)


def test_dont_know_on_an_activity_does_not_lower_the_stage_but_the_confidence():
    answers = {q.id: 5 for q in QUESTIONS} | {a: 0 for a in FORMALIZED_ACTIVITIES}
    result = score(QUESTIONS, answers)
    assert result.stage == 5
    assert result.answered == len(QUESTIONS) - 3
    assert score(QUESTIONS, {q.id: 5 for q in QUESTIONS}).confidence == "high"


def test_confidence_falls_with_each_dont_know():
    all_known = {q.id: 3 for q in QUESTIONS}
    few_unknown = all_known | {q.id: 0 for q in QUESTIONS[:4]}
    many_unknown = all_known | {q.id: 0 for q in QUESTIONS[:9]}
    assert [score(QUESTIONS, a).confidence for a in (all_known, few_unknown, many_unknown)] == [
        "high", "medium", "low"]


def test_too_many_dont_knows_give_no_stage():
    result = score(QUESTIONS, {q.id: 0 for q in QUESTIONS})
    assert result.stage is None
    assert result.answered == 0


@given(st.lists(st.integers(1, 6), min_size=len(QUESTIONS), max_size=len(QUESTIONS)))
def test_the_stage_lies_within_the_range_of_the_dimensions(values):
    result = score(QUESTIONS, {q.id: v for q, v in zip(QUESTIONS, values)})
    known = result.known.values()
    assert min(known) <= result.stage <= max(known)


@given(
    st.lists(st.integers(1, 6), min_size=len(QUESTIONS), max_size=len(QUESTIONS)),
    st.integers(0, len(QUESTIONS) - 1),
)
def test_a_higher_answer_never_lowers_the_stage(values, index):
    before = score(QUESTIONS, {q.id: v for q, v in zip(QUESTIONS, values)})
    raised = list(values)
    raised[index] = min(6, raised[index] + 1)
    after = score(QUESTIONS, {q.id: v for q, v in zip(QUESTIONS, raised)})
    assert after.stage >= before.stage


@given(st.lists(st.integers(1, 6), min_size=1, max_size=12), st.randoms())
def test_the_order_of_the_dimensions_does_not_matter(stages, random):
    shuffled = list(stages)
    random.shuffle(shuffled)
    assert overall_stage(shuffled) == overall_stage(stages)
