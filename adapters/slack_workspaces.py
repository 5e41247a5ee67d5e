"""Slack workspaces: the app installed to any number of them, each with its own bot token.

Installations and the states of install links are kept in Stagecoach's database, behind the
engine (`EngineInstallationStore`, `EngineStateStore`), for Bolt's OAuth flow and its authorize.
Stagecoach keeps every Slack id with its workspace in front ("T…:C…", "T…:U…"), so that two
workspaces never share a chat or a person; `Workspaces` takes such ids off again and makes each
Web API call with the token of the workspace it is for.
"""
from __future__ import annotations

import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime
from logging import Logger
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.engine import AsyncEngine

log = logging.getLogger(__name__)

PLATFORM = "slack"
STATE_SECONDS = 600
CLIENTS_KEPT = 1000
# Web API arguments that name a channel or a person.
ID_ARGUMENTS = ("channel", "user", "user_id", "users")

# The workspace of the request being handled, for ids that come from its body as Slack sent them.
current: ContextVar[str | None] = ContextVar("slack_workspace", default=None)


def scoped(team: str | None, slack_id: str) -> str:
    """A Slack id as Stagecoach keeps it: its workspace in front, once."""
    return slack_id if not team or ":" in slack_id else f"{team}:{slack_id}"


def unscoped(kept: str) -> tuple[str | None, str]:
    """(workspace or None, Slack's own id) of an id as Stagecoach keeps it."""
    team, _, slack_id = kept.rpartition(":")
    return team or None, slack_id


class NotInstalled(LookupError):
    """The app has no token for this workspace (never installed there, or uninstalled)."""


class EngineInstallationStore(AsyncInstallationStore):
    """Bolt's installation store over Stagecoach's database: the bot of each workspace. The
    person who installed the app is not kept (Stagecoach asks for no user scopes)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @property
    def logger(self) -> Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        data = json.dumps(bot.to_dict(), default=lambda value: value.isoformat() if isinstance(value, datetime)
                          else str(value))
        await self.engine.save_installation(PLATFORM, bot.enterprise_id or "", _team(bot.team_id,
                                            bot.is_enterprise_install), data)

    async def async_find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                             is_enterprise_install: bool | None = False) -> Bot | None:
        data = await self.engine.installation(PLATFORM, enterprise_id or "", _team(team_id, is_enterprise_install))
        return Bot(**json.loads(data)) if data else None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.engine.delete_installation(PLATFORM, enterprise_id or "", team_id or "")
        log.info("the Slack app's token for workspace %s is deleted", team_id or enterprise_id)

    async def async_delete_installation(self, *, enterprise_id: str | None, team_id: str | None,
                                        user_id: str | None = None) -> None:
        if user_id is None:  # a person's own token is never kept
            await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)


def _team(team_id: str | None, enterprise_install: bool | None) -> str:
    return "" if enterprise_install or not team_id else team_id


class EngineStateStore(AsyncOAuthStateStore):
    """The states of install links, in the database, so that any instance can finish an install
    another one began; each is good once, for `seconds`."""

    def __init__(self, engine: AsyncEngine, seconds: int = STATE_SECONDS) -> None:
        self.engine, self.seconds = engine, seconds

    @property
    def logger(self) -> Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        await self.engine.issue_oauth_state(state, self.seconds)
        return state

    async def async_consume(self, state: str) -> bool:
        return await self.engine.consume_oauth_state(state)


class Workspaces:
    """The Web API, called as AsyncWebClient is, with ids as Stagecoach keeps them: each call
    goes with its workspace's bot token, and with Slack's own ids. With a single token (one
    workspace) every call uses it; otherwise the token is looked up in the installations for
    every call, and a workspace without one raises NotInstalled."""

    def __init__(self, single: AsyncWebClient | None, installations: AsyncInstallationStore | None = None,
                 make_client: Callable[[str], AsyncWebClient] | None = None) -> None:
        self.single, self.installations, self.make_client = single, installations, make_client
        self._clients: OrderedDict[str, AsyncWebClient] = OrderedDict()

    async def client_for(self, team: str | None) -> AsyncWebClient:
        if self.single is not None:
            return self.single
        bot = None
        if team and self.installations is not None:
            bot = await self.installations.async_find_bot(enterprise_id=None, team_id=team)
        if bot is None or self.make_client is None:
            raise NotInstalled(team or "no workspace")
        web = self._clients.pop(bot.bot_token, None) or self.make_client(bot.bot_token)
        self._clients[bot.bot_token] = web
        if len(self._clients) > CLIENTS_KEPT:
            self._clients.popitem(last=False)
        return web

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        if method.startswith("_"):
            raise AttributeError(method)

        async def call(**kwargs: Any) -> Any:
            team = None
            for name in ID_ARGUMENTS:
                if isinstance(kwargs.get(name), str):
                    owner, kwargs[name] = unscoped(kwargs[name])
                    team = team or owner
            web = await self.client_for(team or current.get())
            return await getattr(web, method)(**kwargs)

        return call
