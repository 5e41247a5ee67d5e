"""Drives the real Telegram adapter (python-telegram-bot) against the fake Bot API: start it the
way `stagecoach run` does, send as a person, wait for what the bot sends back."""
from __future__ import annotations

import socket
from pathlib import Path

from adapters import telegram
from bot.engine import AsyncEngine, Engine
from bot.store_sqlite import SQLiteStore
from tests.fakes.telegram import FakeTelegram, Sent

ANN, BO, KIM, ROOT = 184265301, 184265302, 184265303, 5012776409
NAMES = {ANN: "Ann", BO: "Bo", KIM: "Kim", ROOT: "Ruth"}
GROUP = -1001876543210  # a supergroup
SMALL_GROUP = -4012345678  # a basic group
TIME_SCALE = 0.01  # Telegram's flood limits, each of their seconds lasting 10 ms
RESULT = "is at stage"


class Bot:
    """A running adapter: the real Application, started the way `stagecoach run` starts it."""

    def __init__(self, fake: FakeTelegram, db: Path) -> None:
        self.fake, self.db = fake, db
        self.engine = AsyncEngine(lambda: Engine(SQLiteStore(db)))
        self.application = telegram.build(fake.token, self.engine, fake.url, time_scale=TIME_SCALE)

    async def start(self, webhook: telegram.Webhook | None = None) -> None:
        await telegram.launch(self.application, self.engine.catalogs, webhook)

    async def stop(self) -> None:
        await telegram.stop(self.application)
        self.engine.close()


def position(fake: FakeTelegram, chat: int, sent: Sent) -> int:
    return next(i for i, s in enumerate(fake.to(chat)) if s is sent)


async def say(fake: FakeTelegram, user: int, text: str, expect: str, chat: int | None = None, **kwargs) -> Sent:
    """Sends a message and waits for the reply that contains `expect`."""
    where = user if chat is None else chat
    seen = len(fake.to(where))
    fake.text(user, text, chat=chat, **kwargs)
    return await fake.message(where, expect, after=seen)


async def press(fake: FakeTelegram, user: int, label: str, expect: str, chat: int | None = None) -> Sent:
    """Presses the button with this label on the newest message to the chat that has one, and
    waits for the new message that contains `expect`."""
    where = chat or user
    message = next(s for s in reversed(fake.to(where)) if s.reply_markup)
    button = next(b for row in message.reply_markup["inline_keyboard"] for b in row if b["text"] == label)
    seen = len(fake.to(where))
    fake.press(user, message, button["callback_data"])
    return await fake.message(where, expect, after=seen, method="sendMessage")


async def answer_all(fake: FakeTelegram, user: int, label: str, questions: int) -> Sent:
    """Presses `label` on every question, each after the one before was answered; returns the result."""
    for number in range(2, questions + 1):
        await press(fake, user, label, f"Question {number} of")
    return await press(fake, user, label, RESULT)


def free_port() -> int:
    """A port nothing listens on yet, for a server a test starts on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
