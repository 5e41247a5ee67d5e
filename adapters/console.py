"""The terminal adapter: a real adapter over stdin and stdout, interactive or piped.

Piped, it reads one message per line and prints the replies, so whole conversations can be
scripted; at a terminal it greets first and shows a prompt.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from bot.engine import Engine
from bot.events import Event, Reply

PLATFORM = "console"
PROMPT = "> "


def format_reply(reply: Reply) -> str:
    lines = [reply.text]
    for option in reply.options:
        if option.key.isdigit():
            lines.append(f"  {option.key}. {option.label}")
        else:
            lines.append(f"  [{option.key}] {option.label}")
    if reply.image:
        lines.append(f"  ({reply.image})")
    return "\n".join(lines)


class Console:
    def __init__(self, engine: Engine, user: str, lang: str | None, out: TextIO) -> None:
        self.engine, self.user, self.lang, self.out = engine, user, lang, out

    def send(self, text: str) -> None:
        event = Event(PLATFORM, chat_id=self.user, user_id=self.user, text=text, lang=self.lang)
        for reply in self.engine.handle(event):
            self.out.write(format_reply(reply) + "\n\n")
        self.out.flush()

    def pipe(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.send(line.rstrip("\r\n"))

    def interactive(self, read=input) -> None:
        self.send("/start")
        while True:
            try:
                line = read(PROMPT)
            except (EOFError, KeyboardInterrupt):
                self.out.write("\n")
                return
            self.send(line)
