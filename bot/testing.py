"""A small test client for conversations: push a message, read the replies."""
from __future__ import annotations

import itertools

from .engine import Engine
from .events import Event, Person, Reply


class ChatClient:
    """One person in one chat, talking to an engine the way an adapter would."""

    _keys = itertools.count(1)

    def __init__(self, engine: Engine, user: str = "ann", chat: str | None = None,
                 platform: str = "test", lang: str | None = None, group: bool = False,
                 admin: bool = False, workspace: str | None = None, name: str | None = None) -> None:
        self.engine, self.user, self.chat, self.platform, self.lang = engine, user, chat or user, platform, lang
        self.group, self.admin, self.workspace, self.name = group, admin, workspace, name or user.title()
        self.replies: list[Reply] = []

    def _event(self, mentions: tuple[Person, ...] = (), **what: str | None) -> Event:
        return Event(self.platform, self.chat, self.user, lang=self.lang, name=self.name,
                     chat_type="group" if self.group else "private", is_admin=self.admin,
                     chat_title=self.chat if self.group else None, workspace=self.workspace,
                     mentions=mentions, **what)

    def send(self, text: str, key: str | None = None, mentions: tuple[Person, ...] = ()) -> list[Reply]:
        """Types a message; `mentions` are the people it names the way a platform resolves them."""
        return self._handle(self._event(text=text, key=key, mentions=mentions))

    def press(self, value: str, key: str | None = None) -> list[Reply]:
        return self._handle(self._event(choice=value, key=key))

    def press_option(self, key: str) -> list[Reply]:
        """Presses the button a person would see for option `key` in the last reply."""
        options = {o.key: o.value for o in self.replies[-1].options}
        return self.press(options[key], key=f"press-{next(self._keys)}")

    def _handle(self, event: Event) -> list[Reply]:
        self.replies = self.engine.handle(event)
        return self.replies

    @property
    def text(self) -> str:
        return "\n\n".join(r.text for r in self.replies)

    def answer_all(self, choices: list[int] | int) -> list[Reply]:
        """Begins (or resumes) the assessment and answers every remaining question."""
        total = len(self.engine.catalogs[self.engine.default_lang].questions)
        values = choices if isinstance(choices, list) else [choices] * total
        self.send("/assess")
        for value in values:
            self.send(str(value))
        return self.replies
