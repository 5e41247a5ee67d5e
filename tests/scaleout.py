"""Several `stagecoach run` processes on one database, as behind a load balancer: the scale-out
harness.

Each process serves Slack in HTTP mode, Telegram by webhook, or both, on ports of its own, under
its own STAGECOACH_INSTANCE, and calls the fake platform through a path of its own, so the fake
knows which process sent what. Telegram's webhook secret is not given: the processes share the
one the first of them stored in the database, and the robots post with the secret Telegram was
given. Robot people answer the whole assessment by pressing buttons; every signed Slack request
and every Telegram update is posted to two different processes at once (with one process, twice
to it), each copy until it gets a 2xx, as a platform that retries through a load balancer
would. Mid-run one process is SIGKILLed and started again at once under the same name, as a
supervisor would.

Counted on the platform's side: what got a 2xx (confirmed), the wait from a press to the next
question, and every message or chart sent to a person more than once (doubled sent). A copy is
excused only when the killed process sent the first before its kill and the second after its restart:
neither platform can say whether a reply sent just before a kill arrived (README, "Nothing lost,
nothing twice"). In the database: lost (confirmed, not applied), applied twice, wrong answers.
Processor time is read from /proc: the bot processes, their chart renderers, PostgreSQL's server
processes, and this harness.

Used by tests/test_scaleout.py (small) and bench/scaleout.py (the measurement).
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from adapters import telegram as telegram_adapter
from tests import crash
from tests.drivers.telegram import free_port
from tests.fakes.slack import im
from tests.waiting import DEADLINE, until

TICKS = os.sysconf("SC_CLK_TCK")
MAX_PAUSE = 1.0  # the longest a platform waits before posting a request again


def cpu_seconds(pid: int, children: bool = True) -> float:
    """A process's processor time (user + system), with that of its children it has waited for;
    0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / TICKS


def machine_seconds() -> float:
    """Processor time spent on this machine by every process, its own and others', all cores."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICKS


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    return found


def tree_seconds(pid: int) -> float:
    """A server's processor time: its own, its ended children's, and its live children's."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in children_of(pid))


def postmaster(url: str) -> int | None:
    """The PostgreSQL server process behind a URL, when it runs on this machine."""
    import psycopg

    with psycopg.connect(url) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    try:
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except FileNotFoundError:
        return None


class Instance(crash.Bot):
    """One `stagecoach run`, restarted under the same name; each run calls the fake platform as
    "name.run", and the processor time of earlier runs (read just before each kill) and of the
    chart renderer is kept apart."""

    def __init__(self, name: str, index: int, env: dict[str, str], log: Path, fleet: Fleet) -> None:
        super().__init__(env, log)
        self.name, self.index, self.fleet = name, index, fleet
        self.runs = 0
        self.spent = 0.0  # bot processes of earlier runs
        self.drawn = 0.0  # their chart renderers

    @property
    def via(self) -> str:
        return f"{self.name}.{self.runs}"

    def start(self) -> None:
        self.runs += 1
        self.env = self.env | self.fleet.via_env(self.via)
        super().start()

    def seconds(self) -> tuple[float, float]:
        """Processor time so far (bot, chart renderer), earlier runs included."""
        if self.process is None:
            return self.spent, self.drawn
        pid = self.process.pid
        renderers = children_of(pid)
        drawn = sum(cpu_seconds(child) for child in renderers)
        own = cpu_seconds(pid, children=False)
        ended = cpu_seconds(pid) - own  # ended children are renderers too
        return self.spent + own, self.drawn + drawn + ended

    def listening(self) -> bool:
        """Every port of this run takes requests, and the platform was told where to send them."""
        for port in self.fleet.ports_of(self.index):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) != 0:
                    return False
        return self.fleet.ready(self.via)

    async def kill(self) -> None:
        self.spent, self.drawn = self.seconds()
        await super().kill()


class Deliveries(crash.Deliveries):
    """Each copy of a request posted until it gets a 2xx, waiting longer after each failure (up to
    MAX_PAUSE), as platforms back off; over aiohttp, whose client costs the robots less processor
    time than httpx's, which they share the machine with."""

    def __init__(self) -> None:
        super().__init__()
        self.session: aiohttp.ClientSession | None = None

    async def _until_2xx(self, key: str, post: Callable[[], Awaitable[int]]) -> None:
        pause = crash.RETRY_PAUSE
        while True:
            with suppress(aiohttp.ClientError, asyncio.TimeoutError):
                if 200 <= await post() < 300:
                    self.done.add(key)
                    return
            await asyncio.sleep(pause)
            pause = min(2 * pause, MAX_PAUSE)

    def open(self) -> aiohttp.ClientSession:
        """The robots' session, made in the running loop at the first post."""
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DEADLINE))
        return self.session

    async def close(self) -> None:
        await super().close()
        if self.session is not None:
            await self.session.close()


Copies = dict[tuple[str, str], list[str | None]]  # (chat, text) -> which run sent each copy


class Fleet(crash.Platform):
    """A platform in front of several processes: what run() needs beyond crash.Platform."""

    def instance_env(self, name: str, index: int) -> dict[str, str]:
        """The environment of one process: its name and ports."""
        raise NotImplementedError

    def via_env(self, via: str) -> dict[str, str]:
        """The environment of one run of a process: the platform's API through a path of its own."""
        raise NotImplementedError

    def ports_of(self, index: int) -> list[int]:
        raise NotImplementedError

    def ready(self, via: str) -> bool:
        """Whether a run of a process has told the platform what it needs to send it requests."""
        return True

    async def until(self, condition: Callable[[], Any], what: str, seconds: float) -> Any:
        """Waits for a condition on what the fake platform received."""
        return await self.fake.until(condition, what, seconds=seconds)

    def copies(self, users: list[str]) -> Copies:
        """Every message and chart sent to these people, with which run sent each copy."""
        raise NotImplementedError


def _targets(rng: random.Random, ports: list[int]) -> list[int]:
    """Two different processes, as a load balancer may route a request and its retry; with one
    process, twice to it."""
    return rng.sample(ports, 2) if len(ports) > 1 else [ports[0], ports[0]]


class SlackFleet(crash.SlackHttp, Fleet):
    """Slack in HTTP mode in front of several processes: each request goes to two of them."""

    def __init__(self, instances: int, rng: random.Random) -> None:
        super().__init__()
        self.ports = [free_port() for _ in range(instances)]
        self.rng = rng
        self.deliveries = Deliveries()

    def instance_env(self, name: str, index: int) -> dict[str, str]:
        return {"PORT": str(self.ports[index]), "STAGECOACH_INSTANCE": name}

    def via_env(self, via: str) -> dict[str, str]:
        return {"SLACK_API_URL": self.fake.api_url_via(via)}

    def ports_of(self, index: int) -> list[int]:
        return [self.ports[index]]

    def _send(self, key: str, body: str, content_type: str) -> str:
        for port in _targets(self.rng, self.ports):
            self.deliveries.send(key, self._poster(port, body, content_type))
        return key

    def _poster(self, port: int, body: str, content_type: str) -> Callable[[], Awaitable[int]]:
        url = f"http://127.0.0.1:{port}/slack/events"
        deliveries = self.deliveries

        async def post() -> int:
            timestamp = str(int(time.time()))  # signed afresh at every try, as Slack does
            async with deliveries.open().post(url, data=body.encode(), headers={
                    "Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
                    "X-Slack-Signature": self.signer.generate_signature(timestamp=timestamp, body=body)}) as response:
                await response.read()
                return response.status

        return post

    def copies(self, users: list[str]) -> Copies:
        channels = {im(user) for user in users}
        found: Copies = defaultdict(list)
        for posted in self.fake.posted:
            if posted.method == "chat.postMessage" and posted.channel in channels:
                found[posted.channel, posted.text].append(posted.via)
        for upload in self.fake.uploads:
            if upload["channel"] in channels:
                found[upload["channel"], f"chart {upload['title']}"].append(upload["via"])
        return found


class TelegramFleet(crash.TelegramWebhook, Fleet):
    """Telegram by webhook in front of several processes: each update goes to two of them, with
    the secret token the processes gave Telegram (the one they share through the database)."""

    def __init__(self, instances: int, rng: random.Random) -> None:
        super().__init__()
        self.ports = [free_port() for _ in range(instances)]
        self.rng = rng
        self.deliveries = Deliveries()

    def env(self, db: Path) -> dict[str, str]:
        env = super().env(db)
        del env["TELEGRAM_WEBHOOK_SECRET"]
        return env

    def instance_env(self, name: str, index: int) -> dict[str, str]:
        return {"TELEGRAM_WEBHOOK_PORT": str(self.ports[index]), "STAGECOACH_INSTANCE": name}

    def via_env(self, via: str) -> dict[str, str]:
        return {"TELEGRAM_API_URL": self.fake.url_via(via)}

    def ports_of(self, index: int) -> list[int]:
        return [self.ports[index]]

    def ready(self, via: str) -> bool:
        return any(hook["_via"] == via for hook in self.fake.webhooks)

    def secrets(self) -> set[str]:
        """The secret tokens the processes gave Telegram: one, if they share it."""
        return {hook.get("secret_token", "") for hook in self.fake.webhooks}

    def _forward(self, update: dict) -> None:
        body = json.dumps(update).encode()
        for port in _targets(self.rng, self.ports):
            self.deliveries.send(telegram_adapter.update_key(update["update_id"]), self._poster(port, body))

    def _poster(self, port: int, body: bytes) -> Callable[[], Awaitable[int]]:
        url = f"http://127.0.0.1:{port}/telegram"
        deliveries = self.deliveries

        async def post() -> int:
            assert self.fake.webhook is not None, "an update before any process set the webhook"
            async with deliveries.open().post(url, data=body, headers={
                    "Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": self.fake.webhook["secret_token"]}) as response:
                await response.read()
                return response.status

        return post

    def copies(self, users: list[str]) -> Copies:
        chats = {int(user) for user in users}
        found: Copies = defaultdict(list)
        for sent in self.fake.sent:
            if sent.method in ("sendMessage", "sendPhoto") and sent.chat_id in chats:
                found[str(sent.chat_id), f"{sent.method} {sent.text}"].append(sent.via)
        return found


class BothFleet(Fleet):
    """Every process serves Slack in HTTP mode and Telegram by webhook at once; half the people
    are on Slack, the other half on Telegram."""

    name = "slack+telegram"

    def __init__(self, instances: int, rng: random.Random) -> None:
        self.slack = SlackFleet(instances, rng)
        self.telegram = TelegramFleet(instances, rng)
        self.fleets: tuple[SlackFleet, TelegramFleet] = (self.slack, self.telegram)

    def of(self, user: str) -> SlackFleet | TelegramFleet:
        return self.slack if user.startswith("U") else self.telegram

    async def start(self) -> None:
        for fleet in self.fleets:
            await fleet.start()

    async def stop(self) -> None:
        for fleet in self.fleets:
            await fleet.stop()

    def env(self, db: Path) -> dict[str, str]:
        return self.slack.env(db) | self.telegram.env(db)

    def instance_env(self, name: str, index: int) -> dict[str, str]:
        return self.slack.instance_env(name, index) | self.telegram.instance_env(name, index)

    def via_env(self, via: str) -> dict[str, str]:
        return self.slack.via_env(via) | self.telegram.via_env(via)

    def ports_of(self, index: int) -> list[int]:
        return self.slack.ports_of(index) + self.telegram.ports_of(index)

    def ready(self, via: str) -> bool:
        return self.telegram.ready(via)

    def users(self, count: int) -> list[str]:
        return self.slack.users((count + 1) // 2) + self.telegram.users(count // 2)

    def progress(self) -> int:
        return self.slack.progress() + self.telegram.progress()

    def begin(self, user: str) -> None:
        self.of(user).begin(user)

    def seen(self, user: str) -> int:
        return self.of(user).seen(user)

    async def question(self, user: str, containing: str, after: int, seconds: float) -> Any:
        return await self.of(user).question(user, containing, after, seconds)

    def press(self, user: str, question: Any, choice: int) -> None:
        self.of(user).press(user, question, choice)

    def confirmed(self) -> set[str]:
        return self.slack.confirmed() | self.telegram.confirmed()

    async def settled(self) -> None:
        for fleet in self.fleets:
            await fleet.settled()

    async def until(self, condition: Callable[[], Any], what: str, seconds: float) -> Any:
        """Waits for a condition on what either fake received."""
        return await until(condition, what, seconds=seconds)

    def copies(self, users: list[str]) -> Copies:
        return {**self.slack.copies([u for u in users if self.of(u) is self.slack]),
                **self.telegram.copies([u for u in users if self.of(u) is self.telegram])}


FLEETS: dict[str, type[SlackFleet] | type[TelegramFleet] | type[BothFleet]] = {
    "slack": SlackFleet, "telegram": TelegramFleet, "slack+telegram": BothFleet}


@dataclass
class Outcome:
    """What one run of the fleet found."""

    backend: str
    instances: int
    tally: crash.Tally  # its transport: "slack-http", "telegram-webhook" or "slack+telegram"
    latencies: list[float] = field(default_factory=list)  # press to next question, seconds
    doubled_sent: list[str] = field(default_factory=list)
    resent_after_kill: list[str] = field(default_factory=list)
    results: int = 0  # people whose result arrived
    killed: str = ""
    webhook_secrets: int = 0  # different secret tokens the processes gave Telegram: one, or none without it
    restart_seconds: float = 0.0  # from the kill until the restarted process listens again
    bot_seconds: float = 0.0  # processor time of the bot processes during the run
    renderer_seconds: float = 0.0
    database_seconds: float | None = None  # PostgreSQL's server processes; None for SQLite
    harness_seconds: float = 0.0
    machine_seconds: float = 0.0  # every process on the machine, this run's and any other's
    measured_seconds: float = 0.0  # the span the processor times above were read over
    startup_seconds: float = 0.0  # a bot process's own start, measured at first start (mean)

    @property
    def messages(self) -> int:
        return self.tally.confirmed

    @property
    def clean(self) -> bool:
        return self.tally.clean and not self.doubled_sent and self.results == self.tally.people

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def take_assessment(platform: crash.Platform, user: str, choices: list[int], patience: float,
                          outcome: Outcome) -> None:
    """crash.take_assessment, timing each press until its next question (or the result) arrives."""
    if await crash.take_assessment(platform, user, choices, patience, outcome.tally.stuck, outcome.latencies):
        outcome.results += 1


def sent_twice(platform: Fleet, users: list[str], killed: str, outcome: Outcome) -> None:
    """Messages and charts sent to a person more than once: excused only when the killed run of
    a process sent the first copy and its next run the second."""
    for (chat, text), (first, *again) in platform.copies(users).items():
        for second in again:
            excused = bool(killed) and (first, second) == (f"{killed}.1", f"{killed}.2")
            (outcome.resent_after_kill if excused else outcome.doubled_sent).append(
                f"{chat}: {text[:50]!r} by {first} and {second}")


async def run(database: str, instances: int, people: int, folder: Path, seed: int = 1, kill: bool = True,
              patience: float = DEADLINE, platform_name: str = "slack") -> Outcome:
    """`people` take the assessment at once against `instances` processes on `database` (a
    postgresql:// URL, or an SQLite file's path) serving `platform_name` (a key of FLEETS); when
    about half of what the bot sends has gone out, one process is SIGKILLed and restarted.
    Returns what was counted."""
    rng = random.Random(seed)
    postgres = database.startswith("postgresql")
    platform = FLEETS[platform_name](instances, rng)
    await platform.start()
    base = crash.environment(platform, Path(database) if not postgres else folder / "unused.db")
    base.pop("STAGECOACH_DATABASE_URL", None)
    if postgres:
        base["STAGECOACH_DATABASE_URL"] = database
    names = [f"scale-{index + 1}" for index in range(instances)]
    fleet = [Instance(name, index, base | platform.instance_env(name, index), folder / f"{name}.log", platform)
             for index, name in enumerate(names)]
    users = platform.users(people)
    choices = {user: [rng.randint(0, 6) for _ in range(crash.QUESTIONS)] for user in users}
    outcome = Outcome("postgres" if postgres else "sqlite", instances, crash.Tally(platform.name, people, 0))
    server = postmaster(database) if postgres else None
    try:
        for instance in fleet:
            instance.start()
        for instance in fleet:
            await until(instance.listening, f"{instance.name} to listen on {platform.ports_of(instance.index)}",
                        seconds=patience)
        startup = [instance.seconds() for instance in fleet]
        outcome.startup_seconds = sum(bot for bot, _ in startup) / instances
        database_before = tree_seconds(server) if server else None
        harness_before = cpu_seconds(os.getpid(), children=False)
        machine_before = machine_seconds()
        started = time.monotonic()
        everyone = asyncio.gather(*(take_assessment(platform, u, choices[u], patience, outcome) for u in users))
        if kill:
            # About what the bot sends for the whole run: a question and an edit per press, a result, a chart.
            half = people * (2 * crash.QUESTIONS + 4) // 2
            await platform.until(lambda: platform.progress() >= half or everyone.done(), "the bot to carry on",
                                 seconds=patience * 2)
            victim = rng.choice(fleet)
            killed_at = time.monotonic()
            await victim.kill()
            outcome.tally.kills += 1
            outcome.killed = victim.name
            victim.start()  # at once, under the same name, as a supervisor would
            await until(victim.listening, f"{victim.name} to listen again", seconds=patience * 2)
            outcome.restart_seconds = time.monotonic() - killed_at
        await everyone
        outcome.tally.seconds = time.monotonic() - started
        await platform.settled()
        for instance in fleet:
            bot, drawn = instance.seconds()
            outcome.bot_seconds += bot
            outcome.renderer_seconds += drawn
        for (bot, drawn), instance in zip(startup, fleet, strict=True):
            # The restarted process's own start is left out too, as measured at the first start.
            outcome.bot_seconds -= bot + (outcome.startup_seconds if instance.name == outcome.killed else 0.0)
            outcome.renderer_seconds -= drawn
        if server:
            outcome.database_seconds = tree_seconds(server) - (database_before or 0.0)
        outcome.harness_seconds = cpu_seconds(os.getpid(), children=False) - harness_before
        outcome.machine_seconds = machine_seconds() - machine_before
        outcome.measured_seconds = time.monotonic() - started
        stops = await asyncio.gather(*(instance.terminate() for instance in fleet))
        outcome.tally.stop_seconds = max(stops)
    finally:
        for instance in fleet:
            if instance.process is not None and instance.process.poll() is None:
                instance.process.kill()
        await platform.stop()
    sent_twice(platform, users, outcome.killed, outcome)
    telegram = platform.telegram if isinstance(platform, BothFleet) else platform
    if isinstance(telegram, TelegramFleet):
        outcome.webhook_secrets = len(telegram.secrets())
    if postgres:
        import psycopg

        with psycopg.connect(database) as check:
            crash.examine_rows(outcome.tally, lambda sql, parameters=(): check.execute(
                sql.replace("?", "%s"), parameters).fetchall(), platform.confirmed(), choices)
    else:
        crash.examine(outcome.tally, Path(database), platform.confirmed(), choices)
    return outcome
