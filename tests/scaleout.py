"""Several `stagecoach run` processes on one database, as behind a load balancer: the scale-out
harness.

Each process serves Slack in HTTP mode on a port of its own, under its own STAGECOACH_INSTANCE,
and posts to the fake Web API through a path of its own, so the fake knows which process sent
what. Robot people answer the whole assessment by pressing buttons; every signed request is
posted to two different processes at once (with one process, twice to it), each copy until it
gets a 2xx, as a platform that retries would. Mid-run one process is SIGKILLed and started again
at once under the same name, as a supervisor would.

Counted on the platform's side: what got a 2xx (confirmed), the wait from a press to the next
question, and every message posted to a person more than once (doubled sent). A copy is excused
only when the killed process posted the first before its kill and the second after its restart:
neither platform can say whether a reply sent just before a kill arrived (README, "Nothing lost,
nothing twice"). In the database: lost (confirmed, not applied), applied twice, wrong answers.
Processor time is read from /proc: the bot processes, their chart renderers, PostgreSQL's server
processes, and this harness.

Used by tests/test_scaleout.py (small) and bench/scaleout.py (the measurement).
"""
from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests import crash
from tests.drivers.telegram import free_port
from tests.fakes.slack import FakeSlack, im
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
    """One `stagecoach run`, restarted under the same name; each run posts to the fake as
    "name.run", and the processor time of earlier runs (read just before each kill) and of the
    chart renderer is kept apart."""

    def __init__(self, name: str, port: int, env: dict[str, str], log: Path, fake: FakeSlack) -> None:
        super().__init__(env, log)
        self.name, self.port, self.fake = name, port, fake
        self.runs = 0
        self.spent = 0.0  # bot processes of earlier runs
        self.drawn = 0.0  # their chart renderers

    def start(self) -> None:
        self.runs += 1
        self.env = self.env | {"SLACK_API_URL": self.fake.api_url_via(f"{self.name}.{self.runs}")}
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
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

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

    async def close(self) -> None:
        await super().close()
        if self.session is not None:
            await self.session.close()


class SlackFleet(crash.SlackHttp):
    """Slack in HTTP mode in front of several processes: each request goes to two of them."""

    def __init__(self, instances: int, rng: random.Random) -> None:
        super().__init__()
        self.ports = [free_port() for _ in range(instances)]
        self.rng = rng
        self.deliveries = Deliveries()

    def instance_env(self, name: str, index: int) -> dict[str, str]:
        return {"PORT": str(self.ports[index]), "STAGECOACH_INSTANCE": name}

    def _send(self, key: str, body: str, content_type: str) -> str:
        targets = self.rng.sample(range(len(self.ports)), 2) if len(self.ports) > 1 else [0, 0]
        for target in targets:
            self.deliveries.send(key, self._poster(self.ports[target], body, content_type))
        return key

    def _poster(self, port: int, body: str, content_type: str) -> Callable[[], Awaitable[int]]:
        url = f"http://127.0.0.1:{port}/slack/events"
        deliveries = self.deliveries

        async def post() -> int:
            if deliveries.session is None:
                deliveries.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DEADLINE))
            timestamp = str(int(time.time()))  # signed afresh at every try, as Slack does
            async with deliveries.session.post(url, data=body.encode(), headers={
                    "Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
                    "X-Slack-Signature": self.signer.generate_signature(timestamp=timestamp, body=body)}) as response:
                await response.read()
                return response.status

        return post


@dataclass
class Outcome:
    """What one run of the fleet found."""

    backend: str
    instances: int
    tally: crash.Tally
    latencies: list[float] = field(default_factory=list)  # press to next question, seconds
    doubled_sent: list[str] = field(default_factory=list)
    resent_after_kill: list[str] = field(default_factory=list)
    results: int = 0  # people whose result arrived
    killed: str = ""
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
    loop = asyncio.get_running_loop()
    seen = platform.seen(user)
    platform.begin(user)
    try:
        question = await platform.question(user, "Question 1 of", seen, patience)
        for index, choice in enumerate(choices):
            seen = platform.seen(user)
            pressed = loop.time()
            platform.press(user, question, choice)
            wanted = f"Question {index + 2} of" if index + 1 < len(choices) else crash.RESULT
            question = await platform.question(user, wanted, seen, patience)
            outcome.latencies.append(loop.time() - pressed)
        outcome.results += 1
    except AssertionError as waited:
        outcome.tally.stuck.append(f"{user}: {waited}")


def sent_twice(platform: SlackFleet, users: list[str], killed: str, outcome: Outcome) -> None:
    """Messages and charts posted to a person more than once: excused only when the killed run of
    a process posted the first copy and its next run the second."""
    channels = {im(user) for user in users}
    copies: dict[tuple[str, str], list[str | None]] = defaultdict(list)
    for posted in platform.fake.posted:
        if posted.method == "chat.postMessage" and posted.channel in channels:
            copies[posted.channel, posted.text].append(posted.via)
    for upload in platform.fake.uploads:
        if upload["channel"] in channels:
            copies[upload["channel"], f"chart {upload['title']}"].append(upload["via"])
    for (channel, text), (first, *again) in copies.items():
        for second in again:
            excused = bool(killed) and (first, second) == (f"{killed}.1", f"{killed}.2")
            (outcome.resent_after_kill if excused else outcome.doubled_sent).append(
                f"{channel}: {text[:50]!r} by {first} and {second}")


async def run(database: str, instances: int, people: int, folder: Path, seed: int = 1, kill: bool = True,
              patience: float = DEADLINE) -> Outcome:
    """`people` take the assessment at once against `instances` processes on `database` (a
    postgresql:// URL, or an SQLite file's path); when about half of what the bot sends has gone
    out, one process is SIGKILLed and restarted. Returns what was counted."""
    rng = random.Random(seed)
    postgres = database.startswith("postgresql")
    platform = SlackFleet(instances, rng)
    await platform.start()
    base = crash.environment(platform, Path(database) if not postgres else folder / "unused.db")
    base.pop("STAGECOACH_DATABASE_URL", None)
    if postgres:
        base["STAGECOACH_DATABASE_URL"] = database
    names = [f"scale-{index + 1}" for index in range(instances)]
    fleet = [Instance(name, platform.ports[index], base | platform.instance_env(name, index),
                      folder / f"{name}.log", platform.fake) for index, name in enumerate(names)]
    users = platform.users(people)
    choices = {user: [rng.randint(0, 6) for _ in range(crash.QUESTIONS)] for user in users}
    outcome = Outcome("postgres" if postgres else "sqlite", instances, crash.Tally("slack-http", people, 0))
    server = postmaster(database) if postgres else None
    try:
        for instance in fleet:
            instance.start()
        for instance in fleet:
            await until(instance.listening, f"{instance.name} to listen on {instance.port}", seconds=patience)
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
            await platform.fake.until(lambda: platform.progress() >= half or everyone.done(), "the bot to carry on",
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
    if postgres:
        import psycopg

        with psycopg.connect(database) as check:
            crash.examine_rows(outcome.tally, lambda sql, parameters=(): check.execute(
                sql.replace("?", "%s"), parameters).fetchall(), platform.confirmed(), choices)
    else:
        crash.examine(outcome.tally, Path(database), platform.confirmed(), choices)
    return outcome
