"""The `stagecoach` command: chat in the terminal, run the bot, check the content."""
from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys

from .engine import Engine
from .store import Store

DEFAULT_DB = "stagecoach.db"


def locale_language() -> str | None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return value[:2].lower()
    return None


def open_engine(db_path: str) -> Engine:
    return Engine(Store(db_path), default_lang=os.environ.get("STAGECOACH_LANG", "en"))


def chat(args: argparse.Namespace) -> int:
    from adapters.console import Console

    logging.basicConfig(filename=os.environ.get("STAGECOACH_LOG", "stagecoach.log"), level=logging.INFO)
    engine = open_engine(args.db)
    user = args.user or os.environ.get("STAGECOACH_USER") or getpass.getuser()
    if args.lang:
        engine.set_language("console", user, args.lang)
    console = Console(engine, user, args.lang or locale_language(), sys.stdout)
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
    return chat(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stagecoach", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    for name, handler, help_text in (
        ("chat", chat, "chat in the terminal (one message per line when piped)"),
        ("run", run, "run the bot on the platforms whose tokens are set, else in the terminal"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--lang", choices=["nl", "en"], help="language (default: from the locale)")
        sub.add_argument("--user", help="who you are in the terminal (default: your login name)")
        sub.add_argument("--db", default=os.environ.get("STAGECOACH_DB", DEFAULT_DB), help="SQLite file")
        sub.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        args = parser.parse_args(["chat", *(argv or [])])
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
