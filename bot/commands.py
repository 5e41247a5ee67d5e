"""Commands as each platform spells them, from the one registry (`bot.registry`).

Content names a command the neutral way, `/team join {code}`; each adapter shows it the way its
users type it: `/stagecoach team join 643HP3` on Slack, `/team_join 643HP3` on Telegram, and
`/team join 643HP3` in the terminal. Only registered commands are rewritten: "and/or", a URL or
`/tmp/x` stay as they are.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .registry import COMMANDS


@dataclass(frozen=True)
class Style:
    """How a platform spells a command: `prefix` before its words, `joiner` between them."""

    prefix: str = "/"
    joiner: str = " "

    def spelled(self, words: tuple[str, ...]) -> str:
        return self.prefix + self.joiner.join(words)


NEUTRAL = Style()
TELEGRAM = Style(joiner="_")

# A `/` that begins a word (at the start, or after a space or a punctuation mark, but not inside
# a path or a URL, as in "and/or", "a.b/c", "~/x", "http://"), then a word. Telegram's `_`
# spelling is read too, so that an echoed `/team_close` is shown in the platform's spelling.
MENTION = re.compile(r"(?<![\w/.~:@&=?#%+\\-])/([a-z][a-z_-]*)")
SECOND = re.compile(r" ([a-z][a-z-]*)")
# What may follow a command: not more of a word, a path or a file name.
END = re.compile(r"(?![\w/@]|\.\w)")


def command_at(text: str, match: re.Match[str]) -> tuple[tuple[str, ...], int] | None:
    """The registered command that a MENTION match begins, as its words, and where it ends;
    None when the match names none. Two words (`/team join`) win over their first."""
    token, end = match.group(1), match.end()
    if "_" in token:
        first, _, second = token.partition("_")
        if f"{first} {second}" in COMMANDS and END.match(text, end):
            return (first, second), end
        return None
    if not END.match(text, end):
        return None
    following = SECOND.match(text, end)
    if following and f"{token} {following.group(1)}" in COMMANDS and END.match(text, following.end()):
        return (token, following.group(1)), following.end()
    if token in COMMANDS:
        return (token,), end
    return None


def spell(text: str, style: Style) -> str:
    """`text` with every command it mentions spelled in `style`; all else unchanged."""
    parts: list[str] = []
    done = 0
    for match in MENTION.finditer(text):
        if match.start() < done:
            continue
        found = command_at(text, match)
        if found is None:
            continue
        words, end = found
        parts += [text[done:match.start()], style.spelled(words)]
        done = end
    return "".join(parts) + text[done:]


def mentioned(text: str) -> list[str]:
    """Every word that `text` writes as a command (`/word`), registered or not."""
    return [m.group(1) for m in MENTION.finditer(text) if END.match(text, m.end())]


def registered(word: str) -> bool:
    """Whether `/word` names a registered command in its neutral spelling."""
    return word in COMMANDS
