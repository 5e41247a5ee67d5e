"""Turns engine facts into neutral replies, in one language; every word comes from the catalog."""
from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from . import coaching
from .catalog import STAGE_COUNT, Catalog, Dimension, Question, Tip
from .charts import Chart
from .coaching import Move, Profile
from .events import Option, Reply, ReplyKind
from .scoring import DONT_KNOW, Result
from .store import AssessmentRecord, Delivery, Member, Subscription, TeamRecord
from .teams import TeamResult

FILLED, EMPTY = "■", "□"


def bar(stage: int) -> str:
    return FILLED * stage + EMPTY * (STAGE_COUNT - stage)


def choice_value(scope: str, question_id: str, choice: int) -> str:
    """The payload a button sends back; it names the assessment and question to detect stale taps."""
    return f"{choice_prefix(scope, question_id)}{choice}"


def choice_prefix(scope: str, question_id: str) -> str:
    return f"q:{scope}:{question_id}:"


def question(
    catalog: Catalog, questions: Sequence[Question], scope: str, index: int, previous: int | None,
    intro: str = "",
) -> Reply:
    """One question with its options in stage order, "don't know" as 0, and back and skip."""
    q = questions[index]
    head, answers, fixed = catalog.memo(
        ("question", q.id, index, len(questions)), lambda: _question_parts(catalog, q, index, len(questions)))
    lines = [intro, head] if intro else [head]
    if previous is not None:
        shown = catalog.message("dont_know") if previous == DONT_KNOW else str(previous)
        lines.append(catalog.message("previous_answer", answer=shown))
    prefix = choice_prefix(scope, q.id)
    options = (*(Option(key, label, prefix + key) for key, label in answers), *fixed)
    return Reply("\n".join(lines), options, kind=ReplyKind.QUESTION)


def _question_parts(
    catalog: Catalog, q: Question, index: int, total: int
) -> tuple[str, tuple[tuple[str, str], ...], tuple[Option, ...]]:
    """What a question shows whoever answers it: its header and text, its answers' keys and
    labels ("0" is "don't know"), and the options after them; made once per catalog."""
    header = catalog.message("question_header", number=index + 1, total=total,
                             dimension=catalog.dimension(q.dimension).name)
    answers = [(str(n), label) for n, label in enumerate(q.options, start=1)]
    answers.append((str(DONT_KNOW), catalog.message("dont_know")))
    fixed = [Option("/back", catalog.message("back_label"), "/back")] if index > 0 else []
    fixed.append(Option("/skip", catalog.message("skip_label"), "/skip"))
    return f"{header}\n{q.text}", tuple(answers), tuple(fixed)


def skipped_prompt(catalog: Catalog, count: int) -> Reply:
    """Before the result: the skipped questions, to answer now or leave unanswered."""
    return Reply(
        catalog.message("skipped_prompt", count=count),
        (
            Option("/assess", catalog.message("skipped_answer_label", count=count), "/assess"),
            Option("/result", catalog.message("skipped_result_label"), "/result"),
        ),
        kind=ReplyKind.QUESTION,
    )


NAMES_SHOWN = 3


def _names(catalog: Catalog, dimension_ids: tuple[str, ...]) -> str:
    return catalog.memo(("names", dimension_ids), lambda: _names_made(catalog, dimension_ids))


def _names_made(catalog: Catalog, dimension_ids: tuple[str, ...]) -> str:
    names = ", ".join(catalog.dimension_name(d) for d in dimension_ids[:NAMES_SHOWN])
    if len(dimension_ids) > NAMES_SHOWN:
        names += " " + catalog.message("and_more", count=len(dimension_ids) - NAMES_SHOWN)
    return names


def result(catalog: Catalog, result: Result, finished_at: str, earlier: AssessmentRecord | None = None) -> Reply:
    """The full explanation of a result: stage, meaning, profile, confidence, rule and next step,
    and what changed since an `earlier` assessment."""
    level = result.confidence
    confidence = catalog.memo(
        ("confidence", level, result.answered, result.total),
        lambda: catalog.message(f"confidence_{level}", answered=result.answered, total=result.total),
    )
    if result.stage is None:
        return Reply(
            "\n\n".join([catalog.message("not_enough_answers"), confidence]), kind=ReplyKind.RESULT
        )
    stage = catalog.stage(result.stage)
    parts = [
        catalog.memo(("result_title", stage.id), lambda: catalog.message(
            "result_title", stage=stage.id, stages=STAGE_COUNT, name=stage.name, tagline=stage.tagline)),
        stage.meaning,
        "\n".join([catalog.message("result_dimensions_title"), *_dimension_lines(catalog, result)]),
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
    needed, known = result.needed, len(result.known)
    parts.append(catalog.memo(("rule", needed, known), lambda: catalog.message("rule", needed=needed, known=known)))
    if result.held_by:
        parts.append(held(catalog, result))
    profile = coaching.from_result(result)
    if profile is not None:
        parts.append(next_moves(catalog, profile))
    if earlier is not None:
        parts.append(change(catalog, Result.from_dict(earlier.result), earlier.finished_at, result))
    parts.append(catalog.message("finished_on", date=finished_at[:10]))
    title = catalog.memo(("chart_profile_title", stage.id),
                         lambda: catalog.message("chart_profile_title", stage=stage.id, name=stage.name))
    chart = bars_chart(catalog, title, [result.dimensions])
    return Reply("\n\n".join(parts), _coaching_options(catalog), chart=chart, kind=ReplyKind.RESULT)


def bars_chart(
    catalog: Catalog, title: str, series: list[dict[str, int | None]], legend: tuple[str, ...] = (),
    spreads: dict[str, tuple[int, int] | None] | None = None,
) -> Chart:
    """A per-dimension chart of one or more profiles (a person, a team, a person against a team)."""
    ids, labels, stage_names = catalog.memo("bars", lambda: (
        tuple(d.id for d in catalog.dimensions), tuple(d.name for d in catalog.dimensions),
        tuple(s.name for s in catalog.stages)))
    return Chart(
        kind="bars",
        title=title,
        labels=labels,
        stage_names=stage_names,
        series=tuple(tuple(values.get(d) for d in ids) for values in series),
        legend=legend,
        ranges=tuple(spreads.get(d) for d in ids) if spreads else (),
    )


def progress(catalog: Catalog, history: list[tuple[str, int | None]]) -> Reply:
    """The overall stage over time, oldest first, when there is more than one result."""
    chart = Chart(
        kind="progress",
        title=catalog.message("chart_progress_title"),
        labels=tuple(at[:10] for at, _ in history),
        stage_names=tuple(s.name for s in catalog.stages),
        series=(tuple(stage for _, stage in history),),
    )
    return Reply(catalog.message("progress_caption", count=len(history)), chart=chart, kind=ReplyKind.PROGRESS)


def _coaching_options(catalog: Catalog) -> tuple[Option, ...]:
    return catalog.memo("coaching_options", lambda: (
        Option("/tips", catalog.message("tips_label"), "/tips"),
        Option("/roadmap", catalog.message("roadmap_label"), "/roadmap"),
    ))


def _tip_options(catalog: Catalog, tip: Tip | None) -> tuple[Option, ...]:
    if tip is None:
        return _coaching_options(catalog)
    def first(words_key: str) -> str:
        """What to type: the first of a message's '|'-separated words."""
        return catalog.message(words_key).split("|")[0]

    return (
        Option(first("more_words"), catalog.message("more_label"), "/tips more"),
        Option(first("why_words"), catalog.message("why_label"), f"/tips why {tip.id}"),
        Option(first("done_words"), catalog.message("done_label"), f"/tips done {tip.id}"),
        Option(first("not_for_us_words"), catalog.message("not_for_us_label"), f"/tips dismiss {tip.id}"),
    )


def tip(catalog: Catalog, tip: Tip) -> Reply:
    stage = catalog.stage(tip.stage)
    head = catalog.message(
        "tip_header", stage=stage.id, name=stage.name, dimension=catalog.dimension(tip.dimension).name
    )
    return Reply(f"{head}\n{tip.text}", _tip_options(catalog, tip), kind=ReplyKind.TIP)


def tip_why(catalog: Catalog, tip: Tip, profile: Profile | None) -> Reply:
    return Reply(why_it_fits(catalog, tip, profile), _tip_options(catalog, tip), kind=ReplyKind.TIP)


def why_it_fits(catalog: Catalog, tip: Tip, profile: Profile | None) -> str:
    """The tip's reason, where the dimension stands, and the answer the tip follows from."""
    stage = catalog.stage(tip.stage)
    weakest = profile is not None and tip.dimension in profile.weakest
    lines = [tip.why, catalog.message(
        "tip_fits_weakest" if weakest else "tip_fits",
        stage=stage.id, name=stage.name, dimension=catalog.dimension(tip.dimension).name,
    )]
    question = coaching.follows_from(catalog, profile, tip) if profile is not None else None
    if profile is not None and question is not None:
        lines.append(catalog.message(
            "tip_follows_team" if profile.team else "tip_follows",
            question=question.text, answer=question.options[profile.answer(question.id) - 1],
        ))
    return "\n".join(lines)


def tip_feedback(catalog: Catalog, key: str) -> Reply:
    return Reply(catalog.message(key), _coaching_options(catalog), kind=ReplyKind(key))


def coaching_hint(catalog: Catalog, tip: Tip | None) -> Reply:
    return Reply(catalog.message("coaching_hint"), _tip_options(catalog, tip))


def no_profile(catalog: Catalog) -> Reply:
    return Reply(
        catalog.message("tips_need_profile"),
        (
            Option("/tips quick", catalog.message("quick_label"), "/tips quick"),
            Option("/tips stage", catalog.message("pick_stage_label"), "/tips stage"),
            Option("/assess", catalog.message("assess_label"), "/assess"),
        ),
    )


def stage_picker(catalog: Catalog) -> Reply:
    options = tuple(
        Option(f"/tips stage {s.id}", f"{s.id} {s.name} – {s.tagline}", f"/tips stage {s.id}")
        for s in catalog.stages
    )
    return Reply(catalog.message("pick_stage"), options, kind=ReplyKind.QUESTION)


def held(catalog: Catalog, result: Result) -> str:
    """Why the stage is below where the dimensions point: defining practices not yet in place
    (the next moves name them first)."""
    assert result.base is not None
    base = catalog.stage(result.base)
    return catalog.message("held_by", base=base.id, base_name=base.name, stage=result.stage)


NEXT_MOVES_SHOWN = 4


def next_moves(catalog: Catalog, profile: Profile) -> str:
    """What the next stage asks: the roadmap's moves the answers do not show in place. When they
    show every move, the weakest dimensions are what is left to work on."""
    moves = coaching.roadmap(catalog, profile)
    if profile.stage == STAGE_COUNT:
        return "\n".join([catalog.message("top_stage")] + [f"· {m.item.text}" for m in moves])
    following = catalog.stage(profile.stage + 1)
    holding = set(profile.held_by)
    open_moves = sorted((m for m in moves if m.open), key=lambda m: m.item.question not in holding)
    if not open_moves:
        weakest = profile.weakest
        if weakest:
            return catalog.message("next_all_in_place", number=following.id, name=following.name,
                                   names=_names(catalog, weakest))
        return catalog.message("next_all_in_place_even", number=following.id, name=following.name)
    lines = [catalog.message("next_stage", number=following.id, name=following.name)]
    lines += [f"· {m.item.text}" for m in open_moves[:NEXT_MOVES_SHOWN]]
    if len(open_moves) > NEXT_MOVES_SHOWN:
        lines.append(catalog.message("next_more", count=len(open_moves) - NEXT_MOVES_SHOWN))
    in_place = sum(1 for m in moves if m.in_place)
    if in_place:
        lines.append(catalog.message("next_in_place", count=in_place))
    return "\n".join(lines)


def roadmap(catalog: Catalog, profile: Profile, moves: list[Move], tips_done: int) -> Reply:
    """The moves from the profile's stage to the next: in place from the answers, marked done by
    the person, or still open (with a button to mark it done)."""
    stage = catalog.stage(profile.stage)
    if stage.id < STAGE_COUNT:
        following = catalog.stage(stage.id + 1)
        head = catalog.message("roadmap_title", number=following.id, name=following.name)
    else:
        head = catalog.message("roadmap_title_top", name=stage.name)
    lines = [head]
    options = []
    for move in moves:
        if move.in_place:
            lines.append(f"✓ {move.number}. {move.item.text} {catalog.message('roadmap_in_place')}")
        else:
            lines.append(f"{'✓' if move.done else '○'} {move.number}. {move.item.text}")
        if move.open:
            options.append(Option(f"/roadmap done {move.number}",
                                  catalog.message("roadmap_mark_label", number=move.number),
                                  f"/roadmap done {move.item.id}"))
    finished = sum(1 for m in moves if not m.open)
    lines.append(" ".join([
        catalog.message("roadmap_progress", done=finished, count=len(moves)),
        catalog.message("tips_done_count", count=tips_done),
        catalog.message("roadmap_how") if options else "",
    ]).strip())
    return Reply("\n".join(lines), tuple(options), kind=ReplyKind.ROADMAP)


def _dimension_lines(catalog: Catalog, result: Result) -> list[str]:
    lines = []
    for dimension in catalog.dimensions:
        stage = result.dimensions.get(dimension.id)
        lines.append(catalog.memo(("dimension_line", dimension.id, stage),
                                  partial(_dimension_line, catalog, dimension, stage)))
    return lines


def _dimension_line(catalog: Catalog, dimension: Dimension, stage: int | None) -> str:
    if stage is None:
        return catalog.message("result_dimension_unknown", name=dimension.name)
    return catalog.message(
        "result_dimension_line", bar=bar(stage), stage=stage, stage_name=catalog.stage(stage).name,
        name=dimension.name,
    )


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
        kind=ReplyKind.QUESTION,
    )


def language_prompt(catalog: Catalog, catalogs: dict[str, Catalog]) -> Reply:
    options = tuple(Option(f"/lang {c.lang}", c.language_name, f"/lang {c.lang}") for c in catalogs.values())
    return Reply(catalog.message("lang_choose"), options)



def team_ref(team_id: int) -> str:
    """How a team's progress message is known, so that every update edits the same message."""
    return f"team:{team_id}"


def team_progress(catalog: Catalog, team: TeamRecord, members: list[Member], invite: str | None = None) -> Reply:
    """Who has answered and who is still answering: never what anyone answered. Its button
    carries the team's invite, so that tapping it is enough to take part."""
    answered = [m.name for m in members if m.answered]
    waiting = [m.name for m in members if not m.answered]
    lines = [catalog.message("team_progress_title", name=team.name, code=team.code)]
    lines.append(catalog.message("team_progress_answered", count=len(answered), names=", ".join(answered) or "–"))
    if team.status != "open":
        date = (team.closed_at or "")[:10]
        if TeamResult.from_dict(team.result or {}).visible:
            lines.append(catalog.message("team_progress_closed", date=date))
        else:
            lines.append(catalog.message("team_progress_closed_withheld", date=date))
        return Reply("\n".join(lines), kind=ReplyKind.TEAM_PROGRESS, ref=team_ref(team.id))
    if waiting:
        lines.append(catalog.message("team_progress_waiting", names=", ".join(waiting)))
    lines.append(catalog.message("team_progress_how", code=team.code))
    join = f"/start {invite}" if invite else f"/team join {team.code}"
    option = Option(join, catalog.message("team_take_part_label"), join, private=True)
    return Reply("\n".join(lines), (option,), kind=ReplyKind.TEAM_PROGRESS, ref=team_ref(team.id))


def team_result(
    catalog: Catalog, team: TeamRecord, result: TeamResult,
    previous: tuple[TeamRecord, TeamResult] | None = None,
) -> Reply:
    """The team's stage, profile, spread and disagreements; below three participants only that
    there is no result and why (also for a result stored with a stage before that rule)."""
    if not result.visible:
        return Reply(catalog.message("team_result_withheld", name=team.name, count=result.participants),
                     kind=ReplyKind.TEAM_RESULT)
    if result.stage is None:
        head = catalog.message("team_result_unknown", name=team.name)
    else:
        stage = catalog.stage(result.stage)
        head = catalog.message("team_result_title", name=team.name, stage=stage.id, stage_name=stage.name,
                               tagline=stage.tagline)
    parts = [head, catalog.message("team_participants", count=result.participants)]
    lines = [catalog.message("result_dimensions_title")]
    for dimension in catalog.dimensions:
        value, spread = result.dimensions.get(dimension.id), result.spreads.get(dimension.id)
        if value is None or spread is None:
            lines.append(catalog.message("result_dimension_unknown", name=dimension.name))
        else:
            lines.append(catalog.message(
                "team_dimension_line", bar=bar(value), stage=value, stage_name=catalog.stage(value).name,
                low=spread[0], high=spread[1], name=dimension.name))
    parts.append("\n".join(lines))
    if result.disagreements:
        starters = [catalog.message("team_disagreements_title")]
        for d in result.disagreements:
            low, high = result.spreads[d] or (0, 0)
            starters.append(catalog.message(
                "team_disagreement", name=catalog.dimension_name(d), low=low, high=high))
        parts.append("\n".join(starters))
    else:
        parts.append(catalog.message("team_agreement"))
    title = catalog.message("chart_team_title", name=team.name)
    chart = bars_chart(catalog, title, [result.dimensions], (catalog.message("chart_team_legend"),),
                       result.spreads)
    if result.stage is not None:
        as_one = result.as_result()
        if as_one.held_by:
            parts.append(held(catalog, as_one))
        profile = coaching.from_result(as_one, team=True)
        if profile is not None:
            parts.append(next_moves(catalog, profile))
    if previous is not None and previous[1].visible:
        before_team, before = previous
        parts.append(change(catalog, before.as_result(), before_team.closed_at or "", result.as_result()))
    return Reply("\n\n".join(parts), chart=chart, kind=ReplyKind.TEAM_RESULT)


def _overall_change(catalog: Catalog, before: int | None, before_at: str, after: int | None) -> str:
    if before is None or after is None or before == after:
        return catalog.message("change_none", date=before_at[:10])
    return catalog.message("change_since", date=before_at[:10], before=catalog.stage(before).name,
                           after=catalog.stage(after).name, delta=f"{after - before:+d}")


def person_against_team(catalog: Catalog, team: TeamRecord, own: dict, result: TeamResult) -> Reply | None:
    """A member's own profile against the team's; none for a team too small to show, where the
    team's side would give the other members' answers away."""
    if not result.visible:
        return None
    mine = Result.from_dict(own)
    chart = bars_chart(
        catalog, catalog.message("chart_compare_title", name=team.name), [result.dimensions, mine.dimensions],
        (catalog.message("chart_team_legend"), catalog.message("chart_you_legend")), result.spreads,
    )
    return Reply(catalog.message("team_compare_caption", name=team.name), chart=chart, kind=ReplyKind.TEAM_COMPARE)


def private_only(catalog: Catalog, command: str) -> Reply:
    option = Option(command, catalog.message("private_only_label"), command, private=True)
    return Reply(catalog.message("private_only"), (option,))


def home(
    catalog: Catalog, catalogs: dict[str, Catalog], latest: tuple[str, Result] | None,
    previous: tuple[str, Result] | None, in_progress: int | None, roadmap: tuple[int, int, int] | None,
) -> Reply:
    parts = [catalog.message("home_title")]
    if latest is not None and (number := latest[1].stage) is not None:
        at, result = latest
        stage = catalog.stage(number)
        parts.append(catalog.message("home_stage", stage=stage.id, name=stage.name, tagline=stage.tagline,
                                     date=at[:10]))
        if previous is not None:
            parts.append(_overall_change(catalog, previous[1].stage, previous[0], result.stage))
    else:
        parts.append(catalog.message("no_result"))
    if in_progress is not None:
        parts.append(catalog.message("home_in_progress", number=in_progress, total=len(catalog.questions)))
    if roadmap is not None:
        done, total, tips = roadmap
        parts.append(" ".join([catalog.message("home_roadmap", done=done, count=total),
                               catalog.message("tips_done_count", count=tips)]))
    options = [
        Option("/assess", catalog.message("home_assess_label"), "/assess"),
        Option("/tips", catalog.message("tips_label"), "/tips"),
        *(Option(f"/lang {c.lang}", c.language_name, f"/lang {c.lang}") for c in catalogs.values()
          if c.lang != catalog.lang),
    ]
    return Reply("\n\n".join(parts), tuple(options), kind=ReplyKind.HOME)


def weekly_tip(catalog: Catalog, tip: Tip, profile: Profile | None = None, late: bool = False,
               preview: bool = False) -> Reply:
    """A channel's tip of the week: what to do, why it fits its team, and feedback buttons."""
    stage = catalog.stage(tip.stage)
    head = catalog.message("weekly_tip_header", stage=stage.id, name=stage.name,
                           dimension=catalog.dimension(tip.dimension).name)
    parts = [head, tip.text, catalog.message("weekly_why", why=why_it_fits(catalog, tip, profile))]
    if late:
        parts.append(catalog.message("weekly_late"))
    if preview:
        parts.insert(0, catalog.message("weekly_preview"))
        return Reply("\n\n".join(parts), kind=ReplyKind.WEEKLY_PREVIEW)
    options = (
        Option("done", catalog.message("done_label"), f"/tips channel-done {tip.id}"),
        Option("not for us", catalog.message("not_for_us_label"), f"/tips channel-dismiss {tip.id}"),
    )
    return Reply("\n\n".join(parts), options, kind=ReplyKind.WEEKLY_TIP)


def weekly_status(catalog: Catalog, subscription: Subscription, next_slot: str,
                  profile: Profile | None) -> Reply:
    day = catalog.message("weekdays").split("|")[subscription.weekday]
    stage = catalog.stage(profile.stage).name if profile else "?"
    text = catalog.message(
        f"weekly_status_{subscription.status}", day=day, at=subscription.at, zone=subscription.zone,
        lang=subscription.lang, stage=stage, next=next_slot,
    )
    return Reply(text, kind=ReplyKind.WEEKLY_STATUS)


def weekly_history(catalog: Catalog, deliveries: list[Delivery]) -> Reply:
    if not deliveries:
        return Reply(catalog.message("weekly_history_empty"))
    lines = [catalog.message("weekly_history_title")]
    for d in deliveries:
        tip = _tip_line(catalog, d.tip_id)
        lines.append(catalog.message(f"weekly_history_{d.status}", week=d.period, tip=tip,
                                     late=catalog.message("weekly_history_late") if d.late else ""))
    return Reply("\n".join(lines))


def _tip_line(catalog: Catalog, tip_id: str | None) -> str:
    """A delivered tip in a line; a tip since removed from the content is said to be gone."""
    if not tip_id:
        return ""
    found = catalog.find_tip(tip_id)
    return found.text[:70] + "…" if found else catalog.message("content_gone")
