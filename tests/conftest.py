from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from bot.engine import Engine
from bot.store_sqlite import SQLiteStore
from bot.testing import ChatClient
from tests.drivers.telegram import NAMES, Bot
from tests.fakes.telegram import FakeTelegram

# Property tests never time an example: a busy machine makes any deadline flaky.
settings.register_profile("untimed", deadline=None)
settings.load_profile("untimed")


class Clock:
    """A controllable clock for the engine: ISO timestamps that move only when told."""

    def __init__(self, start: str = "2026-03-02T09:00:00+00:00") -> None:
        self.value = start

    def __call__(self) -> str:
        return self.value


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "stagecoach.db"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(db_path: Path, clock: Clock) -> Iterator[Engine]:
    engine = Engine(SQLiteStore(db_path), clock=clock)
    yield engine
    engine.store.close()


@pytest.fixture
def ann(engine: Engine) -> ChatClient:
    return ChatClient(engine, "ann", lang="en")


@pytest.fixture
def questions(engine: Engine) -> int:
    return len(engine.catalogs["en"].questions)


# The real Telegram adapter against the fake Bot API (a module with another platform's `fake`
# and `bot` defines its own).


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(names=dict(NAMES))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[Bot]:
    running = Bot(fake, tmp_path / "telegram.db")
    await running.start()
    yield running
    await running.stop()
