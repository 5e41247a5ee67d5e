"""The terminal adapter and the `stagecoach` command, driven as a person or a script would."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from adapters.console import Console
from bot.cli import locale_language
from bot.commands import mentioned, registered

COMMAND = [sys.executable, "-m", "bot.cli"]


def chat(db: Path, lines: list[str], *args: str, env: dict[str, str] | None = None, user: str = "tester") -> str:
    completed = subprocess.run(
        [*COMMAND, "chat", "--db", str(db), "--user", user, *args],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STAGECOACH_LOG": str(db.parent / "log.txt"),
             "STAGECOACH_CHARTS": str(db.parent / "charts"), **(env or {})},
        check=True,
    )
    assert completed.stderr == ""
    return completed.stdout


def test_piping_all_ones_ends_in_planning_and_all_sixes_in_converged(tmp_path, questions):
    ones = chat(tmp_path / "a.db", ["/assess"] + ["1"] * questions, "--lang", "en")
    assert "stage 1 of 6: Planning" in ones
    sixes = chat(tmp_path / "b.db", ["/assess"] + ["6"] * questions, "--lang", "en")
    assert "stage 6 of 6: Converged" in sixes


def test_piping_a_mixed_profile_explains_the_stage_between(tmp_path, questions):
    values = [str(2 + i % 3) for i in range(questions)]
    out = chat(tmp_path / "m.db", ["/assess", *values], "--lang", "en")
    result = out.split("Your organisation is at stage ")[1]
    assert result[0] in "2345"
    assert "How this is worked out" in result


def test_a_piped_conversation_resumes_in_the_next_run(tmp_path):
    db = tmp_path / "r.db"
    chat(db, ["/assess", "2", "2"], "--lang", "en")
    out = chat(db, ["/assess"], "--lang", "en")
    assert "Question 3 of" in out and "Welcome back" in out


def test_the_language_follows_the_locale_without_lang(tmp_path):
    out = chat(tmp_path / "nl.db", ["/assess"], env={"LANG": "nl_NL.UTF-8", "LC_ALL": ""})
    assert "Vraag 1 van" in out


def test_locale_language_reads_the_usual_variables(monkeypatch):
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    assert locale_language() is None
    monkeypatch.setenv("LANG", "nl_BE.UTF-8")
    assert locale_language() == "nl"
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    assert locale_language() == "nl"


def test_options_are_printed_numbered_in_stage_order(tmp_path):
    out = chat(tmp_path / "o.db", ["/assess"], "--lang", "en")
    numbered = [line.strip()[:2] for line in out.splitlines() if line.startswith("  ") and line.strip()[:1].isdigit()]
    assert numbered == ["1.", "2.", "3.", "4.", "5.", "6.", "0."]
    assert "[/skip]" in out


def test_interactive_mode_greets_first_and_ends_cleanly_on_end_of_input(engine):
    typed = iter(["/assess", "4"])

    def read(prompt: str) -> str:
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    out = io.StringIO()
    Console(engine, "ivy", "en", out, Path("unused")).interactive(read)
    text = out.getvalue()
    assert text.index("I'm Stagecoach") < text.index("Question 1 of") < text.index("Question 2 of")


def test_three_users_run_a_team_assessment_in_the_terminal(tmp_path, questions):
    db = tmp_path / "team.db"

    def as_user(user: str, lines: list[str]) -> str:
        return chat(db, lines, "--lang", "en", user=user)

    started = as_user("ann", ["/team new Sales"] + ["2"] * questions)
    code = started.split("join code is ")[1][:8]
    as_user("bo", [f"/team join {code}"] + ["4"] * questions)
    as_user("kim", [f"/team join {code}"] + ["5"] * questions)
    closed = as_user("ann", ["/team status", "/team close"])
    assert "Answered (3): ann, bo, kim" in closed
    assert "Team “Sales” is at stage" in closed and "some of you see stage 2, others stage 5" in closed
    charts = [Path(line.strip()) for line in closed.splitlines() if line.strip().endswith(".png")]
    assert any(path.name.startswith("team_result-") for path in charts)
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in charts)


def test_as_switches_who_is_typing(engine, tmp_path):
    out = io.StringIO()
    console = Console(engine, "ann", "en", out, tmp_path)
    console.pipe(["/team new Pair", "/as bo", "/team status"])
    assert "(bo)" in out.getvalue() and "There is no team assessment here yet" in out.getvalue()


def test_every_command_the_terminal_names_is_spelled_as_typed_there(engine, tmp_path):
    out = io.StringIO()
    console = Console(engine, "ann", "en", out, tmp_path)
    console.pipe(["/start", "/help", "/team new Sales", "/team status", "/frob"])
    text = out.getvalue()
    assert "Type /assess to begin" in text and "/team join CODE, /team status, /team close" in text
    assert "colleagues type /team join " in text and "with /team close." in text
    named = mentioned(text)
    assert len(named) > 20 and "frob" in named
    assert all(registered(word) for word in named if word != "frob")
