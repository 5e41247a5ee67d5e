"""The content files are complete, and `stagecoach content check` catches each kind of defect."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.catalog import CONTENT_DIR, default_catalogs
from bot.content_check import MIN_TIPS_PER_CELL, check

BOT_DIR = Path(__file__).parents[1] / "bot"


def dump(value: dict) -> str:
    """A minimal TOML writer for the shapes our content uses (tables, arrays of tables, strings)."""
    lines: list[str] = []

    def scalars(table: dict) -> None:
        for key, item in table.items():
            if not isinstance(item, (dict, list)) or (isinstance(item, list) and not _tables(item)):
                lines.append(f"{json.dumps(key)} = {json.dumps(item, ensure_ascii=False)}")

    def nested(table: dict, prefix: str) -> None:
        for key, item in table.items():
            if isinstance(item, dict):
                lines.append(f"[{prefix}{key}]")
                scalars(item)
                nested(item, f"{prefix}{key}.")
            elif isinstance(item, list) and _tables(item):
                for entry in item:
                    lines.append(f"[[{prefix}{key}]]")
                    scalars(entry)
                    nested(entry, f"{prefix}{key}.")

    scalars(value)
    nested(value, "")
    return "\n".join(lines) + "\n"


def _tables(items: list) -> bool:
    return bool(items) and all(isinstance(i, dict) for i in items)


@pytest.fixture
def content(tmp_path: Path) -> dict[str, dict]:
    """The real content as data, to break on purpose; `write` puts it in tmp_path."""
    return {p.stem: tomllib.loads(p.read_text(encoding="utf-8")) for p in CONTENT_DIR.glob("*.toml")}


def write(tmp_path: Path, content: dict[str, dict]) -> Path:
    for lang, data in content.items():
        (tmp_path / f"{lang}.toml").write_text(dump(data), encoding="utf-8")
    return tmp_path


def run_check(directory: Path | None = None) -> subprocess.CompletedProcess:
    extra = ["--dir", str(directory)] if directory else []
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "content", "check", *extra],
        capture_output=True, text=True, timeout=60,
    )


def test_the_shipped_content_passes_with_enough_tips_everywhere():
    completed = run_check()
    assert completed.returncode == 0, completed.stdout + completed.stderr
    summary = completed.stdout.strip().splitlines()[-1]
    assert summary.startswith("content ok: 2 languages (en, nl)")
    fewest = int(re.search(r"at least (\d+) per stage × dimension", summary).group(1))
    assert fewest >= MIN_TIPS_PER_CELL


def test_the_dumper_round_trips_the_real_content(tmp_path, content):
    assert check(write(tmp_path, content))[0] == []


def test_the_questionnaire_has_nine_dimensions_of_two_or_three_questions():
    for catalog in default_catalogs().values():
        assert 8 <= len(catalog.dimensions) <= 10
        for dimension in catalog.dimensions:
            count = sum(1 for q in catalog.questions if q.dimension == dimension.id)
            assert 2 <= count <= 3, (catalog.lang, dimension.id)


def test_a_question_without_six_options_is_caught(tmp_path, content):
    content["en"]["questions"][0]["options"].pop()
    problems, _ = check(write(tmp_path, content))
    question = content["en"]["questions"][0]["id"]
    assert f"en.toml: {question}: needs exactly 6 options, one per stage; has 5 filled of 5" in problems


def test_an_empty_option_is_caught(tmp_path, content):
    content["nl"]["questions"][2]["options"][3] = " "
    problems, _ = check(write(tmp_path, content))
    assert any(p.startswith(f"nl.toml: {content['nl']['questions'][2]['id']}: needs exactly 6") for p in problems)


def test_an_id_missing_in_one_language_is_caught(tmp_path, content):
    removed = content["nl"]["tips"].pop(5)
    content["en"]["messages"].pop("help")
    problems, _ = check(write(tmp_path, content))
    assert f"nl.toml: {removed['id']}: missing (present in en.toml)" in problems
    assert "en.toml: messages.help: missing (present in nl.toml)" in problems


def test_an_empty_stage_dimension_cell_is_caught(tmp_path, content):
    for lang in content:
        content[lang]["tips"] = [
            t for t in content[lang]["tips"] if not (t["stage"] == 2 and t["dimension"] == "culture")
        ]
    problems, _ = check(write(tmp_path, content))
    assert "en.toml: stage 2 × culture: 0 tips (at least 3)" in problems
    assert "nl.toml: stage 2 × culture: 0 tips (at least 3)" in problems


def test_a_tip_that_is_too_long_is_caught(tmp_path, content):
    tip = content["en"]["tips"][0]
    tip["text"] = "Listen. " * 60
    problems, _ = check(write(tmp_path, content))
    assert f"en.toml: {tip['id']}: the tip is {len(tip['text'])} characters (at most 400)" in problems


def test_broken_placeholders_are_caught(tmp_path, content):
    content["en"]["messages"]["welcome"] = "Hello, {total questions"
    content["nl"]["messages"]["question_header"] = "Vraag {nummer} van {total} · {dimension}"
    content["nl"]["tips"][0]["text"] += " {stage}"
    problems, _ = check(write(tmp_path, content))
    assert "en.toml: messages.welcome: broken placeholder (unbalanced braces)" in problems
    assert any(p.startswith("nl.toml: messages.question_header: broken placeholder: has {dimension, nummer, total}")
               for p in problems)
    assert f"nl.toml: {content['nl']['tips'][0]['id']}: broken placeholder: this text is never filled in" in problems


def test_a_missing_plural_form_is_caught(tmp_path, content):
    content["nl"]["messages"]["team_participants"].pop("one")
    content["en"]["messages"]["tips_done_count"]["few"] = "{count} tips"
    problems, _ = check(write(tmp_path, content))
    assert "nl.toml: messages.team_participants: plural form 'one' is missing" in problems
    assert "en.toml: messages.tips_done_count: 'few' is not a plural form of en" in problems


def test_counts_read_right_in_both_languages():
    catalogs = default_catalogs()
    assert catalogs["en"].message("team_participants", count=1) == "Based on the answers of 1 participant."
    assert "3 participants" in catalogs["en"].message("team_participants", count=3)
    assert "1 deelnemer" in catalogs["nl"].message("team_participants", count=1)
    assert "3 deelnemers" in catalogs["nl"].message("team_participants", count=3)
    assert catalogs["en"].message("tips_done_count", count=1) == "1 tip done."


def test_a_roadmap_that_leaves_out_a_defining_practice_of_the_next_stage_is_caught(tmp_path, content):
    checklist = content["en"]["stages"][2]["checklist"]
    checklist[:] = [item for item in checklist if item.get("question") != "leadership.sponsor"]
    problems, _ = check(write(tmp_path, content))
    assert "en.toml: stage 3: no roadmap move for the defining practice 'leadership.sponsor'" in problems


def test_links_to_questions_are_checked(tmp_path, content):
    linked = [t for t in content["en"]["tips"] if "question" in t]
    linked[0]["question"] = "culture.openness" if linked[0]["dimension"] != "culture" else "tools.platforms"
    linked[1]["level"] = 9
    twin = next(t for t in content["nl"]["tips"] if t["id"] == linked[2]["id"])
    twin["level"] = 7 - twin["level"]
    content["en"]["stages"][0]["checklist"][0]["question"] = "strategy.vision"
    problems, _ = check(write(tmp_path, content))
    assert any(p.startswith(f"en.toml: {linked[0]['id']}: question '") for p in problems)
    assert f"en.toml: {linked[1]['id']}: level 9 is not 2..6" in problems
    assert any(p.startswith(f"nl.toml: {linked[2]['id']}: stage, dimension, question or level differs")
               for p in problems)
    assert "en.toml: planning.1: unknown question 'strategy.vision'" in problems


def test_invalid_toml_is_reported_with_its_file(tmp_path, content):
    write(tmp_path, content)
    (tmp_path / "nl.toml").write_text("[meta\nlang = 'nl'", encoding="utf-8")
    problems, _ = check(tmp_path)
    assert problems[0].startswith("nl.toml: not valid TOML")


def test_the_command_exits_non_zero_and_names_each_defect(tmp_path, content):
    content["en"]["questions"][0]["options"].append("a seventh stage")
    completed = run_check(write(tmp_path, content))
    assert completed.returncode == 1
    assert f"en.toml: {content['en']['questions'][0]['id']}: needs exactly 6 options" in completed.stdout
    assert completed.stdout.strip().splitlines()[-1].startswith("1 problems:")


# `catalog.message("id")`, `self.say("id")`, `saying("id")`, `self.notice("id")`; and the word lists
# that typed answers are matched against: `self.says("yes_words")`, `hearing(…)`, `first(…)`.
NAMED_MESSAGE = re.compile(r"""\b(?:message|say|saying|notice)\(\s*["']([a-z_]+)["']""")
NAMED_WORDS = re.compile(r"""\b(?:says|hearing|first)\(\s*["']([a-z_]+_words)["']\s*\)""")


def test_every_message_the_code_names_exists_in_every_language():
    messages, words = set(), set()
    for path in BOT_DIR.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        messages |= set(NAMED_MESSAGE.findall(source))
        words |= set(NAMED_WORDS.findall(source))
    assert len(messages) > 40 and "stale_choice" in messages  # a notice, too
    assert len(words) >= 4 and {"yes_words", "no_words"} <= words
    used = messages | words
    for catalog in default_catalogs().values():
        missing = used - set(catalog.messages)
        assert not missing, (catalog.lang, missing)
        dynamic = [f"confidence_{level}" for level in ("high", "medium", "low")]
        assert set(dynamic) <= set(catalog.messages), catalog.lang


def test_dutch_uses_the_stage_names_and_taglines_its_users_know():
    stages = default_catalogs()["nl"].stages
    assert [(s.name, s.tagline) for s in stages] == [
        ("Planning", "Leren door te luisteren"),
        ("Aanwezigheid", "Maak je zichtbaar"),
        ("Deelname", "Dialoog zorgt voor waardevolle relaties"),
        ("Geformaliseerd", "Klaarstomen voor schaalvergroting"),
        ("Strategisch", "Een Social Business worden"),
        ("Samengevoegd", "Social Business"),
    ]


def test_dutch_keeps_social_as_a_loanword():
    """"Sociaal" reads as social responsibility in Dutch: social media stay "social media"."""
    text = (CONTENT_DIR / "nl.toml").read_text(encoding="utf-8").casefold()
    assert not re.findall(r"\bsocia(?:al|le)\b", text)


def test_a_command_that_is_not_registered_is_caught(tmp_path, content):
    content["en"]["messages"]["idle_hint"] += " Or /asess."
    content["nl"]["messages"]["team_progress_how"] = "Doe mee met /team_join {code}."
    content["en"]["messages"]["champion_how_slack"] = "Type /stagecoach champion add @name."
    content["en"]["messages"]["team_participants"]["other"] += " See /reslut, and/or https://example.com/help."
    problems, _ = check(write(tmp_path, content))
    rule = "is not a command; name commands as the content does, like '/team join'"
    assert [p for p in problems if "is not a command" in p] == [
        f"en.toml: messages.idle_hint: '/asess' {rule}",
        f"en.toml: messages.champion_how_slack: '/stagecoach' {rule}",
        f"en.toml: messages.team_participants.other: '/reslut' {rule}",
        f"nl.toml: messages.team_progress_how: '/team_join' {rule}",
    ]


def test_each_command_has_its_texts_in_one_entry_and_no_other(tmp_path, content):
    content["nl"]["commands"]["roadmap"].pop("help")
    content["en"]["commands"]["team_close"].pop("menu")
    content["en"]["commands"]["back"]["menu"] = "Go back"  # /back is in no menu
    content["en"]["commands"]["streak"] = {"help": "/help – a command nobody declared"}
    content["nl"]["commands"]["tips"]["help"] += " of /tipz"
    problems, _ = check(write(tmp_path, content))
    assert [p for p in problems if "commands." in p] == [
        "en.toml: commands.team_close.menu: missing (/team close needs it)",
        "en.toml: commands.streak: no registered command of that name",
        "en.toml: commands.back.menu: not asked for by /back",
        "nl.toml: commands.tips.help: '/tipz' is not a command; name commands as the content does, like '/team join'",
        "nl.toml: commands.roadmap.help: missing (/roadmap needs it)",
    ]
