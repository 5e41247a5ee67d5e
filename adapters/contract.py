"""The adapter contract: what an adapter gives the engine, and what it does with each reply.

An adapter translates, and knows no rule of the engine. For each thing a person does on its
platform it:

1. stores the raw request with `AsyncEngine.receive` before it tells the platform it arrived,
   so that a crash loses nothing (the platform's retry, or the next start, hands it out again);
2. builds an `Event`: its platform's name, chat and user ids, the text typed or the option value
   pressed, a `key` the same for every retry of that request, the person's language and name,
   `chat_type` ("private" or "group") and, for a group, whether the platform knows them as an
   admin there (asked afresh: rights are never judged from a cache);
3. hands it to `AsyncEngine.handle` and delivers the replies in their order, as below;
4. tells the engine `delivered(key)`: what was never delivered is sent at the next start
   (`AsyncEngine.undelivered`).

Every reply: its text with the commands spelled as the platform's people type them
(`bot.commands.spell`); its options as buttons (`adapters.common` lays them out) or, without
buttons, as a numbered list; a `private` option pressed in a group leads to a private chat. A
reply with `to` goes to that chat of the same platform; one with `ref` updates the message posted
under that ref in that chat if there is one (`posted_message`), else is posted and remembered
(`remember_message`); a `personal` reply in a group is shown to its person alone where the
platform can. A reply's chart is sent after all the texts of the delivery, and one that cannot
be drawn or sent is left out. Where a platform limits messages, each chat is paced
(`adapters.pacing.Pacing`).

What each kind asks beyond that is in `DUTIES` (a test keeps it complete).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, NamedTuple, Protocol

from bot.events import ReplyKind

if TYPE_CHECKING:
    from bot.engine import AsyncEngine
    from bot.scheduler import Sender

DUTIES: Mapping[ReplyKind, str] = {
    ReplyKind.TEXT: "a plain message",
    ReplyKind.NOTICE: "on a pressed button, the button's answer (a toast, an ephemeral note), no new message; "
                      "the pressed message keeps its first mark",
    ReplyKind.FAILURE: "nothing was recorded: the pressed message keeps its buttons, to be pressed again",
    ReplyKind.LANGUAGE: "a plain message; the person's language changed (a home screen may show it)",
    ReplyKind.QUESTION: "a question with its options as buttons; once pressed, its buttons become a record "
                        "of the choice",
    ReplyKind.RESULT: "a result, usually with a chart after it; a home screen may show it",
    ReplyKind.BARS: "a plain message",
    ReplyKind.PROGRESS: "a plain message",
    ReplyKind.TIP: "a tip with its buttons",
    ReplyKind.TIP_DONE: "a plain message; a home screen may show it",
    ReplyKind.ROADMAP: "a plain message; a home screen may show it",
    ReplyKind.HOME: "the person's home screen where the platform has one (Slack's App Home), else a message",
    ReplyKind.TEAM_PROGRESS: "for the group (public), updated in place through its `ref`",
    ReplyKind.TEAM_RESULT: "for the group (public), with its chart after the texts",
    ReplyKind.TEAM_COMPARE: "a plain message",
    ReplyKind.WEEKLY_TIP: "for the group (public)",
    ReplyKind.WEEKLY_PREVIEW: "for its person alone in a group",
    ReplyKind.WEEKLY_STATUS: "for the group (public)",
    ReplyKind.ANNOUNCEMENT: "for the group (public): a change the whole channel should see",
}
"""What a platform does with each kind of reply. The public kinds (`bot.engine.PUBLIC_KINDS`) go
to the group; in a group every other reply is marked `personal` by the engine."""


async def nothing() -> None:
    """Stops a platform that holds nothing open."""


class Running(NamedTuple):
    """A started platform: what stops it (finishing what it holds, within a few seconds) and how
    the scheduler posts there."""

    stop: Callable[[], Awaitable[None]]
    sender: Sender


class Posting(Protocol):
    """What every adapter module gives `stagecoach scheduler`: its platform's name (as in its
    events and the store) and a way to post weekly tips, without taking requests."""

    PLATFORM: str

    async def post_only(self, engine: AsyncEngine) -> Running: ...


class Platform(Posting, Protocol):
    """What a platform's adapter module gives `stagecoach run`: `serve` starts taking requests
    in the running event loop, configured by the environment, and returns once it is taking them."""

    async def serve(self, engine: AsyncEngine) -> Running: ...
