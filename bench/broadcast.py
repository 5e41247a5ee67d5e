"""Weekly tips to many Telegram groups, against a fake Bot API that enforces 30 messages a
second: total time against the ideal N/30 s, and whether any tip was lost or doubled.

The real scheduler, outbox and Telegram adapter (python-telegram-bot with our flood limiter)
send over HTTP on 127.0.0.1. The default of 1,500 chats runs in under a minute; --chats 10000
takes about five and a half minutes, as Telegram's limit dictates.

    .venv/bin/python bench/broadcast.py [--chats 1500]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # the project, not bench/ (which has a telegram.py)

from adapters import telegram  # noqa: E402
from bot.engine import AsyncEngine, Engine  # noqa: E402
from bot.scheduler import Scheduler  # noqa: E402
from bot.store_sqlite import SQLiteStore  # noqa: E402
from bot.weekly import Schedule  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402

LIMIT = 30
MONDAY = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)


def subscribe(path: Path, chats: int) -> None:
    store = SQLiteStore(path)
    created = (MONDAY - timedelta(days=1)).isoformat(timespec="seconds")
    with store.transaction():
        for chat in range(1, chats + 1):
            store.save_subscription("telegram", str(-chat), "en", 2, 0, "09:00", "Europe/Amsterdam", "1", created)
    store.close()


async def broadcast(chats: int) -> None:
    fake = FakeTelegram(per_second=LIMIT)
    await fake.start()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "broadcast.db"
        subscribe(path, chats)
        moment = Schedule().slot(Schedule().period(MONDAY))
        engine = AsyncEngine(lambda: Engine(SQLiteStore(path), clock=lambda: moment.isoformat()))
        application = telegram.build(fake.token, engine, fake.url)
        await application.initialize()
        scheduler = Scheduler(engine, {"telegram": telegram.sender(application)}, clock=lambda: moment)
        started = time.perf_counter()
        sent = await scheduler.tick()
        seconds = time.perf_counter() - started
        again = await scheduler.tick()
        await application.shutdown()
        engine.close()
    await fake.stop()
    per_chat = Counter(s.chat_id for s in fake.sent)
    ideal = chats / LIMIT
    print(f"chats                  {chats}")
    print(f"sent / lost / doubled  {sent} / {chats - len(per_chat)} / {sum(1 for c in per_chat.values() if c > 1)}")
    print(f"sent again next tick   {again}")
    print(f"total time             {seconds:.1f} s (ideal {ideal:.1f} s at {LIMIT}/s)")
    print(f"share of the limit     {ideal / seconds:.0%}")
    print(f"429s from the server   {fake.refused}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1500)
    asyncio.run(broadcast(parser.parse_args().chats))


if __name__ == "__main__":
    main()
