"""Users per second completing an assessment end to end through the real Telegram adapter,
over HTTP against the fake Bot API on 127.0.0.1, and the share of time spent outside the
engine (HTTP, python-telegram-bot, our adapter). Flood limits are off here: they are
Telegram's policy, measured in bench/broadcast.py; this measures our own machinery.

    .venv/bin/python bench/telegram.py [--users 40]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # the project, not bench/ (which has a telegram.py)

from adapters import telegram  # noqa: E402
from bot.engine import AsyncEngine, Engine  # noqa: E402
from bot.store import Store  # noqa: E402
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
        engine = AsyncEngine(lambda: TimedEngine(Store(Path(folder) / "bench.db")))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    asyncio.run(run(parser.parse_args().users))


if __name__ == "__main__":
    main()
