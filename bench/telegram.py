"""Users per second completing an assessment end to end through the real Telegram adapter,
over HTTP against the fake Bot API on 127.0.0.1, and the share of time spent outside the
engine (HTTP, python-telegram-bot, our adapter). Flood limits are off here: they are
Telegram's policy, measured in bench/broadcast.py; this measures our own machinery.

With --idle it measures what one person feels instead: an idle bot with the flood limits on, in
Telegram's own time, one person at a time pressing an answer and waiting for the next question,
after thinking for each of the --think times (a person reads a question for seconds; 0 presses as
fast as the bot answers, which the chat's pace of one message a second then holds back).

    .venv/bin/python bench/telegram.py [--users 40]
    .venv/bin/python bench/telegram.py --idle [--presses 10] [--think 2,1,0]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # the project, not bench/ (which has a telegram.py)

from adapters import telegram  # noqa: E402
from bot.engine import AsyncEngine, Engine  # noqa: E402
from bot.store_sqlite import SQLiteStore  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402


class TimedEngine(Engine):
    """The real engine, adding up the processor time its thread spends in it."""

    spent = 0.0

    def handle(self, event):
        started = time.thread_time()
        try:
            return super().handle(event)
        finally:
            TimedEngine.spent += time.thread_time() - started


async def person(fake: FakeTelegram, user: int, questions: int) -> None:
    """Takes the assessment as a person would: waits for each question, presses an answer."""
    fake.text(user, "/assess")
    question = await fake.wait_for(user, 0)
    for _ in range(questions):
        seen = len(fake.to(user))
        fake.press(user, question, question.reply_markup["inline_keyboard"][0][2]["callback_data"])
        question = await fake.wait_for(user, seen + 1)  # the edited question, then the next one
    while "of 6" not in question.text:
        question = await fake.wait_for(user, len(fake.to(user)))


async def run(users: int) -> None:
    fake = FakeTelegram()
    await fake.start()
    with tempfile.TemporaryDirectory() as folder:
        engine = AsyncEngine(lambda: TimedEngine(SQLiteStore(Path(folder) / "bench.db")))
        application = telegram.build(fake.token, engine, fake.url, chat_rate=None)
        await telegram.launch(application, engine.catalogs)  # updates through the inbox, as in production
        questions = len(engine.catalogs["en"].questions)
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(person(fake, 1000 + u, questions) for u in range(users)))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        await telegram.stop(application)
        engine.close()
    await fake.stop()
    updates = users * (questions + 1)
    print(f"users                  {users}")
    print(f"updates                {updates}")
    print(f"total time             {seconds:.1f} s")
    print(f"assessments per second {users / seconds:.2f}")
    print(f"updates per second     {updates / seconds:.0f}")
    print(f"processor time         {cpu:.1f} s, of which the engine {TimedEngine.spent:.2f} s"
          f" ({TimedEngine.spent / cpu:.0%}); outside it {1 - TimedEngine.spent / cpu:.0%}"
          " (HTTP both ways, python-telegram-bot, the adapter, and the fake server in this same process)")


async def presses(fake: FakeTelegram, user: int, count: int, think: float) -> tuple[list[float], list[float]]:
    """Seconds from each press to its button answered, and to the next question arriving."""
    fake.text(user, "/assess")
    question = await fake.wait_for(user, 0)
    answered, next_question = [], []
    for _ in range(count):
        await asyncio.sleep(think)
        seen = len(fake.to(user))
        pressed = time.perf_counter()
        update = fake.press(user, question, question.reply_markup["inline_keyboard"][0][2]["callback_data"])
        await fake.answered(update)
        answered.append(time.perf_counter() - pressed)
        question = await fake.wait_for(user, seen + 1)  # the edited question, then the next one
        next_question.append(time.perf_counter() - pressed)
    return answered, next_question


def ms(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:6.0f} {p90 * 1000:6.0f} {ordered[-1] * 1000:6.0f}"


async def idle(count: int, thinking: list[float]) -> None:
    fake = FakeTelegram()
    await fake.start()
    with tempfile.TemporaryDirectory() as folder:
        engine = AsyncEngine(lambda: Engine(SQLiteStore(Path(folder) / "bench.db")))
        application = telegram.build(fake.token, engine, fake.url)  # flood limits on, seconds of Telegram's length
        await telegram.launch(application, engine.catalogs)
        count = min(count, len(engine.catalogs["en"].questions) - 1)
        print(f"one person at a time, {count} presses each; milliseconds from a press to")
        print("             button answered       next question")
        print("think        p50    p90    max     p50    p90    max")
        for n, think in enumerate(thinking):
            answered, next_question = await presses(fake, 2000 + n, count, think)
            print(f"{think:4.1f} s  {ms(answered)}  {ms(next_question)}")
        await telegram.stop(application)
        engine.close()
    await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--idle", action="store_true", help="press-to-next-question for one person, flood limits on")
    parser.add_argument("--presses", type=int, default=10)
    parser.add_argument("--think", default="2,1,0", help="seconds a person thinks before each press, comma-separated")
    arguments = parser.parse_args()
    if arguments.idle:
        asyncio.run(idle(arguments.presses, [float(t) for t in arguments.think.split(",")]))
    else:
        asyncio.run(run(arguments.users))


if __name__ == "__main__":
    main()
