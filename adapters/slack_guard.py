"""The guard in front of the Slack app: a request is checked for Slack's signature before its
body is read as anything, then for the shape our listeners rely on.

A stranger must learn nothing from how a body fails (so an unsigned request gets 401 whatever
it holds), and a signed request that is not what Slack sends gets a 400 and one log line: a 500
would make Slack retry it, and a crash inside a listener would come after the acknowledgement.
"""
from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000
MAX_DEPTH = 64  # Slack's payloads nest about a dozen levels; a message's blocks a few more
COMMAND_FIELDS = ("command", "user_id", "channel_id", "trigger_id")


class Malformed(ValueError):
    """A signed body that is not what Slack sends; its message says why, for the log."""


def reject_malformed(verifier: SignatureVerifier | None, pages: frozenset[str] = frozenset()) -> Middleware:
    """The guard as aiohttp middleware; `verifier` is None only when the app verifies nothing.
    `pages` are paths a browser visits (the install link's), which Slack does not sign."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "GET" and request.path in pages:
            return await handler(request)
        body = await request.read()
        if len(body) > MAX_BODY:
            return web.Response(status=413, text="too large")
        if verifier is not None and not _signed(verifier, request, body) and not _ssl_check(body):
            log.info("refused a Slack request without a valid signature")
            return web.Response(status=401, text="invalid signature")
        try:
            check_body(request.content_type, body)
        except Malformed as problem:
            log.warning("refused a malformed Slack request: %s", problem)
            return web.Response(status=400, text="malformed request")
        return await handler(request)

    return guard


def _signed(verifier: SignatureVerifier, request: web.Request, body: bytes) -> bool:
    """A timestamp that is not a number is as bad as a wrong signature."""
    try:
        return verifier.is_valid(body, request.headers.get("X-Slack-Request-Timestamp"),
                                 request.headers.get("X-Slack-Signature"))
    except (ValueError, TypeError):
        return False


def _ssl_check(body: bytes) -> bool:
    """Slack's certificate check of the URL, which it does not sign (bolt answers it)."""
    try:
        return parse_qs(body.decode("ascii")).get("ssl_check") == ["1"]
    except UnicodeDecodeError:
        return False


def check_body(content_type: str, body: bytes) -> None:
    """Raises Malformed unless the body has what the listeners read: an event envelope, a button
    press with its action, or a slash command with who, where and its trigger."""
    try:
        if content_type == "application/json":
            _check_envelope(parse_json(body))
            return
        form = parse_qs(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise Malformed("not UTF-8") from error
    if "payload" in form:
        _check_interaction(parse_json(form["payload"][0]))
    elif "command" in form and not all(len(form.get(name, [])) == 1 for name in COMMAND_FIELDS):
        raise Malformed("a slash command without its fields")


def parse_json(text: str | bytes) -> Any:
    """JSON with its nesting bounded, so that no later reader of it runs out of stack."""
    try:
        data = json.loads(text)
    except RecursionError as error:
        raise Malformed("JSON nested too deeply") from error
    except ValueError as error:
        raise Malformed(f"not JSON: {error}") from error
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise Malformed(f"JSON nested deeper than {MAX_DEPTH}")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return data


def _check_envelope(data: Any) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("type", ""), str):
        raise Malformed("not an event envelope")
    event = data.get("event", {})
    if not isinstance(event, dict) or not isinstance(event.get("type", ""), str):
        raise Malformed("an event that is not an object")
    kind = event.get("type")
    needed = ("user", "channel") if kind == "message" and not event.get("subtype") else ("user",)
    if kind in ("message", "app_home_opened") and not all(isinstance(event.get(k), str) for k in needed):
        raise Malformed(f"a {kind} event without its {' or '.join(needed)}")


def _check_interaction(payload: Any) -> None:
    """Only button presses are ours: Stagecoach opens no modals, so a view_submission is not Slack's."""
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        kind = payload.get("type") if isinstance(payload, dict) else type(payload).__name__
        raise Malformed(f"an interaction of kind {str(kind)[:40]!r}")
    actions, user = payload.get("actions"), payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        raise Malformed("a button press without its user")
    if not isinstance(actions, list) or not actions:
        raise Malformed("a button press without an action")
    for action in actions:
        if not isinstance(action, dict) or not all(isinstance(action.get(k), str) for k in ("action_id", "action_ts")):
            raise Malformed("an action without its id or time")
        if not isinstance(action.get("value", ""), str):
            raise Malformed("an action whose value is not text")
    for name in ("container", "channel", "team", "message"):
        if not isinstance(payload.get(name) or {}, dict):
            raise Malformed(f"a button press whose {name} is not an object")
