"""The tips conversation: selection, no repeats, feedback, the quick check, the roadmap."""
from __future__ import annotations

from bot.coaching import from_result, tip_pool
from bot.scoring import score
from bot.testing import ChatClient

# Every dimension at stage 4 (Formalized) but tools, answered 1 on both its questions.
WEAK_TOOLS = [4] * 18 + [1, 1] + [4, 4]


def stage_of_tip(client: ChatClient) -> tuple[int, str]:
    """(stage, dimension id) of the tip on screen, read from its buttons and the catalog."""
    tip = client.engine.catalogs["en"].tip(shown_tip_id(client))
    return tip.stage, tip.dimension


def shown_tip_id(client: ChatClient) -> str:
    return next(o.value.split()[-1] for o in client.replies[-1].options if o.value.startswith("/tips why"))


def pool_for(engine, values: list[int]) -> list[str]:
    catalog = engine.catalogs["en"]
    profile = from_result(score(catalog.questions, {q.id: v for q, v in zip(catalog.questions, values, strict=True)}))
    return [t.id for t in tip_pool(catalog, profile)]


def test_a_result_offers_tips_and_the_roadmap(ann):
    result = ann.answer_all(WEAK_TOOLS)[-1]
    assert [o.value for o in result.options] == ["/tips", "/roadmap"]


def test_the_first_tip_is_for_the_weakest_dimension_at_its_own_stage(ann):
    ann.answer_all(WEAK_TOOLS)
    ann.press_option("/tips")
    assert ann.replies[-1].kind == "tip"
    assert stage_of_tip(ann) == (1, "tools")


def test_each_dimension_gets_tips_at_its_own_stage(ann, engine):
    values = [3] * 8 + [4, 4, 4] + [3] * 11
    ann.answer_all(values)
    stages = {(t.stage, t.dimension) for t in engine.catalogs["en"].tips if t.id in pool_for(engine, values)}
    assert (4, "listening") in stages and (3, "listening") not in stages
    assert (3, "strategy") in stages


def test_tips_never_propose_what_the_answers_show_in_place(engine):
    catalog = engine.catalogs["en"]
    for value in range(1, 7):
        values = [value] * len(catalog.questions)
        answers = {q.id: value for q in catalog.questions}
        for tip_id in pool_for(engine, values):
            tip = catalog.tip(tip_id)
            assert tip.question is None or answers[tip.question] < tip.level, tip_id


def test_a_dimension_whose_own_tips_are_all_in_place_gets_the_next_stages(engine):
    catalog = engine.catalogs["en"]
    values = [5 if q.dimension == "listening" else 3 for q in catalog.questions]
    answers = dict(zip((q.id for q in catalog.questions), values, strict=True))
    own = [t for t in catalog.tips if (t.stage, t.dimension) == (5, "listening")]
    assert own and all(t.question is not None and answers[t.question] >= t.level for t in own)
    listening = [catalog.tip(t) for t in pool_for(engine, values) if ".listening." in t]
    assert listening and {t.stage for t in listening} == {6}


def test_why_names_the_weakest_dimension_and_the_answer_it_follows_from(ann, engine):
    ann.answer_all(WEAK_TOOLS)
    ann.send("/tips")
    catalog = engine.catalogs["en"]
    tip = catalog.tip(shown_tip_id(ann))
    ann.send("why")
    assert tip.why in ann.text and "your weakest dimension" in ann.text
    assert "It follows from your answer to" in ann.text
    asked = next(q for q in catalog.questions if q.text in ann.text)
    assert asked.dimension == "tools" and f"“{asked.options[0]}”" in ann.text


def test_a_dismissed_tip_is_never_offered_again(ann, engine):
    ann.answer_all(WEAK_TOOLS)
    ann.send("/tips")
    dismissed = shown_tip_id(ann)
    ann.send("not for us")
    assert "won't suggest that one again" in ann.replies[0].text
    pool = pool_for(engine, WEAK_TOOLS)
    offered = {shown_tip_id(ann)}
    for _ in range(2 * len(pool)):
        ann.send("more")
        offered.add(shown_tip_id(ann))
    assert dismissed not in offered
    assert offered == set(pool) - {dismissed}


def test_a_done_tip_counts_as_progress_and_is_not_offered_again(ann):
    ann.answer_all(WEAK_TOOLS)
    ann.send("/tips")
    done = shown_tip_id(ann)
    ann.press_option("done")
    assert "counts towards your progress" in ann.text
    ann.send("/roadmap")
    assert "1 tip done." in ann.text
    ann.send("/tips")
    assert shown_tip_id(ann) != done


def test_feedback_on_an_older_tip_button_applies_to_that_tip(ann):
    ann.answer_all(WEAK_TOOLS)
    ann.send("/tips")
    first = ann.replies[-1]
    ann.send("more")
    ann.press(next(o.value for o in first.options if o.value.startswith("/tips done")))
    ann.send("/roadmap")
    assert "1 tip done." in ann.text


def test_without_an_assessment_tips_offers_a_quick_check_or_a_stage(ann):
    ann.send("/tips")
    assert [o.value for o in ann.replies[-1].options] == ["/tips quick", "/tips stage", "/assess"]
    assert "/assess" in ann.text
    ann.send("why")
    assert "/assess" in ann.text


def test_the_quick_check_gives_a_rough_stage_and_tips_for_it(ann):
    ann.send("/tips")
    ann.press_option("/tips quick")
    assert "Question 1 of 3" in ann.text
    for value in ("2", "3", "2"):
        ann.send(value)
    assert "A rough guess from the quick check: stage 2" in ann.text
    assert stage_of_tip(ann)[0] == 2


def test_the_quick_check_takes_back_skip_and_bad_input(ann):
    ann.send("/tips quick")
    ann.send("5")
    ann.send("/back")
    assert "Question 1 of 3" in ann.text and "Your answer before: 5" in ann.text
    ann.send("nope")
    assert "Please answer with the number" in ann.text
    ann.send("/skip")
    ann.send("/skip")
    ann.send("/skip")
    assert "rough guess from the quick check: stage 5" in ann.text


def test_a_picked_stage_is_coached(ann):
    ann.send("/tips stage")
    assert len(ann.replies[-1].options) == 6
    ann.press_option("/tips stage 5")
    assert "coach you for stage 5" in ann.text
    assert stage_of_tip(ann)[0] == 5


def test_the_roadmap_lists_the_next_stage_checklist_and_marks_items(ann, engine):
    ann.answer_all(2)
    ann.send("/roadmap")
    checklist = engine.catalogs["en"].stage(2).checklist
    assert "Your roadmap to stage 3, Engagement" in ann.text
    assert all(f"○ {n}. {item.text}" in ann.text for n, item in enumerate(checklist, 1))
    ann.press_option("/roadmap done 2")
    assert f"✓ 2. {checklist[1].text}" in ann.text
    assert "Progress: 1 of" in ann.text
    ann.send("/roadmap done 99")
    assert "Which move do you mean?" in ann.text


def test_the_roadmap_shows_what_the_answers_already_show_in_place(ann, engine):
    catalog = engine.catalogs["en"]
    # Stage 3 everywhere, but an executive sponsor and a core team are in place.
    values = [4 if q.id in ("leadership.sponsor", "organisation.hub") else 3 for q in catalog.questions]
    result = ann.answer_all(values)[-1].text
    checklist = {item.question: item for item in catalog.stage(3).checklist}
    asks = result[result.index("What stage 4, Formalized, asks of you next:"):]
    assert checklist["organisation.governance"].text in asks
    assert checklist["leadership.sponsor"].text not in asks
    assert checklist["organisation.hub"].text not in asks
    assert "Your answers already show 2 moves of this roadmap in place." in asks
    ann.send("/roadmap")
    sponsor = checklist["leadership.sponsor"]
    assert f"✓ 1. {sponsor.text} (in place, from your answers)" in ann.text
    assert not any(o.value == f"/roadmap done {sponsor.id}" for o in ann.replies[-1].options)


def test_a_held_stage_names_the_missing_practice_first(ann, engine):
    catalog = engine.catalogs["en"]
    values = [2 if q.id == "organisation.governance" else 5 for q in catalog.questions]
    result = ann.answer_all(values)[-1].text
    assert "stage 3 of 6: Engagement" in result
    assert "Your dimensions point to stage 5, Strategic" in result
    first_move = result.split("What stage 4, Formalized, asks of you next:\n· ")[1].splitlines()[0]
    assert first_move == next(i.text for i in catalog.stage(3).checklist if i.question == "organisation.governance")


def test_an_even_profile_still_gets_its_next_moves(ann, engine):
    result = ann.answer_all(3)[-1].text
    assert "All your dimensions are at the same stage" in result
    assert "What stage 4, Formalized, asks of you next:" in result
    assert engine.catalogs["en"].stage(3).checklist[0].text in result


def test_the_roadmap_at_the_last_stage_is_about_staying_there(ann):
    ann.answer_all(6)
    ann.send("/roadmap")
    assert "Staying Converged" in ann.text


def test_coaching_works_in_dutch(engine):
    noor = ChatClient(engine, "noor", lang="nl")
    noor.answer_all(WEAK_TOOLS)
    noor.send("/tips")
    assert "Tip voor fase 1" in noor.text
    noor.send("waarom")
    assert "zwakste onderdeel" in noor.text
    noor.send("meer")
    assert "Tip voor fase" in noor.text
    noor.send("niet voor ons")
    assert "stel ik niet meer voor" in noor.text
    noor.send("/roadmap")
    assert "Jullie roadmap naar fase 5" in noor.text


def test_typing_something_else_after_a_tip_explains_the_choices(ann):
    ann.send("/tips stage 3")
    ann.send("what now")
    assert "Type more for another tip" in ann.text
    assert len(ann.replies[-1].options) == 4


def test_why_claims_the_weakest_dimension_only_when_there_is_one(ann):
    ann.answer_all(3)
    ann.send("/tips")
    ann.send("why")
    assert "is now: stage 3, Engagement" in ann.text and "weakest" not in ann.text
