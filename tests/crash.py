"""The crash harness: `stagecoach run` as a real process against a fake platform on 127.0.0.1,
people answering the whole assessment by pressing buttons, and SIGKILLs at random moments.

The platform's side counts what it considers delivered: a Telegram update once a getUpdates
offset has passed it, a webhook update or a Slack request once its POST got a 2xx (until then
the harness posts it again, as the platforms do). People never tap twice: an update lost after
it was confirmed shows as a person stuck. Afterwards the database must hold every confirmed key
once, one finished assessment per person with exactly the answers pressed, and an empty inbox.

Used by tests/test_crash.py (small runs) and bench/crash.py (the acceptance run).
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from adapters import slack as slack_adapter
from adapters import telegram as telegram_adapter
from bot.catalog import default_catalogs
from tests.drivers.telegram import free_port
from tests.fakes.slack import APP, BOT_USER, TEAM, FakeSlack, Posted, im
from tests.fakes.telegram import FakeTelegram, Sent
from tests.waiting import DEADLINE, until

ROOT = Path(__file__).resolve().parents[1]
TRANSPORTS = ("telegram-polling", "telegram-webhook", "slack-http")
WEBHOOK_SECRET = "crash-harness-secret"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
RESULT = "is at stage"
RETRY_PAUSE = 0.05  # between a platform's tries to deliver; it only paces the retries
QUESTIONS = len(default_catalogs()["en"].questions)


@dataclass
class Tally:
    """What one run found, counted on the platform's side and in the database."""

    transport: str
    people: int
    kills: int
    confirmed: int = 0
    applied: int = 0
    lost: list[str] = field(default_factory=list)  # confirmed keys missing from the events table
    doubled: list[str] = field(default_factory=list)  # people with an update applied twice
    stuck: list[str] = field(default_factory=list)  # people who waited in vain for their next question
    wrong: list[str] = field(default_factory=list)  # people whose finished assessment is not what they pressed
    inbox_left: int = 0
    seconds: float = 0.0
    stop_seconds: float = 0.0  # from the final SIGTERM to the process's exit

    @property
    def clean(self) -> bool:
        return not (self.lost or self.doubled or self.stuck or self.wrong or self.inbox_left)

    def line(self) -> str:
        return (f"{self.transport:17} confirmed {self.confirmed:5}  applied {self.applied:5}  lost {len(self.lost):3}"
                f"  doubled {len(self.doubled):3}  stuck {len(self.stuck):3}  wrong {len(self.wrong):3}"
                f"  inbox {self.inbox_left:3}  kills {self.kills:3}  {self.seconds:6.1f} s")


class Bot:
    """`python -m bot.cli run` as a subprocess, restarted on the same database and ports."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=self.env, cwd=ROOT,
                                            stdout=subprocess.DEVNULL, stderr=log)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.process.wait, DEADLINE)

    async def terminate(self, seconds: float = DEADLINE) -> float:
        """SIGTERM; returns how long the process took to exit."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(self.process.wait, seconds)
        return time.monotonic() - started


class Platform:
    """One transport: its fake, how a person taps, what the platform considers delivered."""

    name = ""
    fake: FakeTelegram | FakeSlack

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    def env(self, db: Path) -> dict[str, str]:
        raise NotImplementedError

    def users(self, count: int) -> list[str]:
        raise NotImplementedError

    def progress(self) -> int:
        """How much the bot has sent so far: kills are spread over it."""
        raise NotImplementedError

    def begin(self, user: str) -> None:
        raise NotImplementedError

    async def question(self, user: str, containing: str, after: int, seconds: float) -> Any:
        raise NotImplementedError

    def seen(self, user: str) -> int:
        raise NotImplementedError

    def press(self, user: str, question: Any, choice: int) -> None:
        raise NotImplementedError

    def confirmed(self) -> set[str]:
        raise NotImplementedError

    async def settled(self) -> None:
        """Waits until every delivery the platform still owes the bot is done."""


def _suffix(choice: int) -> str:
    return f":{choice}"


class TelegramPolling(Platform):
    """Telegram by long polling: an update is confirmed by a later getUpdates offset."""

    name = "telegram-polling"
    first_user = 5100000001

    def __init__(self) -> None:
        self.fake = FakeTelegram()
        self.pushed: set[int] = set()

    async def start(self) -> None:
        await self.fake.start()

    async def stop(self) -> None:
        await self.fake.stop()

    def env(self, db: Path) -> dict[str, str]:
        return {"TELEGRAM_BOT_TOKEN": self.fake.token, "TELEGRAM_API_URL": self.fake.url}

    def users(self, count: int) -> list[str]:
        return [str(self.first_user + i) for i in range(count)]

    def progress(self) -> int:
        return len(self.fake.sent)

    def begin(self, user: str) -> None:
        self.pushed.add(self.fake.text(int(user), "/assess")["update_id"])

    def seen(self, user: str) -> int:
        return len(self.fake.to(int(user)))

    async def question(self, user: str, containing: str, after: int, seconds: float) -> Sent:
        return await self.fake.message(int(user), containing, after=after, method="sendMessage", seconds=seconds)

    def press(self, user: str, question: Sent, choice: int) -> None:
        assert question.reply_markup is not None
        data = next(b["callback_data"] for row in question.reply_markup["inline_keyboard"] for b in row
                    if b.get("callback_data", "").startswith("q:") and b["callback_data"].endswith(_suffix(choice)))
        self.pushed.add(self.fake.press(int(user), question, data)["update_id"])

    def confirmed(self) -> set[str]:
        return {telegram_adapter.update_key(u) for u in self.fake.confirmed}

    async def settled(self) -> None:
        await self.fake.until(lambda: self.pushed <= self.fake.confirmed, "every update to be confirmed")


class Deliveries:
    """Plays a platform that pushes over HTTP: each request is posted until it gets a 2xx."""

    def __init__(self) -> None:
        self.client = httpx.AsyncClient(timeout=DEADLINE)
        self.done: set[str] = set()  # keys of requests that got a 2xx
        self.tasks: set[asyncio.Task[None]] = set()

    def send(self, key: str, post: Callable[[], Any]) -> None:
        task = asyncio.ensure_future(self._until_2xx(key, post))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _until_2xx(self, key: str, post: Callable[[], Any]) -> None:
        while True:
            with suppress(httpx.HTTPError):
                response = await post()
                if 200 <= response.status_code < 300:
                    self.done.add(key)
                    return
            await asyncio.sleep(RETRY_PAUSE)

    async def settled(self) -> None:
        await until(lambda: not self.tasks, "every delivery to get a 2xx")

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.aclose()


class TelegramWebhook(TelegramPolling):
    """Telegram by webhook: the harness posts each update with the secret until it gets a 2xx."""

    name = "telegram-webhook"
    first_user = 5200000001

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()
        self.deliveries = Deliveries()
        self.fake.forward = self._forward

    async def stop(self) -> None:
        await self.deliveries.close()
        await super().stop()

    def env(self, db: Path) -> dict[str, str]:
        return {**super().env(db), "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram",
                "TELEGRAM_WEBHOOK_PORT": str(self.port), "HOST": "127.0.0.1",
                "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET}

    def _forward(self, update: dict) -> None:
        body = json.dumps(update).encode()
        url = f"http://127.0.0.1:{self.port}/telegram"
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        self.deliveries.send(telegram_adapter.update_key(update["update_id"]),
                             lambda: self.deliveries.client.post(url, content=body, headers=headers))

    def confirmed(self) -> set[str]:
        return set(self.deliveries.done)

    async def settled(self) -> None:
        await self.deliveries.settled()


class SlackHttp(Platform):
    """Slack in HTTP mode: signed DM events and block_actions, each posted until it gets a 2xx;
    the bot's messages arrive at the fake Web API."""

    name = "slack-http"

    def __init__(self) -> None:
        self.fake = FakeSlack()
        self.port = free_port()
        self.deliveries = Deliveries()
        self.signer = SignatureVerifier(SIGNING_SECRET)
        self._ids = iter(range(1, 10**9))

    async def start(self) -> None:
        await self.fake.start()

    async def stop(self) -> None:
        await self.deliveries.close()
        await self.fake.stop()

    def env(self, db: Path) -> dict[str, str]:
        return {"SLACK_BOT_TOKEN": self.fake.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": self.fake.api_url, "PORT": str(self.port), "HOST": "127.0.0.1"}

    def users(self, count: int) -> list[str]:
        return [f"U0CR{i:05d}" for i in range(count)]

    def progress(self) -> int:
        return len(self.fake.posted)

    def begin(self, user: str) -> None:
        self.dm(user, "/assess")

    def dm(self, user: str, text: str) -> str:
        number = next(self._ids)
        body = {"token": "t", "team_id": TEAM, "api_app_id": APP, "type": "event_callback",
                "event_id": f"EvCR{number:08d}", "event_time": 1767000000,
                "event": {"type": "message", "channel_type": "im", "channel": im(user), "user": user,
                          "text": text, "ts": f"1767000000.{number:06d}"},
                "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]}
        return self._send(slack_adapter.request_key("message", body), json.dumps(body), "application/json")

    def seen(self, user: str) -> int:
        return len(self.fake.to(im(user)))

    async def question(self, user: str, containing: str, after: int, seconds: float) -> Posted:
        return await self.fake.message(im(user), containing, after=after, method="chat.postMessage", seconds=seconds)

    def press(self, user: str, question: Posted, choice: int) -> None:
        button = next(b for b in question.buttons()
                      if b["value"].startswith("q:") and b["value"].endswith(_suffix(choice)))
        payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": user}, "api_app_id": APP,
                   "trigger_id": f"13345224609.{next(self._ids)}.a1b2c3",
                   "container": {"type": "message", "message_ts": question.ts, "channel_id": question.channel},
                   "channel": {"id": question.channel},
                   "message": {"ts": question.ts, "text": question.text, "blocks": question.blocks},
                   "actions": [{**button, "block_id": "b", "action_ts": f"1767000000.{next(self._ids):06d}"}]}
        self._send(slack_adapter.request_key("action", payload), urlencode({"payload": json.dumps(payload)}),
                   "application/x-www-form-urlencoded")

    def _send(self, key: str, body: str, content_type: str) -> str:
        url = f"http://127.0.0.1:{self.port}/slack/events"

        def post() -> Any:
            timestamp = str(int(time.time()))  # signed afresh at every try, as Slack does
            return self.deliveries.client.post(url, content=body.encode(), headers={
                "Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": self.signer.generate_signature(timestamp=timestamp, body=body)})

        self.deliveries.send(key, post)
        return key

    def confirmed(self) -> set[str]:
        return set(self.deliveries.done)

    async def settled(self) -> None:
        await self.deliveries.settled()


PLATFORMS: dict[str, type[Platform]] = {p.name: p for p in (TelegramPolling, TelegramWebhook, SlackHttp)}


def environment(platform: Platform, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))}
    env.pop("PORT", None)
    return {**env, **platform.env(db), "STAGECOACH_DB": str(db), "TELEGRAM_FLOOD_LIMITS": "off",
            "STAGECOACH_SCHEDULER": "off", "STAGECOACH_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


async def take_assessment(platform: Platform, user: str, choices: list[int], patience: float,
                          stuck: list[str], latencies: list[float] | None = None) -> bool:
    """Presses every answer once, each after its question arrived; never taps again. With
    `latencies`, times each press until its next question (or the result) arrives. Whether the
    result came."""
    loop = asyncio.get_running_loop()
    seen = platform.seen(user)
    platform.begin(user)
    try:
        question = await platform.question(user, "Question 1 of", seen, patience)
        for index, choice in enumerate(choices):
            seen = platform.seen(user)
            pressed = loop.time()
            platform.press(user, question, choice)
            wanted = f"Question {index + 2} of" if index + 1 < len(choices) else RESULT
            question = await platform.question(user, wanted, seen, patience)
            if latencies is not None:
                latencies.append(loop.time() - pressed)
    except AssertionError as waited:
        stuck.append(f"{user}: {waited}")
        return False
    return True


async def run(transport: str, people: int, kills: int, folder: Path, seed: int = 1,
              patience: float = DEADLINE) -> Tally:
    """`people` take the assessment at once while the bot is killed `kills` times, spread at
    random over the run; then the bot is restarted, the people finish, and it is stopped with
    SIGTERM. Returns what the platform confirmed and what the database shows."""
    rng = random.Random(seed)
    platform = PLATFORMS[transport]()
    db = folder / f"{transport}.db"
    await platform.start()
    bot = Bot(environment(platform, db), folder / f"{transport}.log")
    users = platform.users(people)
    choices = {user: [rng.randint(0, 6) for _ in range(QUESTIONS)] for user in users}
    tally = Tally(transport, people, 0)
    started = time.monotonic()
    try:
        bot.start()
        everyone = asyncio.gather(*(take_assessment(platform, u, choices[u], patience, tally.stuck) for u in users))
        # About what the bot sends for the whole run (a question and an edit per press, a result and
        # a chart); the kills fall at random points within it.
        span = people * (2 * QUESTIONS + 4) // (kills + 1)
        for _ in range(kills):
            target = platform.progress() + rng.randint(max(1, span // 4), max(1, span))
            try:
                await platform.fake.until(lambda target=target: platform.progress() >= target or everyone.done(),
                                          "the bot to carry on", seconds=patience * 2)
            except AssertionError:
                break  # nobody gets answers any more: the people waiting say who is stuck
            if everyone.done():
                break
            await bot.kill()
            tally.kills += 1
            bot.start()
        await everyone
        await platform.settled()
        tally.stop_seconds = await bot.terminate()
        tally.seconds = time.monotonic() - started
    finally:
        if bot.process is not None and bot.process.poll() is None:
            bot.process.kill()
        await platform.stop()
    examine(tally, db, platform.confirmed(), choices)
    return tally


def examine(tally: Tally, db: Path, confirmed: set[str], choices: dict[str, list[int]]) -> None:
    """Every confirmed key applied once; one finished assessment per person, as pressed; no inbox."""
    with sqlite3.connect(db) as check:
        examine_rows(tally, lambda sql, parameters=(): check.execute(sql, parameters).fetchall(), confirmed, choices)


Query = Callable[..., list[tuple[Any, ...]]]  # (sql with ? placeholders, parameters) -> rows


def examine_rows(tally: Tally, query: Query, confirmed: set[str], choices: dict[str, list[int]]) -> None:
    """examine() over any database the store runs on, read through `query`."""
    questions = [q.id for q in default_catalogs()["en"].questions]
    applied = {key for (key,) in query("SELECT key FROM events")}
    tally.confirmed = len(confirmed)
    tally.applied = len(confirmed & applied)
    tally.lost = sorted(confirmed - applied)
    tally.inbox_left = query("SELECT COUNT(*) FROM inbox")[0][0]
    for user, picked in choices.items():
        # Slack keeps a person's id with the workspace in front.
        started = query("SELECT id, finished_at FROM assessments WHERE user_id IN (?, ?)", [user, f"{TEAM}:{user}"])
        if len(started) > 1:
            tally.doubled.append(user)
        finished = [row for row, at in started if at is not None]
        if len(finished) != 1:
            tally.wrong.append(user)
            continue
        answers = dict(query("SELECT question_id, value FROM answers WHERE assessment_id = ?", [finished[0]]))
        if answers != dict(zip(questions, picked, strict=True)):
            tally.wrong.append(user)
