"""The tips conversation: selection, no repeats, feedback, the quick check, the roadmap."""
from __future__ import annotations

from bot.testing import ChatClient

WEAK_TOOLS = [4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 1, 1, 4, 4]


def stage_of_tip(client: ChatClient) -> tuple[int, str]:
    """(stage, dimension id) of the tip on screen, read from its buttons and the catalog."""
    tip_id = next(o.value.split()[-1] for o in client.replies[-1].options if o.value.startswith("/tips why"))
    tip = client.engine.catalogs["en"].tip(tip_id)
    return tip.stage, tip.dimension


def shown_tip_id(client: ChatClient) -> str:
    return next(o.value.split()[-1] for o in client.replies[-1].options if o.value.startswith("/tips why"))


def test_a_result_offers_tips_and_the_roadmap(ann, questions):
    result = ann.answer_all(WEAK_TOOLS[:questions])[-1]
    assert [o.value for o in result.options] == ["/tips", "/roadmap"]


def test_the_first_tip_fits_the_stage_and_the_weakest_dimension(ann, questions):
    ann.answer_all(WEAK_TOOLS[:questions])
    ann.press_option("/tips")
    assert ann.replies[-1].kind == "tip"
    assert stage_of_tip(ann) == (4, "tools")


def test_tips_go_weakest_dimension_first_and_never_repeat_until_the_pool_is_used(ann, engine, questions):
    ann.answer_all(WEAK_TOOLS[:questions])
    pool = [t.id for t in engine.catalogs["en"].tips if t.stage == 4]
    ann.send("/tips")
    seen = [shown_tip_id(ann)]
    for _ in range(len(pool) - 1):
        ann.send("more")
        seen.append(shown_tip_id(ann))
    assert sorted(seen) == sorted(pool)
    tools_tips = [t for t in seen if ".tools." in t]
    assert seen[: len(tools_tips)] == tools_tips
    ann.send("more")
    assert "come round again" in ann.text
    assert shown_tip_id(ann) == seen[0]


def test_why_says_why_the_tip_fits(ann, engine, questions):
    ann.answer_all(WEAK_TOOLS[:questions])
    ann.send("/tips")
    tip = engine.catalogs["en"].tip(shown_tip_id(ann))
    ann.send("why")
    assert tip.why in ann.text and "your weakest dimension" in ann.text


def test_a_dismissed_tip_is_never_offered_again(ann, engine, questions):
    ann.answer_all(WEAK_TOOLS[:questions])
    ann.send("/tips")
    dismissed = shown_tip_id(ann)
    ann.send("not for us")
    assert "won't suggest that one again" in ann.replies[0].text
    pool = [t.id for t in engine.catalogs["en"].tips if t.stage == 4]
    offered = {shown_tip_id(ann)}
    for _ in range(2 * len(pool)):
        ann.send("more")
        offered.add(shown_tip_id(ann))
    assert dismissed not in offered
    assert offered == set(pool) - {dismissed}


def test_a_done_tip_counts_as_progress_and_is_not_offered_again(ann, questions):
    ann.answer_all(WEAK_TOOLS[:questions])
    ann.send("/tips")
    done = shown_tip_id(ann)
    ann.press_option("done")
    assert "counts towards your progress" in ann.text
    ann.send("/roadmap")
    assert "and 1 tips done" in ann.text
    ann.send("/tips")
    assert shown_tip_id(ann) != done


def test_feedback_on_an_older_tip_button_applies_to_that_tip(ann, questions):
    ann.answer_all(WEAK_TOOLS[:questions])
    ann.send("/tips")
    first = ann.replies[-1]
    ann.send("more")
    ann.press(next(o.value for o in first.options if o.value.startswith("/tips done")))
    ann.send("/roadmap")
    assert "1 tips done" in ann.text


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


def test_the_roadmap_lists_the_next_stage_checklist_and_marks_items(ann, engine, questions):
    ann.answer_all(2)
    ann.send("/roadmap")
    checklist = engine.catalogs["en"].stage(2).checklist
    assert "Your roadmap to stage 3, Engagement" in ann.text
    assert all(item.text in ann.text for item in checklist)
    ann.press_option("/roadmap done 2")
    assert f"✓ 2. {checklist[1].text}" in ann.text
    assert "Progress: 1 of" in ann.text
    ann.send("/roadmap done 99")
    assert "Which move do you mean?" in ann.text


def test_the_roadmap_at_the_last_stage_is_about_staying_there(ann):
    ann.answer_all(6)
    ann.send("/roadmap")
    assert "Staying Converged" in ann.text


def test_coaching_works_in_dutch(engine, questions):
    noor = ChatClient(engine, "noor", lang="nl")
    noor.answer_all(WEAK_TOOLS[:questions])
    noor.send("/tips")
    assert "Tip voor fase 4" in noor.text
    noor.send("waarom")
    assert "zwakste onderdeel" in noor.text
    noor.send("meer")
    assert "Tip voor fase 4" in noor.text
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
    assert "It fits stage 3" in ann.text and "weakest" not in ann.text
