"""What comes in before the engine: Slack requests that are unsigned or not what Slack sends."""
from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.drivers.slack import ANN, FORM, NAMES, SECRET, App, dm
from tests.fakes.slack import APP, TEAM, FakeSlack

JSON = "application/json"
DEEP = "[" * 100_000 + "]" * 100_000


def press(actions: list, kind: str = "block_actions") -> str:
    payload = {"type": kind, "team": {"id": TEAM}, "user": {"id": ANN}, "api_app_id": APP,
               "trigger_id": "13345224609.1.a1b2c3", "container": {"type": "message", "message_ts": "1.2",
                                                                   "channel_id": "D1"}, "actions": actions}
    return urlencode({"payload": json.dumps(payload)})


VIEW_SUBMISSION = urlencode({"payload": json.dumps({
    "type": "view_submission", "team": {"id": TEAM}, "user": {"id": ANN}, "api_app_id": APP,
    "view": {"id": "V1", "type": "modal", "callback_id": "x", "state": {"values": {}}}})})

MALFORMED = {
    "an empty actions list": (press([]), FORM),
    "a view_submission": (VIEW_SUBMISSION, FORM),
    "100k nested lists": (DEEP, JSON),
    "100k nested lists in a payload": (urlencode({"payload": DEEP}), FORM),
    "a JSON body that is not an object": ('"hello"', JSON),
    "a JSON list": ("[1, 2]", JSON),
    "a payload that is not JSON": (urlencode({"payload": "{broken"}), FORM),
    "an action without its id": (press([{"value": "1", "action_ts": "1.1"}]), FORM),
    "an im message without its user": (json.dumps({"type": "event_callback", "team_id": TEAM, "event_id": "Ev1",
                                                   "event": {"type": "message", "channel_type": "im",
                                                             "channel": "D1", "ts": "1.1"}}), JSON),
    "a slash command without its channel": (urlencode({"command": "/stagecoach", "user_id": ANN, "text": "help",
                                                       "trigger_id": "1.2.3"}), FORM),
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(names=dict(NAMES))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def app(fake: FakeSlack, tmp_path: Path) -> AsyncIterator[App]:
    running = App(fake, tmp_path / "slack.db")
    await running.start()
    yield running
    await running.stop()


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_an_unsigned_or_wrongly_signed_malformed_request_gets_401(app, case):
    """The signature is checked before the body is read: a stranger learns nothing from how a body fails."""
    body, content_type = MALFORMED[case]
    assert (await app.post(body, content_type, secret="wrong")).status_code == 401
    assert (await app.post(body, content_type, headers={"X-Slack-Signature": ""})).status_code == 401


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_a_signed_malformed_request_gets_400_and_one_log_line(app, fake, caplog, case):
    body, content_type = MALFORMED[case]
    with caplog.at_level(logging.WARNING):
        assert (await app.post(body, content_type)).status_code == 400
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in logged] == ["adapters.slack_guard"]
    assert "malformed" in logged[0].getMessage()
    await dm(app, ANN, "help", "/restart")  # and the app carries on


async def test_a_non_numeric_timestamp_is_refused_as_unsigned(app, fake):
    body = json.dumps({"type": "event_callback", "team_id": TEAM, "event": {"type": "app_home_opened", "user": ANN}})
    signature = SignatureVerifier(SECRET).generate_signature(timestamp="soon", body=body)
    headers = {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": signature}
    assert (await app.post(body, JSON, headers=headers)).status_code == 401
    headers["X-Slack-Request-Timestamp"] = "9" * 5000
    assert (await app.post(body, JSON, headers=headers)).status_code == 401
    await dm(app, ANN, "help", "/restart")
    assert ANN not in fake.views


async def test_slack_s_unsigned_ssl_check_still_reaches_the_app(app):
    assert (await app.post(urlencode({"ssl_check": "1", "token": "t"}), FORM, secret="wrong")).status_code == 200
