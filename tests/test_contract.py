"""The adapter contract: every reply kind says what a platform does with it, and every platform
`stagecoach` can start is an adapter module that names itself as the table does."""
from __future__ import annotations

import pytest

from adapters.contract import DUTIES
from bot.cli import PLATFORMS, PlatformEntry
from bot.events import ReplyKind


def test_every_reply_kind_says_what_a_platform_does_with_it():
    assert set(DUTIES) == set(ReplyKind)
    assert all(duty.strip() for duty in DUTIES.values())


@pytest.mark.parametrize("entry", PLATFORMS, ids=lambda entry: entry.name)
def test_every_platform_in_the_table_is_an_adapter_that_names_itself_alike(entry: PlatformEntry):
    platform = entry.load()
    assert platform.PLATFORM == entry.name
    assert callable(platform.serve) and callable(platform.post_only)


def test_a_platform_is_on_when_any_of_its_variables_is_set(monkeypatch):
    slack = next(entry for entry in PLATFORMS if entry.name == "slack")
    for variable in slack.enabled_by:
        monkeypatch.delenv(variable, raising=False)
    assert not slack.enabled()
    monkeypatch.setenv("SLACK_CLIENT_ID", "123.456")
    assert slack.enabled()
