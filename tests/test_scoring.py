"""The scoring rule on hand-computed examples and as properties."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.catalog import default_catalogs
from bot.scoring import DEFINING, dimension_stage, dimensions_stage, score

QUESTIONS = default_catalogs()["en"].questions
DIMENSIONS = list(dict.fromkeys(q.dimension for q in QUESTIONS))
ALL_ANSWERS = st.lists(st.integers(1, 6), min_size=len(QUESTIONS), max_size=len(QUESTIONS))


def answers_by_dimension(stages: dict[str, int]) -> dict[str, int]:
    """Every question of a dimension answered with that dimension's stage."""
    return {q.id: stages[q.dimension] for q in QUESTIONS}


def stage_of(values: list[int]) -> int | None:
    return score(QUESTIONS, {q.id: v for q, v in zip(QUESTIONS, values, strict=True)}).stage


def test_a_dimension_is_the_middle_value_of_its_answers_halves_counting_up():
    assert dimension_stage([2, 5]) == 4
    assert dimension_stage([4, 5]) == 5
    assert dimension_stage([2, 4]) == 3
    assert dimension_stage([1, 4, 6]) == 4
    assert dimension_stage([0, 5]) == 5
    assert dimension_stage([0, 0]) is None


def test_the_dimensions_give_the_highest_stage_that_more_than_half_of_them_reach():
    assert dimensions_stage([3] * 5 + [1] * 4) == 3
    assert dimensions_stage([3] * 4 + [1] * 5) == 1
    assert dimensions_stage([2, 3, 3, 4, 4, 4, 5, 5, 6]) == 4
    assert dimensions_stage([5, 5, 4, 4]) == 4
    assert dimensions_stage([5, 5, 5, 4]) == 5


def test_uniform_answers_give_that_stage():
    for stage in range(1, 7):
        assert score(QUESTIONS, {q.id: stage for q in QUESTIONS}).stage == stage


def test_one_strong_dimension_does_not_lift_the_whole():
    stages = dict.fromkeys(DIMENSIONS, 2) | {"culture": 6}
    assert score(QUESTIONS, answers_by_dimension(stages)).stage == 2


def test_one_weak_dimension_does_not_sink_the_whole():
    stages = dict.fromkeys(DIMENSIONS, 5) | {"measurement": 1}
    result = score(QUESTIONS, answers_by_dimension(stages))
    assert result.stage == 5
    assert result.weakest == ("measurement",)
    assert result.uneven


def test_culture_and_people_lagging_do_not_sink_a_strategic_organisation():
    stages = dict.fromkeys(DIMENSIONS, 5) | {"culture": 3, "people": 3, "tools": 4}
    assert score(QUESTIONS, answers_by_dimension(stages)).stage == 5


def test_a_missing_formalized_practice_holds_the_stage_at_three():
    answers = {q.id: 5 for q in QUESTIONS} | {"organisation.hub": 2}
    result = score(QUESTIONS, answers)
    assert result.stage == 3
    assert result.base == 5
    assert result.held_by == ("organisation.hub",)


def test_a_single_executive_sponsor_holds_the_stage_at_four():
    answers = {q.id: 5 for q in QUESTIONS} | {"leadership.sponsor": 4}
    result = score(QUESTIONS, answers)
    assert (result.stage, result.held_by) == (4, ("leadership.sponsor",))


def test_converged_needs_every_employee_one_digital_and_an_open_culture():
    everything = {q.id: 6 for q in QUESTIONS}
    for practice in ("people.participation", "tools.integration", "culture.openness"):
        assert score(QUESTIONS, everything | {practice: 5}).stage == 5
        assert score(QUESTIONS, everything | {practice: 1}).stage == 5


def test_practices_of_later_stages_do_not_hold_an_earlier_stage():
    for practice in DEFINING:
        result = score(QUESTIONS, {q.id: 3 for q in QUESTIONS} | {practice: 1})
        assert (result.stage, result.held_by) == (3, ())


def test_dont_know_on_a_defining_practice_does_not_lower_the_stage_but_the_confidence():
    answers = {q.id: 5 for q in QUESTIONS} | {q: 0 for q in DEFINING if DEFINING[q] == 4}
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


def test_unanswered_questions_count_as_not_answered():
    answers = {q.id: 3 for q in QUESTIONS[1:]}
    result = score(QUESTIONS, answers)
    assert (result.stage, result.answered, result.total) == (3, len(QUESTIONS) - 1, len(QUESTIONS))


def test_too_many_dont_knows_give_no_stage():
    result = score(QUESTIONS, {q.id: 0 for q in QUESTIONS})
    assert result.stage is None
    assert result.answered == 0


@given(ALL_ANSWERS)
def test_the_stage_lies_within_the_range_of_the_dimensions_bar_a_missing_defining_practice(values):
    result = score(QUESTIONS, {q.id: v for q, v in zip(QUESTIONS, values, strict=True)})
    known = result.known.values()
    assert min(min(known), 3) <= result.stage <= max(known)


def test_the_stage_runs_at_most_one_ahead_of_listening():
    answers = {q.id: 5 if q.dimension != "listening" else 2 for q in QUESTIONS}
    result = score(QUESTIONS, answers)
    assert (result.stage, result.base) == (3, 5)
    assert set(result.held_by) == {q.id for q in QUESTIONS if q.dimension == "listening"}


def test_answers_four_stages_apart_make_an_uneven_profile_even_when_the_dimensions_are_close():
    answers = {q.id: 3 for q in QUESTIONS} | {"listening.response": 5, "leadership.sponsor": 1}
    result = score(QUESTIONS, answers)
    assert max(result.known.values()) - min(result.known.values()) < 3
    assert result.uneven
    assert not score(QUESTIONS, answers | {"leadership.sponsor": 2}).uneven


@given(ALL_ANSWERS, st.integers(0, len(QUESTIONS) - 1), st.sampled_from([-1, 1]))
def test_one_answer_moved_one_step_moves_the_stage_at_most_one(values, index, step):
    moved = list(values)
    moved[index] = min(6, max(1, moved[index] + step))
    assert abs(stage_of(moved) - stage_of(values)) <= 1


@given(ALL_ANSWERS, st.integers(0, len(QUESTIONS) - 1))
def test_a_higher_answer_never_lowers_the_stage(values, index):
    raised = list(values)
    raised[index] = min(6, raised[index] + 1)
    assert stage_of(raised) >= stage_of(values)


@given(st.lists(st.integers(1, 6), min_size=1, max_size=12), st.randoms())
def test_the_order_of_the_dimensions_does_not_matter(stages, random):
    shuffled = list(stages)
    random.shuffle(shuffled)
    assert dimensions_stage(shuffled) == dimensions_stage(stages)


def test_a_stored_result_from_before_the_defining_practices_still_reads():
    from bot.scoring import Result
    old = {"stage": 3, "dimensions": {"strategy": 3}, "answered": 21, "total": 21,
           "held_by_activities": ["organisation.hub"]}
    result = Result.from_dict(old)
    assert (result.stage, result.base, result.held_by, result.answers) == (3, 3, ("organisation.hub",), {})
