"""The `stagecoach` command: chat in the terminal, run the bot, check the content."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from .charts import start_rendering, stop_rendering
from .engine import AsyncEngine, Engine
from .store import POSTGRES_SCHEMES, Unusable, open_store

if TYPE_CHECKING:
    from adapters.contract import Platform, Posting

DEFAULT_DB = "stagecoach.db"
DB_HELP = f"an SQLite file or a postgresql:// URL (default: STAGECOACH_DATABASE_URL, STAGECOACH_DB or {DEFAULT_DB})"


def _telegram() -> Platform:
    from adapters import telegram

    return telegram


def _slack() -> Platform:
    from adapters import slack

    return slack


def _console() -> Posting:
    from adapters import console

    return console


@dataclass(frozen=True)
class PlatformEntry:
    """A platform `stagecoach run` and `stagecoach scheduler` may start: on when any of its
    variables is set. `load` imports its adapter only then, so that a restart is quick."""

    name: str
    enabled_by: tuple[str, ...]
    load: Callable[[], Platform]

    def enabled(self) -> bool:
        return any(os.environ.get(variable) for variable in self.enabled_by)


# Adding a platform: its adapter module (adapters/contract.py says what it gives) and a line here.
PLATFORMS = (
    PlatformEntry("telegram", ("TELEGRAM_BOT_TOKEN",), _telegram),
    PlatformEntry("slack", ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID"), _slack),
)


def enabled_platforms() -> list[PlatformEntry]:
    return [platform for platform in PLATFORMS if platform.enabled()]


def locale_language() -> str | None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return value[:2].lower()
    return None


def open_engine(database: str) -> Engine:
    return Engine(open_store(database), default_lang=os.environ.get("STAGECOACH_LANG", "en"),
                  instance=instance_name())


def instance_name() -> str:
    """This instance's name, the same after a restart: STAGECOACH_INSTANCE, the host's name for
    a process (DYNO), or this machine's name and the port it serves on."""
    named = os.environ.get("STAGECOACH_INSTANCE") or os.environ.get("DYNO")
    if named:
        return named
    port = os.environ.get("PORT")
    return socket.gethostname() + (f":{port}" if port else "")


def database_location() -> str:
    """Where the data lives: STAGECOACH_DATABASE_URL (postgresql://…), else STAGECOACH_DB, an
    SQLite file."""
    return os.environ.get("STAGECOACH_DATABASE_URL") or os.environ.get("STAGECOACH_DB", DEFAULT_DB)


def chat(args: argparse.Namespace) -> int:
    from adapters.console import Console

    logging.basicConfig(filename=os.environ.get("STAGECOACH_LOG", "stagecoach.log"), level=logging.INFO)
    engine = open_engine(args.db)
    user = args.user or os.environ.get("STAGECOACH_USER") or getpass.getuser()
    if args.lang:
        engine.set_language("console", user, args.lang)
    charts = Path(os.environ.get("STAGECOACH_CHARTS", "charts"))
    console = Console(engine, user, args.lang or locale_language(), sys.stdout, charts)
    try:
        if sys.stdin.isatty():
            console.interactive()
        else:
            console.pipe(sys.stdin)
    finally:
        engine.store.close()
    return 0


def run(args: argparse.Namespace) -> int:
    """Starts every platform whose tokens are set; with none, chats in the terminal."""
    platforms = enabled_platforms()
    if not platforms:
        return chat(args)
    from .engine import AsyncEngine

    logging.basicConfig(level=os.environ.get("STAGECOACH_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Both log every request or transition at INFO: lines by the thousand that tell an operator nothing.
    for chatty in ("httpx", "transitions"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    engine = AsyncEngine(lambda: open_engine(args.db))
    try:
        asyncio.run(serve(engine, platforms))
    finally:
        engine.close()
    return 0


def _stopping_on_signals() -> asyncio.Event:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    return stopping


async def serve(engine: AsyncEngine, platforms: list[PlatformEntry]) -> None:
    """Runs the platforms and the weekly-tips scheduler side by side on one event loop until
    SIGINT or SIGTERM. STAGECOACH_SCHEDULER=off leaves the scheduler to its own process. Only
    the platforms in use are imported, so that a restart is quick."""
    from .scheduler import Scheduler

    stopping = _stopping_on_signals()
    start_rendering()  # matplotlib loads in the renderer while the platforms start, not in a person's wait
    senders = {}
    stops: list[Callable[[], Awaitable[None]]] = []
    for entry in platforms:
        platform = entry.load()
        stop, senders[platform.PLATFORM] = await platform.serve(engine)
        stops.append(stop)
    if os.environ.get("STAGECOACH_SCHEDULER", "on") != "off":
        await Scheduler.from_environment(engine, senders).run(stopping)
    await stopping.wait()
    # Side by side: each platform has STOP_SECONDS to finish what it holds, and a deploy's SIGKILL
    # follows SIGTERM after about 10 s, so one after the other would run out of time.
    await asyncio.gather(*(stop() for stop in stops))
    stop_rendering()


def scheduler(args: argparse.Namespace) -> int:
    """Only the weekly-tips scheduler, as a process of its own (the Procfile's `scheduler`)."""
    logging.basicConfig(level=os.environ.get("STAGECOACH_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = AsyncEngine(lambda: open_engine(args.db))
    try:
        asyncio.run(_schedule_only(engine))
    finally:
        engine.close()
    return 0


async def _schedule_only(engine: AsyncEngine) -> None:
    """Posts through every platform whose tokens are set, and prints terminal chats' tips."""
    from .scheduler import Scheduler

    stopping = _stopping_on_signals()
    posting = [_console(), *(entry.load() for entry in enabled_platforms())]
    senders = {}
    stops: list[Callable[[], Awaitable[None]]] = []
    for platform in posting:
        stop, senders[platform.PLATFORM] = await platform.post_only(engine)
        stops.append(stop)
    await Scheduler.from_environment(engine, senders).run(stopping)
    await asyncio.gather(*(stop() for stop in stops))


def content(args: argparse.Namespace) -> int:
    """Validates the content files; prints each defect, then a one-line summary."""
    from .catalog import CONTENT_DIR
    from .content_check import check

    directory = Path(args.dir) if args.dir else CONTENT_DIR
    problems, summary = check(directory)
    for problem in problems:
        print(problem)
    print(summary)
    if args.db is None:
        return 1 if problems else 0
    from .catalog import load_catalogs
    from .content_check import stored_ids_gone

    if not args.db.startswith(POSTGRES_SCHEMES) and not Path(args.db).is_file():
        print(f"{args.db}: no such database", file=sys.stderr)
        return 2
    store = open_store(args.db)
    try:
        gone = stored_ids_gone(load_catalogs(directory).values(), store.stored_content_ids())
    finally:
        store.close()
    for line in gone:
        print(f"{args.db}: {line}")
    print(f"{args.db}: {len(gone)} stored ids the content no longer has" if gone
          else f"{args.db}: every stored id is in the content")
    return 1 if problems or gone else 0


def export(args: argparse.Namespace) -> int:
    """Writes results as CSV or JSON, to a file or standard output."""
    from . import export as exporting
    from .catalog import default_catalogs

    for flag, value in (("--since", args.since), ("--until", args.until)):
        if value is not None and not _is_date(value):
            print(f"stagecoach export: {flag} {value!r} is not a date (YYYY-MM-DD)", file=sys.stderr)
            return 2
    team = args.team.upper() if args.team else None
    store = open_store(args.db)
    try:
        if team is not None and not store.team_code_exists(team):
            print(f"stagecoach export: no team has the code {args.team!r}", file=sys.stderr)
            return 2
        dimensions = default_catalogs()["en"].dimensions
        collect = exporting.people if args.what == "people" else exporting.teams
        done = collect(store, dimensions, team, args.since, args.until)
    finally:
        store.close()
    rows = done.rows
    text = exporting.to_csv(rows, done.columns) if args.format == "csv" else exporting.to_json(rows)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len(rows)} rows written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if done.withheld:
        print(_withheld_notice(args.what, done.withheld), file=sys.stderr)
    return 0


def _is_date(text: str) -> bool:
    """A calendar date written YYYY-MM-DD; fromisoformat alone also takes 20260101 and week dates."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _withheld_notice(what: str, count: int) -> str:
    """Tells the operator what the export kept back, so that a short file is not taken for a bug."""
    from .teams import MIN_VISIBLE

    if what == "people":
        rows = "1 row" if count == 1 else f"{count} rows"
        return (f"{rows} withheld: assessments for teams with fewer than {MIN_VISIBLE} participants,"
                " whose answers could be singled out")
    teams = "1 team" if count == 1 else f"{count} teams"
    return (f"{teams} with fewer than {MIN_VISIBLE} participants: stage and dimensions withheld,"
            " so that no one's answers can be singled out")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stagecoach", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    for name, handler, help_text in (
        ("chat", chat, "chat in the terminal (one message per line when piped)"),
        ("run", run, "run the bot on the platforms whose tokens are set, else in the terminal"),
        ("scheduler", scheduler, "only send the weekly tips that are due (terminal chats' tips are printed here)"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--lang", choices=["nl", "en"], help="language (default: from the locale)")
        sub.add_argument("--user", help="who you are in the terminal (default: your login name)")
        sub.add_argument("--db", default=database_location(), help=DB_HELP)
        sub.set_defaults(handler=handler)
    content_parser = commands.add_parser("content", help="work with the content files")
    content_commands = content_parser.add_subparsers(dest="action", required=True)
    checker = content_commands.add_parser(
        "check", help="validate questions, stages and tips", description="Validates the content files and,"
        " with --db, finds stored ids they no longer have. Exit code 1 when anything is found.")
    checker.add_argument("--dir", help="a content directory (default: the shipped one)")
    checker.add_argument("--db", help="also list the tip, question, roadmap and dimension ids this database"
                         " still refers to that the content no longer has; the exit code is 1 when any are found")
    checker.set_defaults(handler=content)
    exporter = commands.add_parser("export", help="results as CSV or JSON, per person or per team")
    exporter.add_argument("what", choices=["people", "teams"], help="one row per assessment, or per team")
    exporter.add_argument("--format", choices=["csv", "json"], default="csv")
    exporter.add_argument("--team", help="only this team (its join code)")
    exporter.add_argument("--since", help="finished on or after this date (YYYY-MM-DD)")
    exporter.add_argument("--until", help="finished before this date (YYYY-MM-DD)")
    exporter.add_argument("--out", help="file to write (default: standard output)")
    exporter.add_argument("--db", default=database_location(), help=DB_HELP)
    exporter.set_defaults(handler=export)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        args = parser.parse_args(["chat", *(argv or [])])
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except Unusable as problem:
        print(f"stagecoach: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
