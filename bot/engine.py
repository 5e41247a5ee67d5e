"""The conversation engine: one neutral event in, its replies out, in one transaction.

An event's effects and its key are committed before its replies are returned, so a reply is
never sent for something that was not saved, and a redelivered event changes nothing twice.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar, TypeVarTuple

from . import scheduler
from .catalog import Catalog, default_catalogs
from .conversation import Conversation, Turn
from .events import Event, Reply, ReplyKind
from .machine import build_machine
from .registry import COMMANDS, PRIVATE_ONLY, TAKES_ARGUMENTS, UNKNOWN, Command, find
from .store import StorageError, Store, StoredEvent

log = logging.getLogger(__name__)
T = TypeVar("T")
Arguments = TypeVarTuple("Arguments")

MAX_INPUT = 4000
EVENT_MEMORY = timedelta(days=7)
PRUNE_EVERY = 250  # events stored between two prunes of old keys while the engine is idle
PRUNE_BATCH = 500  # keys a prune deletes at most; while idle, batch after batch until none is left
TAKEOVER = timedelta(minutes=2)  # how long another instance's unsent replies are left to it
MAX_ECHO = 40
REDELIVERY_WINDOW = timedelta(hours=1)
# What a group or channel sees of the replies to one member's command: a team's invitation, its
# progress and result, a weekly tip, and the state of (or a change to) the channel's weekly tips
# and champions. Every other reply there is for that person only.
PUBLIC_KINDS = frozenset({ReplyKind.TEAM_PROGRESS, ReplyKind.TEAM_RESULT, ReplyKind.WEEKLY_TIP,
                          ReplyKind.WEEKLY_STATUS, ReplyKind.ANNOUNCEMENT})


_last_second: list[tuple[int, str]] = [(0, "")]


def utc_now() -> str:
    """The time in whole seconds, as ISO 8601 in UTC; read twice per message, so a second's
    text is made once."""
    second = int(time.time())
    last = _last_second[0]
    if last[0] != second:
        last = _last_second[0] = (second, datetime.fromtimestamp(second, UTC).isoformat())
    return last[1]


def for_audience(event: Event, replies: list[Reply]) -> list[Reply]:
    """Marks the replies to a group's event that are meant for its person only (see PUBLIC_KINDS);
    a reply addressed to another chat is left as it is."""
    if event.private:
        return replies
    return [r if r.to is not None or r.kind in PUBLIC_KINDS else replace(r, personal=True) for r in replies]


def parse_command(text: str) -> tuple[str, str] | None:
    """`/cmd args`, `/cmd@bot args` or a bare command word: (command, args); else None."""
    stripped = text.strip()
    if not stripped:
        return None
    head, _, rest = stripped.partition(" ")
    word = head.lower()
    if word.startswith("/"):
        return word[1:].split("@", 1)[0], rest.strip()
    if word in COMMANDS and (not rest or word in TAKES_ARGUMENTS):
        return word, rest.strip()
    return None


class Engine:
    """Applies events to conversations with the shared flow machine; owns one Store."""

    def __init__(
        self,
        store: Store,
        catalogs: dict[str, Catalog] | None = None,
        default_lang: str = "en",
        clock: Callable[[], str] = utc_now,
        instance: str = "local",
    ) -> None:
        self.store = store
        self.catalogs = catalogs or default_catalogs()
        self.default_lang = default_lang if default_lang in self.catalogs else next(iter(self.catalogs))
        self.clock = clock
        self.machine = build_machine()
        self._unpruned = PRUNE_EVERY  # a start prunes when it is first idle
        self._backlog = False  # the last prune deleted a whole batch: more old keys may be waiting
        # Who hands out the replies this process handles: the instance's name, the same after a
        # restart, and this run of it. Replies of an earlier run of the same instance are sent
        # again at once; another instance's are left to it for TAKEOVER.
        self.instance = instance
        self.owner = f"{instance}/{secrets.token_hex(4)}"

    def handle(self, event: Event) -> list[Reply]:
        lang = self.default_lang
        try:
            with self.store.transaction():
                # One conversation's events one at a time, whichever instance got them.
                self.store.lock_conversation(event.platform, event.chat_id, event.user_id)
                lang = self._language(event)  # read under the write lock: one lock taken, not two
                if event.key is not None:
                    seen = self.store.stored_event(event.key)
                    if seen is not None:
                        self.store.inbox_done(event.key)
                        return self._redelivered(event.key, seen)
                conversation = self._apply(event, lang)
                replies = conversation.replies
                if event.key is not None:
                    # The event that forgot a person is kept (a redelivery must not ask again),
                    # but not as theirs: its replies name no one.
                    forgotten = conversation.forgotten
                    self.store.remember_event(
                        event.key, event.platform, None if forgotten else event.user_id,
                        None if forgotten else event.chat_id, event.chat_type,
                        [r.to_dict() for r in replies], conversation.chat.turn.now, self.owner,
                    )
                    self.store.inbox_done(event.key)
                    self._unpruned += 1
            return replies
        except StorageError:
            log.exception("storage failed for %s/%s", event.platform, event.user_id)
            return self._failed(event, lang, "try_again")
        except Exception:
            log.exception("could not handle an event from %s/%s", event.platform, event.user_id)
            return self._failed(event, lang, "went_wrong")

    def _redelivered(self, key: str, seen: StoredEvent) -> list[Reply]:
        """A redelivered event changes nothing. Its replies go out once: by the process that
        handed them out, unless that was an earlier run of this instance or another instance
        that has not sent them for TAKEOVER; then this one takes them over."""
        if seen.delivered or self._still_theirs(seen.owner, seen.claimed_at):
            return []
        if not self.store.claim_event(key, self.owner, seen.owner, self.clock()):
            return []
        return [Reply.from_dict(r) for r in seen.replies]

    def _still_theirs(self, owner: str | None, claimed_at: str | None) -> bool:
        """Whether what an owner took (replies to send, an update to handle) is still theirs."""
        if owner == self.owner:
            return True
        if owner is None or claimed_at is None or owner.rpartition("/")[0] == self.instance:
            return False  # handed out before owners were kept, or by an earlier run of this instance
        return claimed_at >= self._ago(TAKEOVER)

    def _ago(self, span: timedelta) -> str:
        return (datetime.fromisoformat(self.clock()) - span).isoformat(timespec="seconds")

    def _failed(self, event: Event, lang: str, message: str) -> list[Reply]:
        """The person is told that nothing was recorded, and tries again; so the update leaves
        the inbox, lest a restart apply it after their new try."""
        if event.key is not None:
            self.settle(event.key)
        if lang == self.default_lang:
            with suppress(StorageError):  # the failure may have come before their language was read
                lang = self._language(event)
        return [Reply(self.catalogs[lang].message(message), kind=ReplyKind.FAILURE, personal=not event.private)]

    # The inbox: what a platform sent, stored before the platform is told it arrived

    def receive(self, platform: str, items: list[tuple[str, str | None, str]], store: Store | None = None) -> None:
        """Stores (key, user id, payload) items in one transaction (in `store`, another connection
        to the same file, when given): after it returns, an adapter may confirm them."""
        store = store or self.store
        with store.transaction():
            store.receive(platform, items, self.clock(), self.owner)

    def inbox(self, platform: str) -> list[tuple[str, str]]:
        """(key, payload) of the updates a start takes up, in the order they came: those an
        earlier run of this instance received and did not handle, and those another instance
        left for TAKEOVER. What a live instance received is left to it."""
        return [(key, payload) for key, payload, by, at in self.store.inbox(platform)
                if not self._still_theirs(by, at)]

    def settle(self, key: str, readable: bool = True) -> None:
        """An update that needs no handling (or gets none) leaves the inbox; an unreadable one is
        set aside."""
        if readable and not self.store.in_inbox(key):
            return  # the usual case: handling the update took it out already; no write needed
        try:
            with self.store.transaction():
                if readable:
                    self.store.inbox_done(key)
                else:
                    self.store.set_aside(key)
        except StorageError:
            log.exception("could not settle %s", key)

    def undelivered(
        self, platform: str, within: timedelta = REDELIVERY_WINDOW
    ) -> list[tuple[str, str, str, list[Reply]]]:
        """Replies saved and never sent, within a recent window, that no live process is sending:
        what a start sends first. They are claimed for this process, so no other sends them too."""
        taken = []
        with self.store.transaction():
            for event in self.store.undelivered(platform, self._ago(within)):
                if not self._still_theirs(event.owner, event.claimed_at) and \
                        self.store.claim_event(event.key, self.owner, event.owner, self.clock()):
                    taken.append((event.key, event.chat_id, event.chat_type,
                                  [Reply.from_dict(r) for r in event.replies]))
        return taken

    def _settled(self, key: str) -> bool:
        """Whether an event's replies were sent, or are on their way from a live process."""
        seen = self.store.stored_event(key)
        return seen is not None and (seen.delivered or self._still_theirs(seen.owner, seen.claimed_at))

    def delivered(self, key: str) -> None:
        """An adapter sent an event's replies: a redelivery of that event then gets none.

        The update's one durable commit was its handling; this mark does not wait for the disk
        (see Store.transaction). It survives the process dying; only the machine failing before
        the next durable commit can lose it, and then a restart sends these replies once more.
        Old keys are pruned apart from this, see `prune`."""
        self.store.commit_delivered(key, self.clock(), self.owner)

    def remember_message(self, platform: str, ref: str, chat_id: str, message_id: str) -> None:
        with self.store.transaction():
            self.store.remember_message(platform, ref, chat_id, message_id, self.clock())

    def posted_message(self, platform: str, ref: str, chat_id: str) -> str | None:
        return self.store.posted_message(platform, ref, chat_id)

    def secret(self, name: str) -> str:
        """A random secret kept in the database, so that every instance and restart shares it."""
        with self.store.transaction():
            return self.store.secret(name)

    # A platform's installations (a token per workspace) and the states of its install links

    def save_installation(self, platform: str, enterprise_id: str, team_id: str, bot: str) -> None:
        with self.store.transaction():
            self.store.save_installation(platform, enterprise_id, team_id, bot, self.clock())

    def installation(self, platform: str, enterprise_id: str, team_id: str) -> str | None:
        return self.store.installation(platform, enterprise_id, team_id)

    def delete_installation(self, platform: str, enterprise_id: str, team_id: str) -> None:
        with self.store.transaction():
            self.store.delete_installation(platform, enterprise_id, team_id)

    def issue_oauth_state(self, state: str, seconds: int) -> None:
        now = datetime.fromisoformat(self.clock())
        with self.store.transaction():
            self.store.issue_oauth_state(state, (now + timedelta(seconds=seconds)).isoformat(timespec="seconds"),
                                         now.isoformat(timespec="seconds"))

    def consume_oauth_state(self, state: str) -> bool:
        with self.store.transaction():
            return self.store.consume_oauth_state(state, self.clock())

    def scope_ids(self, platform: str, prefix: str) -> None:
        with self.store.transaction():
            self.store.scope_ids(platform, prefix)

    # Weekly tips: the scheduler's side of the outbox, each step in its own transaction

    def claim_due(self, now: datetime, claim_timeout: timedelta = scheduler.CLAIM_TIMEOUT,
                  platforms: frozenset[str] | None = None) -> list[scheduler.Outgoing]:
        with self.store.transaction():
            return scheduler.claim_due(self.store, self.catalogs, now, claim_timeout, platforms)

    def delivery_sent(self, outgoing: scheduler.Outgoing, message_id: str, now: datetime) -> None:
        with self.store.transaction():
            scheduler.mark_sent(self.store, outgoing, message_id, now)

    def delivery_gone(self, outgoing: scheduler.Outgoing, now: datetime) -> list[scheduler.Outgoing]:
        with self.store.transaction():
            return scheduler.mark_gone(self.store, self.catalogs, outgoing, now)

    def release_delivery(self, outgoing: scheduler.Outgoing) -> None:
        with self.store.transaction():
            self.store.release_delivery(outgoing.subscription_id, outgoing.period)

    def prune_due(self, idle: bool) -> bool:
        """Whether to prune old event keys now: when idle, every PRUNE_EVERY events and while a
        backlog lasts; when busy, once as many events came in as a batch deletes, so that keys
        never pile up under a load that leaves no idle moment."""
        return (self._backlog or self._unpruned >= PRUNE_EVERY) if idle else self._unpruned >= PRUNE_BATCH

    def prune(self) -> bool:
        """Deletes one batch of event keys older than a week (far longer than any platform
        redelivers an update), found by their index, in a commit that does not wait for the
        disk. Not part of handling an update: AsyncEngine prunes when its thread is idle.
        True when the batch was full and more may be waiting."""
        cutoff = (datetime.fromisoformat(self.clock()) - EVENT_MEMORY).isoformat(timespec="seconds")
        try:
            with self.store.transaction(durable=False):
                gone = self.store.prune_events(cutoff, PRUNE_BATCH)
        except StorageError:
            log.exception("could not prune old event keys")
            gone = 0
        self._unpruned, self._backlog = 0, gone >= PRUNE_BATCH
        return self._backlog

    def set_language(self, platform: str, user_id: str, lang: str) -> None:
        """Records a person's language choice made outside the chat (a flag, a settings button)."""
        if lang not in self.catalogs:
            raise ValueError(f"unsupported language: {lang}")
        with self.store.transaction():
            self.store.set_user_lang(platform, user_id, lang, self.clock())

    def message_for(self, platform: str, user_id: str, key: str, lang_hint: str | None = None) -> str:
        """A message from the content in a person's language, for what an adapter says on its own."""
        return self.catalogs[self._language(Event(platform, "", user_id, lang=lang_hint))].message(key)

    def _language(self, event: Event) -> str:
        chosen = self.store.user_lang(event.platform, event.user_id)
        if chosen in self.catalogs:
            return chosen
        hint = (event.lang or "").replace("_", "-").split("-")[0].lower()
        return hint if hint in self.catalogs else self.default_lang

    def _apply(self, event: Event, lang: str) -> Conversation:
        row = self.store.load_conversation(event.platform, event.chat_id, event.user_id)
        if row.team_id is not None:  # a team's progress counts every member's answers, once
            self.store.lock_team(row.team_id)
        turn = Turn(self.store, self.catalogs, event, lang, self.clock(), settled=self._settled)
        if event.name:
            self.store.remember_name(event.platform, event.user_id, event.name[:80], turn.now)
        conversation = Conversation(row, turn)
        raw = (event.choice if event.choice is not None else (event.text or ""))[:MAX_INPUT]
        found = self._command_for(raw)
        if not event.private and (found is None or not found[0].group):
            found = PRIVATE_ONLY, (event.choice or event.text or "")[:MAX_ECHO]
        if found is None:
            conversation.message(self.machine, raw if event.choice is None else "", event.choice and raw)
        else:
            conversation.run(self.machine, *found)
        if event.key is not None:
            row.last_key = event.key
        chat = conversation.chat
        # A home screen looked at by someone the bot never talked with there starts no conversation.
        if not chat.forgotten and not (row.new and found is not None and found[0] is COMMANDS["home"]):
            self.store.save_conversation(row, turn.now)
        chat.replies[:] = for_audience(event, chat.replies)
        return conversation

    @staticmethod
    def _command_for(raw: str) -> tuple[Command, str] | None:
        """The registered command a text or button names, and what follows it (for a command
        not registered, its name to echo); None for anything else, a message."""
        parsed = parse_command(raw) if not raw.startswith("q:") else None
        if parsed is None:
            return None
        name, arg = parsed
        return find(name, arg) or (UNKNOWN, ("/" + name)[:MAX_ECHO])


class AsyncEngine:
    """Runs an Engine on one thread that owns its SQLite connection, off the adapters' event loop."""

    def __init__(self, factory: Callable[[], Engine]) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stagecoach-engine")
        self._engine = self._thread.submit(factory).result()
        # The inbox is written on a connection and thread of its own: a platform waits for that
        # write before it hears an update arrived, and must not wait behind the handling of others.
        self._intake = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stagecoach-intake")
        self._intake_store = self._intake.submit(self._engine.store.sibling).result()
        self._waiting = 0  # calls handed to the engine's thread and not yet done

    async def handle(self, event: Event) -> list[Reply]:
        return await self._run(self._engine.handle, event)

    async def set_language(self, platform: str, user_id: str, lang: str) -> None:
        await self._run(self._engine.set_language, platform, user_id, lang)

    async def message_for(self, platform: str, user_id: str, key: str, lang_hint: str | None = None) -> str:
        return await self._run(self._engine.message_for, platform, user_id, key, lang_hint)

    async def delivered(self, key: str) -> None:
        await self._run(self._engine.delivered, key)
        # Old keys go after a delivery, when no one else waits for the engine's thread.
        while self._engine.prune_due(idle=self._waiting == 0):
            await self._run(self._engine.prune)

    async def receive(self, platform: str, items: list[tuple[str, str | None, str]]) -> None:
        if self._intake_store is None:
            await self._run(self._engine.receive, platform, items)
        else:
            await asyncio.get_running_loop().run_in_executor(
                self._intake, self._engine.receive, platform, items, self._intake_store)

    async def inbox(self, platform: str) -> list[tuple[str, str]]:
        return await self._run(self._engine.inbox, platform)

    async def settle(self, key: str, readable: bool = True) -> None:
        await self._run(self._engine.settle, key, readable)

    async def undelivered(self, platform: str) -> list[tuple[str, str, str, list[Reply]]]:
        return await self._run(self._engine.undelivered, platform)

    async def remember_message(self, platform: str, ref: str, chat_id: str, message_id: str) -> None:
        await self._run(self._engine.remember_message, platform, ref, chat_id, message_id)

    async def posted_message(self, platform: str, ref: str, chat_id: str) -> str | None:
        return await self._run(self._engine.posted_message, platform, ref, chat_id)

    async def claim_due(
        self, now: datetime, claim_timeout: timedelta = scheduler.CLAIM_TIMEOUT, platforms: frozenset[str] | None = None
    ) -> list[scheduler.Outgoing]:
        return await self._run(self._engine.claim_due, now, claim_timeout, platforms)

    async def delivery_sent(self, outgoing: scheduler.Outgoing, message_id: str, now: datetime) -> None:
        await self._run(self._engine.delivery_sent, outgoing, message_id, now)

    async def delivery_gone(self, outgoing: scheduler.Outgoing, now: datetime) -> list[scheduler.Outgoing]:
        return await self._run(self._engine.delivery_gone, outgoing, now)

    async def release_delivery(self, outgoing: scheduler.Outgoing) -> None:
        await self._run(self._engine.release_delivery, outgoing)

    async def secret(self, name: str) -> str:
        return await self._run(self._engine.secret, name)

    async def save_installation(self, platform: str, enterprise_id: str, team_id: str, bot: str) -> None:
        await self._run(self._engine.save_installation, platform, enterprise_id, team_id, bot)

    async def installation(self, platform: str, enterprise_id: str, team_id: str) -> str | None:
        return await self._run(self._engine.installation, platform, enterprise_id, team_id)

    async def delete_installation(self, platform: str, enterprise_id: str, team_id: str) -> None:
        await self._run(self._engine.delete_installation, platform, enterprise_id, team_id)

    async def issue_oauth_state(self, state: str, seconds: int) -> None:
        await self._run(self._engine.issue_oauth_state, state, seconds)

    async def consume_oauth_state(self, state: str) -> bool:
        return await self._run(self._engine.consume_oauth_state, state)

    async def scope_ids(self, platform: str, prefix: str) -> None:
        await self._run(self._engine.scope_ids, platform, prefix)

    async def _run(self, function: Callable[[*Arguments], T], *args: *Arguments) -> T:
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)
        finally:
            self._waiting -= 1

    @property
    def catalogs(self) -> dict[str, Catalog]:
        return self._engine.catalogs

    def close(self) -> None:
        if self._intake_store is not None:
            self._intake.submit(self._intake_store.close).result()
        self._intake.shutdown()
        self._thread.submit(self._engine.store.close).result()
        self._thread.shutdown()
