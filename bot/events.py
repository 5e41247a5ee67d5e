"""The platform-neutral language between adapters and the engine: events in, replies out."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    """One thing a person did: typed text or pressed an option, in one chat on one platform.

    `key` makes delivery idempotent: an event whose key was seen before is answered
    with the stored replies and changes nothing.
    """

    platform: str
    chat_id: str
    user_id: str
    text: str | None = None
    choice: str | None = None
    key: str | None = None
    lang: str | None = None


@dataclass(frozen=True)
class Option:
    """Something a person can pick: `key` is what they type, `value` what a button sends back."""

    key: str
    label: str
    value: str


@dataclass(frozen=True)
class Reply:
    """One message from the bot; adapters turn it into their platform's message and buttons.

    `kind` tells an adapter what the message is ("question", "result", "text"), so it can
    present it well (a keyboard, an edited message) without knowing any rule of the engine.
    """

    text: str
    options: tuple[Option, ...] = ()
    image: str | None = None
    kind: str = "text"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        options = tuple(Option(**o) for o in data.get("options", ()))
        return cls(
            text=data["text"],
            options=options,
            image=data.get("image"),
            kind=data.get("kind", "text"),
        )
