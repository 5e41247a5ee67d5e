"""The platform-neutral language between adapters and the engine: events in, replies out."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from .charts import Chart

_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """Text that encodes as UTF-8: lone surrogates replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


@dataclass(frozen=True)
class Person:
    """Someone an event names by the platform's own id (a Slack mention, a Telegram reply)."""

    user_id: str
    name: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", valid_text(self.name))


@dataclass(frozen=True)
class Event:
    """One thing a person did: typed text or pressed an option, in one chat on one platform.

    `key` makes delivery idempotent: an event whose key was seen before is answered
    with the stored replies and changes nothing. `chat_type` is "private" for a one-to-one chat
    and "group" for a group or channel. `workspace` is the Slack workspace the chat belongs to
    (None where a platform has none). `is_admin` says the platform, asked for this event, knows
    them as an admin of the chat (of its workspace on Slack); `mentions` are the people the
    message names in a way the platform resolves to an id.
    """

    platform: str
    chat_id: str
    user_id: str
    text: str | None = None
    choice: str | None = None
    key: str | None = None
    lang: str | None = None
    name: str | None = None
    chat_type: str = "private"
    chat_title: str | None = None
    is_admin: bool = False
    workspace: str | None = None
    mentions: tuple[Person, ...] = ()

    def __post_init__(self) -> None:
        # Text arrives from the platforms' JSON, where a lone UTF-16 surrogate ("\ud800") is
        # valid; it cannot be stored or sent as UTF-8, so it becomes U+FFFD here, once for all.
        for name in ("text", "choice", "name", "chat_title"):
            value = getattr(self, name)
            if value is not None and not value.isascii():
                object.__setattr__(self, name, valid_text(value))

    @property
    def private(self) -> bool:
        return self.chat_type == "private"

    @property
    def scope(self) -> str:
        """Where rights given here hold: the whole workspace on Slack, this one chat elsewhere."""
        return self.workspace or self.chat_id


class Option(NamedTuple):
    """Something a person can pick: `key` is what they type, `value` what a button sends back.

    `private` options must be picked in a one-to-one chat (taking part in a team assessment):
    from a group, an adapter links to its private chat instead. A named tuple, not a frozen
    dataclass: every question makes nine, and a tuple is made in a fraction of the time.
    """

    key: str
    label: str
    value: str
    private: bool = False


@dataclass(frozen=True)
class Mention:
    """A person named in a reply's text, at `text[start:end]` (their name as written there),
    so that an adapter can show them as its platform shows a person (a Slack `<@U…>`)."""

    start: int
    end: int
    user_id: str


class ReplyKind(StrEnum):
    """What a reply is, so that an adapter can present it well; a str, as stored in the event log."""

    TEXT = "text"
    NOTICE = "notice"  # a short word about a pressed button: no new message where a platform can help it
    FAILURE = "failure"  # nothing was recorded: the question stays to press again
    LANGUAGE = "language"
    QUESTION = "question"
    RESULT = "result"
    BARS = "bars"
    PROGRESS = "progress"
    TIP = "tip"
    TIP_DONE = "tip_done"
    ROADMAP = "roadmap"
    HOME = "home"
    TEAM_PROGRESS = "team_progress"
    TEAM_RESULT = "team_result"
    TEAM_COMPARE = "team_compare"
    WEEKLY_TIP = "weekly_tip"
    WEEKLY_PREVIEW = "weekly_preview"
    WEEKLY_STATUS = "weekly_status"
    ANNOUNCEMENT = "announcement"  # a change the whole channel should see


@dataclass(frozen=True)
class Reply:
    """One message from the bot; adapters turn it into their platform's message and buttons.

    `kind` tells an adapter what the message is (a question, a result, a tip, a team's progress,
    …), so it can present it well (a keyboard, an edited message) without knowing any rule of
    the engine. `to` addresses another chat of the same platform (a team's group); `ref` names a
    message to update in place when it was posted before (a team's progress). `personal` marks
    a reply to a group or channel event that is meant for its person only (a refusal, help, the
    way to a private chat): an adapter shows it to them alone where its platform can. `mentions`
    are the people the text names.
    """

    text: str
    options: tuple[Option, ...] = ()
    chart: Chart | None = None
    kind: ReplyKind = ReplyKind.TEXT
    to: str | None = None
    ref: str | None = None
    personal: bool = False
    mentions: tuple[Mention, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the event log, built by hand and without the fields left at their
        defaults (`from_dict` fills them in), as it is stored for every message."""
        data: dict[str, Any] = {"text": self.text, "kind": self.kind}
        if self.options:
            data["options"] = [
                {"key": o.key, "label": o.label, "value": o.value, "private": True} if o.private
                else {"key": o.key, "label": o.label, "value": o.value} for o in self.options
            ]
        if self.chart:
            data["chart"] = self.chart.to_dict()
        if self.to is not None:
            data["to"] = self.to
        if self.ref is not None:
            data["ref"] = self.ref
        if self.personal:
            data["personal"] = True
        if self.mentions:
            data["mentions"] = [[m.start, m.end, m.user_id] for m in self.mentions]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        return cls(
            text=data["text"],
            options=tuple(Option(**o) for o in data.get("options", ())),
            chart=Chart.from_dict(data["chart"]) if data.get("chart") else None,
            kind=ReplyKind(data.get("kind", "text")),
            to=data.get("to"),
            ref=data.get("ref"),
            personal=data.get("personal", False),
            mentions=tuple(Mention(*m) for m in data.get("mentions", ())),
        )
