"""The assessment against organisations described in plain facts (tests/calibration/).

Each organisation was described first, from the stage definitions, and then answered question
by question from its description alone, as a person from it would. The rule must put nearly all
of them where their description puts them, and none more than one stage off.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.catalog import default_catalogs
from bot.coaching import from_result, roadmap
from bot.scoring import score
from bot.testing import ChatClient

CALIBRATION = Path(__file__).parent / "calibration" / "organisations.toml"
ORGANISATIONS = tomllib.loads(CALIBRATION.read_text(encoding="utf-8"))["organisation"]
REGULAR = [o for o in ORGANISATIONS if not o["uneven"]]
UNEVEN = [o for o in ORGANISATIONS if o["uneven"]]
QUESTIONS = default_catalogs()["en"].questions


def result_of(organisation: dict):
    return score(QUESTIONS, organisation["answers"])


def test_the_set_has_four_organisations_per_stage_and_four_uneven_ones():
    for stage in range(1, 7):
        assert sum(1 for o in REGULAR if o["stage"] == stage) >= 4, stage
    assert len(REGULAR) >= 28
    assert len(UNEVEN) >= 4


@pytest.mark.parametrize("organisation", ORGANISATIONS, ids=lambda o: o["id"])
def test_every_organisation_answers_every_question(organisation):
    assert set(organisation["answers"]) == {q.id for q in QUESTIONS}
    assert all(0 <= v <= 6 for v in organisation["answers"].values())


def test_at_least_26_in_28_get_the_stage_their_description_puts_them_in():
    misses = {o["id"]: (o["stage"], result_of(o).stage) for o in REGULAR if result_of(o).stage != o["stage"]}
    assert (len(REGULAR) - len(misses)) * 28 >= 26 * len(REGULAR), misses


@pytest.mark.parametrize("organisation", ORGANISATIONS, ids=lambda o: o["id"])
def test_no_organisation_is_more_than_one_stage_off(organisation):
    stage = result_of(organisation).stage
    assert stage is not None and abs(stage - organisation["stage"]) <= 1


@pytest.mark.parametrize("organisation", UNEVEN, ids=lambda o: o["id"])
def test_an_uneven_organisation_is_flagged(organisation):
    assert result_of(organisation).uneven


@pytest.mark.parametrize("organisation", REGULAR, ids=lambda o: o["id"])
def test_the_roadmap_proposes_nothing_the_answers_show_in_place(organisation):
    result = result_of(organisation)
    profile = from_result(result)
    assert profile is not None
    catalog = default_catalogs()["en"]
    for move in roadmap(catalog, profile):
        if move.open and move.item.question is not None:
            assert organisation["answers"][move.item.question] <= profile.stage, move.item.id


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_an_organisation_answered_in_the_chat_gets_the_same_stage_in_either_language(engine, lang):
    organisation = next(o for o in REGULAR if o["stage"] == 4)
    person = ChatClient(engine, f"calibration-{lang}", lang=lang)
    person.answer_all([organisation["answers"][q.id] for q in QUESTIONS])
    name = default_catalogs()[lang].stage(result_of(organisation).stage).name
    assert person.replies[-1].kind == "result"
    assert name in person.replies[-1].text.splitlines()[0]
