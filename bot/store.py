"""The storage contract: every query Stagecoach makes, as one Protocol with two implementations.

SQLite (`bot.store_sqlite`, WAL, one file) is the embedded default; PostgreSQL
(`bot.store_postgres`) lets several instances share one database. The engine, flows, scheduler
and adapters know only this module: the records a store returns, its one error type, and
`open_store`, which picks the implementation from where the data lives.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import NamedTuple, Protocol

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class StorageError(Exception):
    """The database could not do what was asked just now (busy, full, gone, a conflict); the
    person is told to try again, and nothing of the event was kept."""


class Unusable(Exception):
    """The database cannot be used as it is; the message is one line for the operator."""


# Every column that can tell who someone is, and what `/forget` (Store.forget_user) does to it.
# Every other column is listed in IMPERSONAL; a test holds the schema to the two lists, so a
# new column that names a person cannot be added without saying how it is forgotten.
DELETED, CLEARED = "row deleted", "cleared"
PERSONAL: dict[str, dict[str, str]] = {
    "users": {"user_id": DELETED, "name": DELETED, "lang": DELETED},
    "conversations": {"user_id": DELETED, "chat_id": DELETED},
    "assessments": {"user_id": DELETED, "chat_id": DELETED, "result": DELETED},
    "answers": {"assessment_id": DELETED, "value": DELETED},
    "team_members": {"user_id": DELETED},
    "teams": {"starter_id": CLEARED},
    "subscriptions": {"champion_id": CLEARED, "chat_id": DELETED},  # deleted: their private chat's own
    "champions": {"user_id": DELETED, "added_by": CLEARED},
    "events": {"user_id": DELETED, "replies": CLEARED, "chat_id": DELETED},  # cleared: others' replies naming them
    "inbox": {"user_id": DELETED, "payload": DELETED},
    "tip_feedback": {"user_id": DELETED, "chat_id": DELETED},
    "roadmap": {"user_id": DELETED, "chat_id": DELETED},
    "wrong_codes": {"user_id": DELETED},
}
IMPERSONAL: dict[str, tuple[str, ...]] = {
    "users": ("platform", "created_at"),
    "conversations": ("platform", "state", "assessment_id", "cursor", "tip_id", "coach_stage", "coach_focus",
                      "quick", "team_id", "last_key", "updated_at"),
    "assessments": ("id", "platform", "started_at", "finished_at", "stage", "team_id", "position"),
    "answers": ("question_id", "answered_at"),
    "team_members": ("team_id", "platform", "joined_at", "left_at"),
    # A team's place is a group, or "named:<team name>"; its result holds no one's answers alone.
    "teams": ("id", "platform", "workspace", "chat_id", "name", "code", "lang", "status", "created_at",
              "closed_at", "stage", "result"),
    "subscriptions": ("id", "platform", "lang", "stage", "weekday", "at", "zone", "status", "created_at"),
    "deliveries": ("subscription_id", "period", "tip_id", "status", "due_at", "claimed_at", "sent_at", "late",
                   "message_id"),
    "champions": ("platform", "scope", "at"),
    "events": ("key", "platform", "handled_at", "delivered_at", "chat_type", "owner", "claimed_at"),
    "inbox": ("key", "platform", "received_at", "status", "received_by"),
    "posted_messages": ("platform", "ref", "chat_id", "message_id", "at"),  # a team's group, never a person
    "tip_feedback": ("platform", "tip_id", "status", "at"),
    "roadmap": ("platform", "item_id", "at"),
    "invites": ("token", "team_id", "created_at", "expires_at"),
    "wrong_codes": ("platform", "at"),
    "settings": ("key", "value"),
    # A Slack workspace's bot (its token, the bot's own ids, the workspace's name); never the installer.
    "installations": ("platform", "enterprise_id", "team_id", "bot", "installed_at"),
    "oauth_states": ("state", "expires_at"),
    "schema_migrations": ("version", "name", "applied_at"),
}


@dataclass
class ConversationRow:
    platform: str
    chat_id: str
    user_id: str
    # In the order of the table's columns (_CONVERSATION_FIELDS), which fill it in.
    state: str = "idle"  # the flows' state
    assessment_id: int | None = None  # the assessment in hand, and the question on screen
    cursor: int = 0
    tip_id: str | None = None  # the tip on screen, and what coaching works on
    coach_stage: int | None = None
    coach_focus: str = ""
    quick: str = ""  # a quick check's answers so far
    team_id: int | None = None  # the team the assessment in hand is for
    last_key: str | None = None
    new: bool = False  # not stored yet: the bot has not talked with them in this chat


@dataclass(frozen=True, slots=True)
class AssessmentRecord:
    """A finished assessment: when it ended, and its result."""

    id: int
    started_at: str
    finished_at: str
    result: dict
    team_id: int | None


@dataclass(frozen=True, slots=True)
class TeamRecord:
    id: int
    platform: str
    chat_id: str  # the group it belongs to, or "named:<name>" for one started in a private chat
    name: str
    code: str
    starter_id: str
    lang: str
    # "open" until closed; then its combined result, never anyone's answers alone.
    status: str
    created_at: str
    closed_at: str | None
    result: dict | None
    workspace: str = ""


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    platform: str
    chat_id: str
    lang: str
    stage: int | None  # the stage its champion chose; None: that of the place's last team
    # When: a weekday (0 is Monday), a time (HH:MM) and a time zone (Europe/Amsterdam).
    weekday: int
    at: str
    zone: str
    status: str
    champion_id: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Delivery:
    subscription_id: int
    period: str  # an ISO week, 2026-W10
    tip_id: str | None
    # claimed, then sent; or skipped, or gone with its channel
    status: str
    due_at: str
    claimed_at: str | None
    sent_at: str | None
    late: bool


class Member(NamedTuple):
    """A team's member as the team sees them: who, and whether they answered; never what."""

    user_id: str
    name: str
    answered: bool


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A handled event: its replies (none once delivered), and who hands them out since when."""

    replies: list[dict]
    delivered: bool
    owner: str | None
    claimed_at: str | None


@dataclass(frozen=True, slots=True)
class Undelivered:
    """Replies saved and never marked delivered, and where they go."""

    key: str
    chat_id: str
    chat_type: str
    replies: list[dict]
    owner: str | None
    claimed_at: str | None


class Store(Protocol):
    """What a store does. A Store belongs to the thread that opened it; `sibling` gives another
    thread its own. Every change happens inside `transaction()`."""

    def sibling(self) -> Store | None: ...
    def close(self) -> None: ...
    def transaction(self, durable: bool = True) -> AbstractContextManager[None]: ...
    def savepoint(self) -> AbstractContextManager[None]: ...
    def lock_conversation(self, platform: str, chat_id: str, user_id: str) -> None: ...
    def lock_team(self, team_id: int) -> None: ...

    # Events: idempotency, and who delivers their replies
    def stored_event(self, key: str) -> StoredEvent | None: ...
    def remember_event(self, key: str, platform: str, user_id: str | None, chat_id: str | None, chat_type: str,
                       replies: list[dict], at: str, owner: str | None = None) -> None: ...
    def claim_event(self, key: str, owner: str, was: str | None, at: str) -> bool: ...
    def commit_delivered(self, key: str, at: str, owner: str) -> None: ...
    def undelivered(self, platform: str, since: str) -> list[Undelivered]: ...
    def prune_events(self, before: str, limit: int) -> int: ...

    # The inbox
    def receive(self, platform: str, items: list[tuple[str, str | None, str]], at: str, by: str) -> None: ...
    def inbox(self, platform: str) -> list[tuple[str, str, str | None, str]]: ...
    def in_inbox(self, key: str) -> bool: ...
    def inbox_done(self, key: str) -> None: ...
    def set_aside(self, key: str) -> None: ...

    # Messages posted to update in place
    def remember_message(self, platform: str, ref: str, chat_id: str, message_id: str, at: str) -> None: ...
    def posted_message(self, platform: str, ref: str, chat_id: str) -> str | None: ...

    # People and conversations
    def user_lang(self, platform: str, user_id: str) -> str | None: ...
    def set_user_lang(self, platform: str, user_id: str, lang: str, at: str) -> None: ...
    def remember_name(self, platform: str, user_id: str, name: str, at: str) -> None: ...
    def forget_user(self, platform: str, user_id: str, private_chat: str) -> list[int]: ...
    def load_conversation(self, platform: str, chat_id: str, user_id: str) -> ConversationRow: ...
    def save_conversation(self, row: ConversationRow, at: str) -> None: ...

    # Coaching
    def tip_statuses(self, platform: str, chat_id: str, user_id: str) -> dict[str, str]: ...
    def set_tip_status(self, platform: str, chat_id: str, user_id: str, tip_id: str, status: str,
                       at: str) -> None: ...
    def clear_shown_tips(self, platform: str, chat_id: str, user_id: str, tip_ids: list[str]) -> None: ...
    def roadmap_done(self, platform: str, chat_id: str, user_id: str) -> set[str]: ...
    def mark_roadmap_item(self, platform: str, chat_id: str, user_id: str, item_id: str, at: str) -> None: ...

    # Assessments
    def start_assessment(self, platform: str, chat_id: str, user_id: str, at: str,
                         team_id: int | None = None) -> int: ...
    def assessment_team(self, assessment_id: int) -> int | None: ...
    def suspend_assessment(self, assessment_id: int, position: int) -> None: ...
    def unfinished_assessment(self, platform: str, chat_id: str, user_id: str,
                              team_id: int | None) -> tuple[int, int] | None: ...
    def discard_assessment(self, assessment_id: int) -> None: ...
    def record_answer(self, assessment_id: int, question_id: str, value: int, at: str) -> None: ...
    def answer(self, assessment_id: int, question_id: str) -> int | None: ...
    def answers(self, assessment_id: int) -> dict[str, int]: ...
    def finish_assessment(self, assessment_id: int, stage: int | None, result: dict, at: str) -> None: ...
    def finished_assessments(self, platform: str, chat_id: str, user_id: str,
                             limit: int = 2) -> list[AssessmentRecord]: ...

    # Teams
    def create_team(self, platform: str, workspace: str, chat_id: str, name: str, code: str, starter_id: str,
                    lang: str, at: str) -> int: ...
    def code_taken(self, platform: str, code: str) -> bool: ...
    def team_code_exists(self, code: str) -> bool: ...
    def team(self, team_id: int) -> TeamRecord | None: ...
    def team_by_code(self, platform: str, workspace: str, code: str) -> TeamRecord | None: ...
    def create_invite(self, token: str, team_id: int, at: str, expires_at: str) -> None: ...
    def invite_for(self, team_id: int, valid_at: str) -> str | None: ...
    def invited_team(self, token: str, platform: str, now: str) -> TeamRecord | None: ...
    def record_wrong_code(self, platform: str, user_id: str, at: str) -> None: ...
    def wrong_codes_since(self, platform: str, user_id: str, since: str) -> list[str]: ...
    def prune_wrong_codes(self, before: str) -> None: ...
    def open_team_at(self, platform: str, chat_id: str) -> TeamRecord | None: ...
    def teams_at(self, platform: str, chat_id: str, limit: int = 2) -> list[TeamRecord]: ...
    def closed_teams_at(self, platform: str, chat_id: str, limit: int = 2,
                        min_participants: int = 0) -> list[TeamRecord]: ...
    def add_member(self, team_id: int, platform: str, user_id: str, at: str) -> None: ...
    def remove_member(self, team_id: int, user_id: str, at: str) -> None: ...
    def is_member(self, team_id: int, user_id: str) -> bool: ...
    def members(self, team_id: int) -> list[Member]: ...
    def team_answers(self, team_id: int) -> list[tuple[str, dict[str, int]]]: ...
    def close_team(self, team_id: int, stage: int | None, result: dict, at: str) -> None: ...

    # Weekly tips
    def subscription(self, subscription_id: int) -> Subscription | None: ...
    def subscription_at(self, platform: str, chat_id: str) -> Subscription | None: ...
    def active_subscriptions(self, claiming: bool = False) -> list[Subscription]: ...
    def save_subscription(self, platform: str, chat_id: str, lang: str, stage: int | None, weekday: int, at: str,
                          zone: str, champion_id: str, now: str) -> None: ...
    def set_subscription_status(self, subscription_id: int, status: str) -> None: ...
    def delivery(self, subscription_id: int, period: str) -> Delivery | None: ...
    def deliveries(self, subscription_id: int, limit: int = 10) -> list[Delivery]: ...
    def stale_claims(self, before: str) -> list[Delivery]: ...
    def claim_delivery(self, subscription_id: int, period: str, tip_id: str | None, status: str, due_at: str,
                       now: str, late: bool) -> bool: ...
    def reclaim_delivery(self, subscription_id: int, period: str, now: str) -> None: ...
    def finish_delivery(self, subscription_id: int, period: str, status: str, now: str,
                        message_id: str | None = None) -> None: ...
    def release_delivery(self, subscription_id: int, period: str) -> None: ...
    def reopen_week(self, subscription_id: int, period: str) -> None: ...
    def is_champion(self, platform: str, scope: str, user_id: str) -> bool: ...
    def add_champion(self, platform: str, scope: str, user_id: str, added_by: str, now: str) -> None: ...

    # Exports, content checks, settings, installations
    def export_assessments(self, team_code: str | None, since: str | None, until: str | None) -> list[dict]: ...
    def export_teams(self, team_code: str | None, since: str | None, until: str | None) -> list[dict]: ...
    def stored_content_ids(self) -> dict[str, set[str]]: ...
    def secret(self, name: str) -> str: ...
    def save_installation(self, platform: str, enterprise_id: str, team_id: str, bot: str, at: str) -> None: ...
    def installation(self, platform: str, enterprise_id: str, team_id: str) -> str | None: ...
    def delete_installation(self, platform: str, enterprise_id: str, team_id: str) -> None: ...
    def issue_oauth_state(self, state: str, expires_at: str, now: str) -> None: ...
    def consume_oauth_state(self, state: str, now: str) -> bool: ...
    def scope_ids(self, platform: str, prefix: str) -> None: ...


def open_store(location: str) -> Store:
    """The store for a database URL (`postgresql://…`) or an SQLite file's path; the SQLite file
    is checked first, so that a damaged one is told at start-up (raises Unusable)."""
    if location.startswith(POSTGRES_SCHEMES):
        from .store_postgres import PostgresStore

        return PostgresStore(location)
    from .store_sqlite import SQLiteStore, check

    check(location)
    return SQLiteStore(location)
