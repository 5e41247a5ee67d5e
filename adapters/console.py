"""The terminal adapter: a real adapter over stdin and stdout, interactive or piped.

Piped, it reads one message per line and prints the replies, so whole conversations can be
scripted; at a terminal it greets first and shows a prompt. Charts are written as PNG files
and their paths printed. `/as NAME` switches who is typing, so one terminal can play a team.
"""
from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.charts import render_png
from bot.commands import NEUTRAL, spell
from bot.engine import Engine
from bot.events import Event, Reply

from .contract import Running, nothing

if TYPE_CHECKING:
    from bot.engine import AsyncEngine
    from bot.scheduler import Sender

PLATFORM = "console"
PROMPT = "> "
SWITCH_USER = "/as "


class Console:
    def __init__(self, engine: Engine, user: str, lang: str | None, out: TextIO, charts: Path) -> None:
        self.engine, self.user, self.lang, self.out, self.charts = engine, user, lang, out, charts

    def send(self, text: str) -> None:
        if text.startswith(SWITCH_USER) and text[len(SWITCH_USER):].strip():
            self.user = text[len(SWITCH_USER):].strip()
            self.out.write(f"({self.user})\n\n")
            return
        event = Event(PLATFORM, chat_id=self.user, user_id=self.user, text=text, lang=self.lang, name=self.user)
        for reply in self.engine.handle(event):
            self.out.write(self.format(reply) + "\n\n")
        self.out.flush()

    def format(self, reply: Reply) -> str:
        lines = [f"[{reply.to}]"] if reply.to else []
        lines.append(spell(reply.text, NEUTRAL))
        for option in reply.options:
            if option.key.isdigit():
                lines.append(f"  {option.key}. {spell(option.label, NEUTRAL)}")
            else:
                lines.append(f"  [{option.key}] {spell(option.label, NEUTRAL)}")
        if reply.chart is not None:
            lines.append(f"  {self.save_chart(reply)}")
        return "\n".join(lines)

    def save_chart(self, reply: Reply) -> Path:
        assert reply.chart is not None
        png = render_png(reply.chart)
        self.charts.mkdir(parents=True, exist_ok=True)
        path = self.charts / f"{reply.kind}-{hashlib.sha256(png).hexdigest()[:12]}.png"
        path.write_bytes(png)
        return path

    def pipe(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.send(line.rstrip("\r\n"))

    def interactive(self, read: Callable[[str], str] = input) -> None:
        self.send("/start")
        while True:
            try:
                line = read(f"{self.user} {PROMPT}")
            except (EOFError, KeyboardInterrupt):
                self.out.write("\n")
                return
            self.send(line)


def sender(out: TextIO) -> Sender:
    """Weekly tips of terminal chats are printed where `stagecoach scheduler` runs, with the
    commands that give the chat's feedback on them, since a terminal chat has no inbox."""
    async def send(chat_id: str, reply: Reply, to_person: bool) -> str:
        lines = [f"[{chat_id}]", reply.text, *(f"  [{o.value}] {o.label}" for o in reply.options)]
        out.write("\n".join(lines) + "\n\n")
        out.flush()
        return f"{chat_id}@{datetime.now(UTC).isoformat(timespec='seconds')}"

    return send


async def post_only(engine: AsyncEngine) -> Running:
    """The scheduler's sender for terminal chats: standard output (adapters/contract.py)."""
    return Running(nothing, sender(sys.stdout))
