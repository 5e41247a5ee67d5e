"""Stagecoach side by side with the bot a python-telegram-bot developer would write without it:
the same questions as inline buttons, each answer committed to SQLite before the reply.

Each bot runs as a process of its own, polling a fake Bot API (HTTP/1.1, kept alive) that runs
in a third process together with N robot people who all take the assessment at once, pressing a
button as soon as a question arrives. Stagecoach is the real `stagecoach run`; its person is
done when the result text and the chart have both arrived. Flood limits are off on both sides.
The two bots take turns, each run on a fresh fake and a fresh database. Per bot process:
assessments a second, next-question latency (press pushed → next question received at the
fake), processor time per assessment (the bot's and its child processes'), and peak memory.

    .venv/bin/python bench/peer_ptb.py [--users 40,200,1000] [--runs 3] [--answers 22]

By default 3 runs each at 40 and 200 people and 1 at 1,000 (`--runs` sets the runs at every N).
At 40 and 200 everyone takes the whole assessment. At 1,000 the run is a shorter window: each
person gives the first 2 answers (`--answers` sets how many at every N), so the figures are per
update, shown per 23 updates (an assessment's worth), without the result and its chart; the
whole assessment at 1,000 takes a quarter of an hour for the two bots.
"""
from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import os
import queue
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # the project, not bench/ (which has a telegram.py)

from bot.catalog import STAGE_COUNT, Catalog, Question, default_catalogs  # noqa: E402

DEADLINE = 300.0  # for one person's next message: only a broken bot takes this long
STOP_SECONDS = 20.0
WINDOW_ANSWERS = 2  # at 1,000 people and more by default: each gives the first answers only
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# The peer: python-telegram-bot as its documentation shows it, with durable answers

class Answers:
    """Answers in SQLite (WAL, synchronous=FULL), each committed before the bot replies. One
    connection, owned by a single-thread executor: the event loop never waits for a disk flush,
    and writes never contend for SQLite's one writer, as they would from asyncio.to_thread's
    many threads."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS assessments (
            id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, started TEXT NOT NULL,
            finished TEXT, stage INTEGER);
        CREATE TABLE IF NOT EXISTS answers (
            assessment_id INTEGER NOT NULL REFERENCES assessments (id), question TEXT NOT NULL,
            choice INTEGER NOT NULL, PRIMARY KEY (assessment_id, question));
    """

    def __init__(self, path: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection = self._executor.submit(self._open, path).result()

    def _open(self, path: str) -> sqlite3.Connection:
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(self.SCHEMA)
        return db

    async def _run(self, work, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    async def start(self, user_id: int) -> int:
        return await self._run(self._start, user_id)

    async def answer(self, assessment: int, question: str, choice: int, stage: int | None = None,
                     last: bool = False) -> None:
        await self._run(self._answer, assessment, question, choice, stage, last)

    async def close(self) -> None:
        await self._run(self._db.close)
        self._executor.shutdown()

    def _start(self, user_id: int) -> int:
        with self._db:
            cursor = self._db.execute("INSERT INTO assessments (user_id, started) VALUES (?, ?)",
                                      (user_id, _now()))
        return cursor.lastrowid or 0

    def _answer(self, assessment: int, question: str, choice: int, stage: int | None, last: bool) -> None:
        """One transaction: the answer, and with the last one the result."""
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", (assessment, question, choice))
            if last:
                self._db.execute("UPDATE assessments SET finished = ?, stage = ? WHERE id = ?",
                                 (_now(), stage, assessment))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def peer_bot() -> None:
    """The peer bot: `/assess` starts a ConversationHandler with one state, the question number
    in `context.user_data` and on the buttons; every press is stored, answered, shown on the
    question, and followed by the next question, or the stage at the end. Reads
    TELEGRAM_BOT_TOKEN, TELEGRAM_API_URL and PEER_DB. SQLite runs on a single-thread executor
    that owns the one connection (Answers), off the event loop.

    A press is also an entry point: with concurrent updates the conversation's state is set only
    when `/assess`'s handler returns, after its question went out, so a quick press could find
    no conversation yet and be dropped."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.constants import ParseMode
    from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, ConversationHandler
    from telegram.warnings import PTBUserWarning

    # The documented trade-off of per_message=False: one conversation per person, not per message.
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)

    catalog = default_catalogs()["en"]
    questions = catalog.questions
    answers = Answers(os.environ["PEER_DB"])
    answering = 0

    def ask(index: int) -> tuple[str, InlineKeyboardMarkup]:
        text, choices = question_text(catalog, questions, index)
        row = [InlineKeyboardButton(str(n), callback_data=f"{index}:{n}") for n in choices]
        return text, InlineKeyboardMarkup([row])

    async def assess(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        context.user_data["assessment"] = await answers.start(update.effective_user.id)
        context.user_data["index"] = 0
        context.user_data["choices"] = []
        text, markup = ask(0)
        await update.message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
        return answering

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        query = update.callback_query
        pressed, choice = map(int, query.data.split(":"))
        if "index" not in context.user_data:  # a button from before a restart
            await query.answer()
            return ConversationHandler.END
        index = context.user_data["index"]
        if pressed != index:  # a button of an earlier question
            await query.answer()
            return answering
        choices = [*context.user_data["choices"], choice]
        last = index + 1 == len(questions)
        stage = result_stage(choices) if last else None
        await answers.answer(context.user_data["assessment"], questions[index].id, choice, stage, last)
        context.user_data["choices"] = choices
        await query.answer()
        label = catalog.message("dont_know") if choice == 0 else str(choice)
        await query.edit_message_text(f"{html.escape(query.message.text)}\n\n✓ {html.escape(label)}",
                                      parse_mode=ParseMode.HTML)
        if last:
            await query.message.reply_text(result_text(catalog, stage))
            return ConversationHandler.END
        context.user_data["index"] = index + 1
        text, markup = ask(index + 1)
        await query.message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
        return answering

    async def post_shutdown(application: Application) -> None:
        await answers.close()

    application = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(f"{os.environ['TELEGRAM_API_URL']}/bot")
        .base_file_url(f"{os.environ['TELEGRAM_API_URL']}/file/bot")
        .concurrent_updates(True)
        .post_shutdown(post_shutdown)
        .build()
    )
    pressed = CallbackQueryHandler(answer, pattern=r"^\d+:\d$")
    application.add_handler(ConversationHandler(
        entry_points=[CommandHandler("assess", assess), pressed],
        states={answering: [pressed]},
        fallbacks=[],
        allow_reentry=True,
    ))
    application.run_polling(allowed_updates=Update.ALL_TYPES)


def question_text(catalog: Catalog, questions: tuple[Question, ...], index: int) -> tuple[str, list[int]]:
    """A question as Stagecoach words it, its options listed by number; and the button numbers."""
    q = questions[index]
    lines = [catalog.message("assessment_intro", total=len(questions))] if index == 0 else []
    lines.append(html.escape(catalog.message("question_header", number=index + 1, total=len(questions),
                                             dimension=catalog.dimension(q.dimension).name)))
    lines += [html.escape(q.text), ""]
    options = [*enumerate(q.options, start=1), (0, catalog.message("dont_know"))]
    lines += [f"<b>{n}</b>  {html.escape(label)}" for n, label in options]
    return "\n".join(lines), [n for n, _ in options]


def result_stage(choices: list[int]) -> int | None:
    known = [c for c in choices if c]
    return round(statistics.mean(known)) if known else None


def result_text(catalog: Catalog, stage: int | None) -> str:
    if stage is None:
        return catalog.message("not_enough_answers")
    found = catalog.stage(stage)
    return catalog.message("result_title", stage=stage, stages=STAGE_COUNT, name=found.name, tagline=found.tagline)


# The fake Bot API with its robot people, in a process of their own

def robots(argv: list[str]) -> None:
    """Protocol with the driver on standard streams: prints `url …`, then `ready` once a bot
    polls; on `go`, runs the people and prints `result {json}`; on `stop` (or end of input), ends."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--photo", action="store_true", help="a person is done when the chart has arrived too")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--answers", type=int, help="answers per person; fewer than the questions: a window")
    arguments = parser.parse_args(argv)
    asyncio.run(_robots(arguments.users, arguments.photo, arguments.seed, arguments.answers))


async def _robots(users: int, photo: bool, seed: int, answers: int | None) -> None:
    from tests.fakes.telegram import FakeTelegram

    class TimedFake(FakeTelegram):
        """The fake, noting when each message to a chat arrived and every connection a bot opened."""

        def __post_init__(self) -> None:
            super().__post_init__()
            self.arrived: dict[int, list[float]] = defaultdict(list)
            self.connections: set[object] = set()

        async def _handle(self, request):
            self.connections.add(request.transport.get_extra_info("peername") if request.transport else None)
            return await super()._handle(request)

        def _record(self, method: str, params: dict, message_id: int) -> dict:
            self.arrived[params["chat_id"]].append(time.perf_counter())
            return super()._record(method, params, message_id)

    fake = TimedFake()
    await fake.start()
    say(f"url {fake.url}")
    await fake.until(lambda: any(method == "getUpdates" for method, _ in fake.calls), "getUpdates", DEADLINE)
    say("ready")
    await expect_line("go")
    questions = len(default_catalogs()["en"].questions)
    latencies: list[float] = []
    connections, requests = len(fake.connections), len(fake.calls)
    started = time.perf_counter()
    ends = await asyncio.gather(*(person(fake, 1000 + user, questions, photo, random.Random(seed * 100_003 + user),
                                         latencies, answers) for user in range(users)))
    say("result " + json.dumps({"seconds": max(ends) - started, "latencies": latencies,
                                "connections": len(fake.connections) - connections,
                                "requests": len(fake.calls) - requests}))
    await expect_line("stop")
    await fake.stop()


async def person(fake, user: int, questions: int, photo: bool, rng: random.Random, latencies: list[float],
                 answers: int | None = None) -> float:
    """Takes the assessment: waits for each question, presses one of its six answers; returns when
    the result (and, with `photo`, the chart) arrived. With fewer `answers` than questions, it
    stops when the question after its last answer arrived."""

    async def next_message(after: int, method: str):
        def found():
            return next(((i, s) for i, s in enumerate(fake.to(user)[after:], after) if s.method == method), None)
        return await fake.until(found, lambda: f"{method} to {user} after {after}", DEADLINE, user)

    fake.text(user, "/assess")
    _, question = await next_message(0, "sendMessage")
    last = min(answers or questions, questions)
    for number in range(1, last + 1):
        assert f"Question {number} of {questions}" in question.text, question.text
        seen = len(fake.to(user))
        button = question.reply_markup["inline_keyboard"][0][rng.randrange(6)]
        pushed = time.perf_counter()
        fake.press(user, question, button["callback_data"])
        index, question = await next_message(seen, "sendMessage")
        if number < questions:
            latencies.append(fake.arrived[user][index] - pushed)
    if last < questions:
        return max(fake.arrived[user])
    assert "Question" not in question.text, question.text
    if photo:
        await next_message(0, "sendPhoto")
    return max(fake.arrived[user])


def say(line: str) -> None:
    print(line, flush=True)


async def expect_line(word: str) -> None:
    line = await asyncio.to_thread(sys.stdin.readline)
    if line.strip() not in (word, ""):
        raise SystemExit(f"expected {word!r}, got {line!r}")


# The driver: processes, /proc, and the table

@dataclass
class Run:
    bot: str
    users: int
    rate: float
    p50: float
    p99: float
    cpu: float  # seconds per assessment, the bot and its children
    children_cpu: float
    peak: int  # bytes, VmHWM of the bot process
    children_peak: int  # bytes, the most its child processes held at once (their VmHWM)
    connections: int  # opened during the run, for `requests` requests: kept alive, few
    requests: int
    seconds: float
    window: bool = False  # each person gave only the first answers: rate and processor per 23 updates


@dataclass
class Usage:
    """Processor time and memory of a process and its descendants, sampled while it runs."""

    pid: int
    children_peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        while not self._stop.wait(0.5):  # a look through /proc costs about 5 ms
            held = sum(_status(child, "VmHWM") for child in descendants(self.pid))
            self.children_peak = max(self.children_peak, held)

    def stop(self) -> None:
        self._stop.set()

    def cpu(self) -> tuple[float, float]:
        """Seconds of the process itself, and of its descendants: those alive, and those ended and
        waited for (counted in their parent's times); each exactly once."""
        own, reaped = _times(self.pid)
        return own, reaped + sum(sum(_times(child)) for child in descendants(self.pid))

    def peak(self) -> int:
        return _status(self.pid, "VmHWM")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _times(pid: int) -> tuple[float, float]:
    """utime+stime, and cutime+cstime, in seconds."""
    try:
        fields = _stat(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0, 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, (int(fields[13]) + int(fields[14])) / CLOCK_TICKS


def _status(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Child processes alive, and theirs."""
    parents: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(_stat(int(entry.name))[1])].append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    found, todo = [], list(parents[pid])
    while todo:
        child = todo.pop()
        found.append(child)
        todo += parents[child]
    return found


class Lines:
    """A process's standard output, line by line, read on a thread so that waiting can time out."""

    def __init__(self, process: subprocess.Popen) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put("")

    def expect(self, word: str, watched: list[subprocess.Popen], seconds: float) -> str:
        """The rest of the next line starting with `word`; fails if a watched process ends first."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.5)
            except queue.Empty:
                if any(p.poll() is not None for p in watched):
                    raise RuntimeError(f"a process ended while waiting for {word!r}") from None
                continue
            if line.startswith(word):
                return line[len(word):].strip()
            if line == "" and watched[0].poll() is not None:
                raise RuntimeError(f"the fake ended while waiting for {word!r}")
        raise RuntimeError(f"waited {seconds:g} s for {word!r}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it does not end in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bot_command(name: str, url: str, folder: Path) -> tuple[list[str], dict[str, str]]:
    from tests.fakes.telegram import FakeTelegram

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_", "STAGECOACH_"))}
    env |= {"TELEGRAM_BOT_TOKEN": FakeTelegram.token, "TELEGRAM_API_URL": url, "PYTHONPATH": str(ROOT)}
    if name == "stagecoach":
        env |= {"TELEGRAM_FLOOD_LIMITS": "off", "STAGECOACH_DB": str(folder / "stagecoach.db"),
                "STAGECOACH_SCHEDULER": "off"}
        return [sys.executable, "-m", "bot.cli", "run"], env
    env["PEER_DB"] = str(folder / "peer.db")
    return [sys.executable, str(Path(__file__).resolve()), "peer"], env


def run_once(name: str, users: int, seed: int, answers: int | None = None) -> Run:
    """One bot against a fresh fake and a fresh database, from readiness to the last result (or,
    with fewer `answers` than questions, to the question after everyone's last answer)."""
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        command = [sys.executable, str(Path(__file__).resolve()), "robots", "--users", str(users), "--seed", str(seed)]
        if answers is not None:
            command += ["--answers", str(answers)]
        fake = subprocess.Popen(command + (["--photo"] if name == "stagecoach" else []), cwd=ROOT, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        lines = Lines(fake)
        bot = None
        log = open(folder / f"{name}.log", "w")
        try:
            url = lines.expect("url", [fake], 60)
            command, env = bot_command(name, url, folder)
            bot = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            lines.expect("ready", [fake, bot], 120)
            usage = Usage(bot.pid)
            cpu_before = usage.cpu()
            sampler = threading.Thread(target=usage.sample, daemon=True)
            sampler.start()
            fake.stdin.write("go\n")
            fake.stdin.flush()
            # No deadline of its own: a person who waits too long for a message ends the fake.
            result = json.loads(lines.expect("result", [fake, bot], float("inf")))
            own, children = (after - before for after, before in zip(usage.cpu(), cpu_before, strict=True))
            usage.stop()
            sampler.join()
            peak = usage.peak()
        except BaseException:
            log.flush()
            print(f"--- {name} log (tail)\n" + (folder / f"{name}.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            if bot is not None:
                stop(bot)
            log.close()
            if fake.poll() is None:
                fake.stdin.write("stop\n")
                fake.stdin.close()
                stop(fake)
    latencies = result["latencies"]
    questions = len(default_catalogs()["en"].questions)
    # A window's people each sent /assess and their answers: a share of an assessment's updates.
    share = 1.0 if answers is None or answers >= questions else (1 + answers) / (1 + questions)
    assessments = users * share
    return Run(name, users, assessments / result["seconds"], percentile(latencies, 0.5),
               percentile(latencies, 0.99), (own + children) / assessments, children / assessments, peak,
               usage.children_peak, result["connections"], result["requests"], result["seconds"], share < 1.0)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def describe(run: Run) -> str:
    unit = "assessments/s (per 23 updates, a window)" if run.window else "assessments/s"
    return (f"N={run.users:<5} {run.bot:10} {run.rate:6.2f} {unit}  next question p50 {_s(run.p50)}"
            f" p99 {_s(run.p99)}  processor {run.cpu * 1000:5.0f} ms/assessment"
            f" (children {run.children_cpu * 1000:.0f} ms)  peak {run.peak / 1e6:4.0f} MB"
            f" (children {run.children_peak / 1e6:.0f} MB)  {run.connections} connections for {run.requests} requests"
            f"  {run.seconds:.1f} s")


def _s(seconds: float) -> str:
    return f"{seconds * 1000:5.0f} ms" if seconds < 1 else f"{seconds:5.2f} s "


def table(runs: list[Run], heading: bool = True) -> None:
    """Medians per N and bot, with Stagecoach's figure as a multiple of the peer's."""
    figures = (
        ("assessments/s", lambda r: r.rate, lambda v: f"{v:.2f}"),
        ("next question p50", lambda r: r.p50, _s),
        ("next question p99", lambda r: r.p99, _s),
        ("processor per assessment", lambda r: r.cpu, lambda v: f"{v * 1000:.0f} ms"),
        ("  of which child processes", lambda r: r.children_cpu, lambda v: f"{v * 1000:.0f} ms"),
        ("peak memory (bot process)", lambda r: r.peak, lambda v: f"{v / 1e6:.0f} MB"),
        ("  child processes at once", lambda r: r.children_peak, lambda v: f"{v / 1e6:.0f} MB"),
    )
    if heading:
        print("\n| N users at once | figure | Stagecoach | plain PTB, durable | ratio |\n|---|---|---|---|---|")
    for users in sorted({r.users for r in runs}):
        windowed = any(r.window for r in runs if r.users == users)
        window = " (window: per 23 updates, no result or chart)" if windowed else ""
        for label, value, show in figures:
            ours = statistics.median(value(r) for r in runs if r.users == users and r.bot == "stagecoach")
            peer = statistics.median(value(r) for r in runs if r.users == users and r.bot == "peer")
            ratio = f"{ours / peer:.2f}×" if peer else "–"
            print(f"| {users} | {label}{window if label in ('assessments/s', 'processor per assessment') else ''}"
                  f" | {show(ours)} | {show(peer)} | {ratio} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="40,200,1000", help="people at once, comma-separated")
    parser.add_argument("--runs", type=int, help="alternated runs per bot at each N (default: 3, and 1 at 1,000)")
    parser.add_argument("--answers", type=int,
                        help="answers per person at each N (default: the whole assessment, and 2 at 1,000)")
    arguments = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stops the bot and the fake on the way out
    runs: list[Run] = []
    started = time.monotonic()
    for users in (int(u) for u in arguments.users.split(",")):
        answers = arguments.answers or (WINDOW_ANSWERS if users >= 1000 else None)
        for number in range(arguments.runs or (1 if users >= 1000 else 3)):
            order = ("stagecoach", "peer") if number % 2 == 0 else ("peer", "stagecoach")
            for name in order:
                runs.append(run_once(name, users, seed=number + 1, answers=answers))
                print(describe(runs[-1]), flush=True)
        table([r for r in runs if r.users == users])  # so far, in case a long run is cut short
        print(flush=True)
    if len({r.users for r in runs}) > 1:
        table(runs)
    print(f"\n{len(runs)} runs in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    if role == "peer":
        peer_bot()
    elif role == "robots":
        robots(sys.argv[2:])
    else:
        main()
