"""The assessment conversation through the engine, as a person would have it."""
from __future__ import annotations

import sqlite3

import pytest

from bot import engine as engine_module
from bot.engine import Engine
from bot.events import Event
from bot.store_sqlite import SQLiteStore
from bot.testing import ChatClient


def test_all_ones_is_planning_and_all_sixes_is_converged(engine, questions):
    planning = ChatClient(engine, "p", lang="en")
    assert "stage 1 of 6: Planning" in planning.answer_all(1)[-1].text
    converged = ChatClient(engine, "c", lang="en")
    assert "stage 6 of 6: Converged" in converged.answer_all(6)[-1].text


def test_a_mixed_profile_lands_between_and_is_explained(ann, questions):
    values = [3, 4, 3, 3, 3, 3, 2, 3, 4, 3, 3, 3, 4, 3, 3, 3, 3, 4, 6, 5, 3, 2]
    result = ann.answer_all(values)[-1]
    assert result.kind == "result"
    assert "stage 3 of 6: Engagement" in result.text
    assert "How this is worked out" in result.text
    assert "Strongest: Tools & integration" in result.text
    assert "What stage 4, Formalized, asks of you" in result.text
    assert "Confidence: high" in result.text


def test_questions_list_options_in_stage_order_with_dont_know_as_zero(ann, engine):
    reply = ann.send("/assess")[-1]
    first = engine.catalogs["en"].questions[0]
    assert reply.kind == "question"
    assert [o.key for o in reply.options[:7]] == ["1", "2", "3", "4", "5", "6", "0"]
    assert [o.label for o in reply.options[:6]] == list(first.options)
    assert first.text in reply.text and "Question 1 of" in reply.text


def test_pressing_a_button_answers_like_typing_its_number(ann):
    ann.send("/assess")
    ann.press_option("4")
    assert "Question 2 of" in ann.text


def test_an_old_button_gets_a_short_notice_and_changes_nothing(ann, engine):
    ann.send("/assess")
    first_buttons = ann.replies[-1]
    ann.send("2")
    ann.press(first_buttons.options[0].value)
    assert [r.kind for r in ann.replies] == ["notice"]
    assert "you are at question 2 now" in ann.text
    ann.send("/back")
    assert "Your answer before: 2" in ann.text
    ann.answer_all(1)
    ann.press(first_buttons.options[3].value)
    assert [r.kind for r in ann.replies] == ["notice"] and "moved on" in ann.text


def test_back_returns_to_the_previous_question_showing_the_earlier_answer(ann):
    ann.send("/assess")
    ann.send("5")
    ann.send("/back")
    assert "Question 1 of" in ann.text and "Your answer before: 5" in ann.text
    ann.send("/back")
    assert "first question" in ann.text


def test_skipped_questions_are_offered_again_before_the_result(ann, questions):
    ann.send("/assess")
    ann.send("/skip")
    assert "Question 2 of" in ann.text
    ann.send("2")
    ann.send("/skip")
    for _ in range(questions - 3):
        ann.send("2")
    assert ann.replies[-1].kind == "question"
    assert "You skipped 2 questions" in ann.text
    assert [o.value for o in ann.replies[-1].options] == ["/assess", "/result"]
    ann.press_option("/assess")
    assert "Question 1 of" in ann.text
    ann.send("3")
    assert "Question 3 of" in ann.text
    ann.send("3")
    assert ann.replies[-1].kind == "result"
    assert f"You answered {questions} of {questions}" in ann.text


def test_a_skipped_question_counts_as_unanswered_only_when_the_person_declines(ann, questions):
    ann.send("/assess")
    ann.send("/skip")
    for _ in range(questions - 1):
        ann.send("2")
    assert "You skipped 1 question." in ann.text
    ann.send("/help")
    assert "You skipped 1 question." in ann.replies[-1].text
    ann.send("no")
    assert ann.replies[-1].kind == "result"
    assert f"You answered {questions - 1} of {questions}" in ann.text


def test_skipping_the_last_question_offers_it_again(ann, questions):
    ann.send("/assess")
    for _ in range(questions - 1):
        ann.send("4")
    ann.send("/skip")
    assert "You skipped 1 question." in ann.text
    ann.send("yes")
    assert f"Question {questions} of" in ann.text
    ann.send("/skip")
    assert ann.replies[-1].kind == "result"
    assert f"You answered {questions - 1} of {questions}" in ann.text


@pytest.mark.parametrize("typed", ["2.", " 2 ", "２", "2)"])
def test_a_number_typed_with_a_dot_spaces_or_full_width_is_read_as_that_number(ann, typed):
    ann.send("/assess")
    ann.send(typed)
    assert "Question 2 of" in ann.text
    ann.send("/back")
    assert "Your answer before: 2" in ann.text


def test_restart_begins_a_fresh_assessment(ann):
    ann.send("/assess")
    ann.send("3")
    ann.send("/restart")
    assert "Question 1 of" in ann.text and "Your answer before" not in ann.text


def test_commands_without_an_assessment_say_how_to_begin(ann):
    for command in ("/back", "/skip"):
        assert "/assess" in ann.send(command)[-1].text
    assert "don't have a result yet" in ann.send("/result")[-1].text
    assert "/assess" in ann.send("hello there")[-1].text


def test_help_and_start_work_at_any_point_and_put_the_question_back(ann):
    ann.send("/assess")
    ann.send("/help")
    assert "/restart" in ann.replies[0].text
    assert ann.replies[-1].kind == "question" and "Question 1 of" in ann.replies[-1].text
    ann.send("/start")
    assert "Stagecoach" in ann.replies[0].text and ann.replies[-1].kind == "question"


def test_unknown_commands_are_named_and_explained(ann):
    assert "/frobnicate" in ann.send("/frobnicate")[-1].text


def test_quitting_and_coming_back_resumes_at_the_same_question(db_path, clock):
    first = Engine(SQLiteStore(db_path), clock=clock)
    ChatClient(first, "bo").answer_all([4, 4, 4])
    first.store.close()
    second = Engine(SQLiteStore(db_path), clock=clock)
    again = ChatClient(second, "bo")
    again.send("/start")
    assert "Stagecoach" in again.text and "Question 4 of" in again.text
    again.send("/assess")
    assert "Question 4 of" in again.text and "Welcome back" in again.text
    again.send("/back")
    assert "Your answer before: 4" in again.text
    second.store.close()


def test_result_shows_the_latest_and_the_change_since_the_one_before(ann, clock, questions):
    ann.answer_all(2)
    clock.value = "2026-06-01T09:00:00+00:00"
    ann.answer_all(3)
    result, progress = ann.send("/result")
    text = result.text
    assert progress.chart is not None and progress.chart.series == ((2, 3),)
    assert "stage 3 of 6: Engagement" in text
    assert "Since your result of 2026-03-02: from Presence to Engagement (+1)" in text
    assert "Strategy & goals: 2 → 3 (+1)" in text


def test_the_same_event_twice_is_applied_once(ann, db_path):
    ann.send("/assess", key="u1")
    first = ann.send("3", key="u2")
    assert first[-1].kind == "question"
    assert ann.send("3", key="u2") == []  # its first copy is delivering the replies
    ann.send("/back", key="u3")
    assert "Question 1 of" in ann.text
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1


def test_a_redelivery_after_a_restart_gets_the_undelivered_replies_once(ann, engine, db_path, clock):
    ann.send("/assess", key="a")
    engine.delivered("a")
    first = ann.send("4", key="b")  # handed out, then the process died before sending
    restarted = Engine(SQLiteStore(db_path), clock=clock)
    again = ChatClient(restarted, "ann")
    assert again.send("4", key="b") == first
    restarted.delivered("b")
    assert again.send("4", key="b") == []
    assert ChatClient(Engine(SQLiteStore(db_path), clock=clock), "ann").send("/assess", key="a") == []
    restarted.store.close()


def test_an_answer_is_committed_before_its_reply_is_returned(ann, db_path):
    ann.send("/assess")
    ann.send("5")
    with sqlite3.connect(db_path) as other:
        assert other.execute("SELECT value FROM answers").fetchall() == [(5,)]
        assert other.execute("SELECT cursor FROM conversations").fetchall() == [(1,)]


@pytest.mark.parametrize(
    "bad",
    ["seven", "7", "-1", "", "   ", "x" * 10_000, "🚀🚀", "٣٣٣", "مرحبا بالعالم", "שלום", "3.5", "1 2"],
)
def test_bad_input_gets_a_clear_reply_with_the_options_again(ann, bad):
    ann.send("/assess")
    replies = ann.send(bad)
    assert "Please answer with the number of one of the options" in replies[0].text
    assert replies[-1].kind == "question" and "Question 1 of" in replies[-1].text


def test_digits_of_other_scripts_count(ann):
    ann.send("/assess")
    ann.send("٣")  # Arabic-Indic three
    assert "Question 2 of" in ann.text


def test_bad_input_is_answered_in_the_persons_language(engine):
    nl = ChatClient(engine, "noor", lang="nl")
    nl.send("/assess")
    assert "Vraag 1 van" in nl.text
    nl.send("zeven")
    assert "Antwoord met het nummer" in nl.text


def test_language_is_switched_with_lang_and_kept(ann):
    ann.send("/assess")
    ann.send("/lang nl")
    assert "Nederlands" in ann.replies[0].text and "Vraag 1 van" in ann.replies[-1].text
    ann.send("/help")
    assert "Dit begrijp ik" in ann.text
    assert "Which language" in ChatClient(ann.engine, "zed", lang="en").send("/lang xx")[0].text


def test_forget_deletes_everything_after_a_confirmation(ann, db_path):
    ann.answer_all(3)
    ann.send("/assess")
    ann.send("/forget")
    assert "cannot be undone" in ann.text
    ann.send("maybe")
    assert "cannot be undone" in ann.text
    ann.send("no")
    assert "Nothing has been deleted" in ann.text and "Question 1 of" in ann.text
    ann.send("/forget")
    ann.press_option("yes")
    assert "has been deleted" in ann.text
    with sqlite3.connect(db_path) as other:
        for table in ("answers", "assessments", "conversations", "users"):
            assert other.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
    assert "don't have a result yet" in ann.send("/result")[-1].text


def test_one_person_keeps_a_private_and_a_group_conversation_apart(engine):
    alone = ChatClient(engine, "kim", chat="kim")
    in_group = ChatClient(engine, "kim", chat="group-1")
    alone.send("/assess")
    alone.send("4")
    in_group.send("/assess")
    assert "Question 1 of" in in_group.text
    alone.send("/assess")
    assert "Question 2 of" in alone.text


def test_a_locked_database_gets_a_try_again_and_changes_nothing(db_path, clock):
    engine = Engine(SQLiteStore(db_path, busy_timeout=0.05), clock=clock)
    person = ChatClient(engine, "lu")
    person.send("/assess")
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    assert "try again" in person.send("4")[0].text
    blocker.execute("ROLLBACK")
    blocker.close()
    person.send("/assess")
    assert "Question 1 of" in person.text
    engine.store.close()


def test_an_unexpected_failure_gets_a_kind_reply_and_no_traceback(engine, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine.store, "load_conversation", broken)
    replies = engine.handle(Event("test", "x", "x", text="/assess"))
    assert "something went wrong" in replies[0].text and "boom" not in replies[0].text


def test_the_flow_machine_is_built_once_and_holds_no_conversations(engine, questions):
    machine = engine.machine
    for name in ("a", "b", "c"):
        ChatClient(engine, name).answer_all(2)
    assert engine.machine is machine
    assert machine.models == []


def test_event_keys_are_forgotten_after_a_week_in_small_batches_apart_from_handling(
        ann, engine, clock, db_path, monkeypatch):
    monkeypatch.setattr(engine_module, "PRUNE_EVERY", 3)
    monkeypatch.setattr(engine_module, "PRUNE_BATCH", 2)

    def keys() -> list[str]:
        with sqlite3.connect(db_path) as other:
            return sorted(k for (k,) in other.execute("SELECT key FROM events"))

    for number in range(5):
        ann.send("/help", key=f"old-{number}")
    clock.value = "2026-03-10T09:00:00+00:00"
    ann.send("/help", key="new-0")
    engine.delivered("new-0")
    assert len(keys()) == 6  # neither handling an update nor its delivery prunes
    assert engine.prune_due(idle=True)  # a start prunes when it is first idle
    assert engine.prune()  # one full batch: more may be waiting
    assert keys() == ["new-0", "old-2", "old-3", "old-4"]
    assert engine.prune_due(idle=True) and not engine.prune_due(idle=False)
    assert engine.prune()
    assert not engine.prune() and not engine.prune_due(idle=True)  # none left: the backlog is gone
    assert keys() == ["new-0"]
    ann.send("/help", key="new-1")
    assert not engine.prune_due(idle=True) and not engine.prune_due(idle=False)
    ann.send("/help", key="new-2")  # busy, it prunes once as many came in as a batch deletes
    assert engine.prune_due(idle=False) and not engine.prune_due(idle=True)
    ann.send("/help", key="new-3")
    assert engine.prune_due(idle=True)


async def test_the_async_engine_prunes_old_keys_after_a_delivery_when_idle(engine, clock, db_path, monkeypatch):
    from bot.engine import AsyncEngine

    monkeypatch.setattr(engine_module, "PRUNE_BATCH", 2)
    client = ChatClient(engine, "ann")
    for number in range(5):
        client.send("/help", key=f"old-{number}")
    clock.value = "2026-03-10T09:00:00+00:00"
    running = AsyncEngine(lambda: Engine(SQLiteStore(db_path), clock=clock))
    await running.handle(Event("test", "ann", "ann", text="/help", key="new-0"))
    await running.delivered("new-0")  # idle: batch after batch until no old key is left
    with sqlite3.connect(db_path) as other:
        assert [k for (k,) in other.execute("SELECT key FROM events")] == ["new-0"]
    running.close()


def test_old_event_keys_are_found_by_an_index(engine):
    plan = engine.store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT rowid FROM events WHERE handled_at < ? LIMIT 500", ["2026-03-01"]).fetchall()
    assert "USING COVERING INDEX" in " ".join(row[-1] for row in plan)


async def test_the_async_engine_works_off_the_event_loop_on_one_thread(db_path, clock):
    import threading

    from bot.engine import AsyncEngine

    seen = set()

    def factory() -> Engine:
        seen.add(threading.current_thread().name)
        return Engine(SQLiteStore(db_path), clock=clock)

    engine = AsyncEngine(factory)
    replies = await engine.handle(Event("test", "a", "a", text="/assess", key="k1"))
    assert replies[-1].kind == "question"
    again = await engine.handle(Event("test", "a", "a", text="/assess", key="k1"))
    assert again == []  # the first copy delivers
    assert seen and threading.current_thread().name not in seen
    engine.close()


def test_a_tap_on_an_answered_question_after_a_lost_reply_brings_the_current_question(ann, engine, db_path, clock):
    ann.send("/assess", key="s1")
    engine.delivered("s1")
    buttons = ann.replies[-1]
    ann.press(buttons.options[2].value, key="s2")  # answered; then the process died before replying
    restarted = ChatClient(Engine(SQLiteStore(db_path), clock=clock), "ann")
    replies = restarted.press(buttons.options[2].value, key="s3")  # they tap again
    assert [r.kind for r in replies] == ["notice", "question"] and "Question 2 of" in replies[-1].text
