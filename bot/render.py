"""Turns engine facts into neutral replies, in one language; every word comes from the catalog."""
from __future__ import annotations

from .catalog import STAGE_COUNT, Catalog, Question
from .events import Option, Reply
from .scoring import DONT_KNOW, Result

FILLED, EMPTY = "■", "□"


def bar(stage: int) -> str:
    return FILLED * stage + EMPTY * (STAGE_COUNT - stage)


def choice_value(assessment_id: int, question_id: str, choice: int) -> str:
    """The payload a button sends back; it names the assessment and question to detect stale taps."""
    return f"q:{assessment_id}:{question_id}:{choice}"


def question(
    catalog: Catalog, assessment_id: int, index: int, previous: int | None, intro: str = ""
) -> Reply:
    q: Question = catalog.questions[index]
    lines = [intro] if intro else []
    lines.append(
        catalog.message(
            "question_header",
            number=index + 1,
            total=len(catalog.questions),
            dimension=catalog.dimension(q.dimension).name,
        )
    )
    lines.append(q.text)
    if previous is not None:
        shown = catalog.message("dont_know") if previous == DONT_KNOW else str(previous)
        lines.append(catalog.message("previous_answer", answer=shown))
    options = [
        Option(str(n), label, choice_value(assessment_id, q.id, n))
        for n, label in enumerate(q.options, start=1)
    ]
    options.append(Option("0", catalog.message("dont_know"), choice_value(assessment_id, q.id, DONT_KNOW)))
    if index > 0:
        options.append(Option("/back", catalog.message("back_label"), "/back"))
    options.append(Option("/skip", catalog.message("skip_label"), "/skip"))
    return Reply("\n".join(lines), tuple(options), kind="question")


def _names(catalog: Catalog, dimension_ids: tuple[str, ...]) -> str:
    return ", ".join(catalog.dimension(d).name for d in dimension_ids)


def result(catalog: Catalog, result: Result, finished_at: str, previous: Result | None = None,
           previous_at: str | None = None) -> Reply:
    """The full explanation of a result: stage, meaning, profile, confidence, rule and next step."""
    confidence = catalog.message(
        f"confidence_{result.confidence}", answered=result.answered, total=result.total
    )
    if result.stage is None:
        return Reply(
            "\n\n".join([catalog.message("not_enough_answers"), confidence]), kind="result"
        )
    stage = catalog.stage(result.stage)
    parts = [
        catalog.message(
            "result_title", stage=stage.id, stages=STAGE_COUNT, name=stage.name, tagline=stage.tagline
        ),
        stage.meaning,
        "\n".join([catalog.message("result_dimensions_title")] + _dimension_lines(catalog, result)),
    ]
    if result.strongest:
        parts.append(
            "\n".join(
                [
                    catalog.message("strongest", names=_names(catalog, result.strongest)),
                    catalog.message("weakest", names=_names(catalog, result.weakest)),
                ]
            )
        )
    else:
        parts.append(catalog.message("evenly_developed"))
    if result.uneven:
        parts.append(catalog.message("uneven"))
    parts.append(confidence)
    explanation = [catalog.message("rule", needed=result.needed, known=len(result.known))]
    if result.held_by_activities:
        missing = ", ".join(catalog.message(f"activity_{a}") for a in result.held_by_activities)
        explanation.append(catalog.message("held_by_activities", activities=missing))
    parts.append(" ".join(explanation))
    if stage.id < STAGE_COUNT:
        following = catalog.stage(stage.id + 1)
        parts.append(
            catalog.message("next_stage", number=following.id, name=following.name, asks=stage.next_asks)
        )
    else:
        parts.append(catalog.message("top_stage", asks=stage.next_asks))
    if previous is not None and previous_at is not None:
        parts.append(change(catalog, previous, previous_at, result))
    parts.append(catalog.message("finished_on", date=finished_at[:10]))
    return Reply("\n\n".join(parts), kind="result")


def _dimension_lines(catalog: Catalog, result: Result) -> list[str]:
    lines = []
    for dimension in catalog.dimensions:
        stage = result.dimensions.get(dimension.id)
        if stage is None:
            lines.append(catalog.message("result_dimension_unknown", name=dimension.name))
        else:
            lines.append(
                catalog.message(
                    "result_dimension_line",
                    bar=bar(stage),
                    stage=stage,
                    stage_name=catalog.stage(stage).name,
                    name=dimension.name,
                )
            )
    return lines


def change(catalog: Catalog, before: Result, before_at: str, after: Result) -> str:
    """How a result moved since the one before, overall and per dimension."""
    date = before_at[:10]
    if before.stage is None or after.stage is None or before.stage == after.stage:
        head = catalog.message("change_none", date=date)
    else:
        head = catalog.message(
            "change_since", date=date,
            before=catalog.stage(before.stage).name, after=catalog.stage(after.stage).name,
            delta=f"{after.stage - before.stage:+d}",
        )
    moved = [
        catalog.message(
            "change_dimension", name=catalog.dimension(d).name, before=b, after=a, delta=f"{a - b:+d}"
        )
        for d in (dim.id for dim in catalog.dimensions)
        if (b := before.dimensions.get(d)) is not None
        and (a := after.dimensions.get(d)) is not None
        and a != b
    ]
    return "\n".join([head, *moved])


def forget_prompt(catalog: Catalog) -> Reply:
    return Reply(
        catalog.message("forget_confirm"),
        (
            Option("yes", catalog.message("forget_yes_label"), "yes"),
            Option("no", catalog.message("forget_no_label"), "no"),
        ),
        kind="question",
    )


def language_prompt(catalog: Catalog, catalogs: dict[str, Catalog]) -> Reply:
    options = tuple(Option(f"/lang {c.lang}", c.language_name, f"/lang {c.lang}") for c in catalogs.values())
    return Reply(catalog.message("lang_choose"), options)

