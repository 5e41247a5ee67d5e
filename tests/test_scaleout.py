"""Two `stagecoach run` processes on one PostgreSQL, every Slack request and every Telegram
update posted to both at once, and one of them SIGKILLed and restarted mid-run: nothing lost,
nothing applied or sent twice. The harness is tests/scaleout.py; bench/scaleout.py runs it at full
size and measures it."""
from __future__ import annotations

import asyncio

from tests import crash, scaleout
from tests.postgres import fresh_schema, require_server

PEOPLE = 6


def assert_nothing_lost_or_doubled(outcome: scaleout.Outcome) -> None:
    """A request applied twice, or a reply sent by both processes, shows as a message the person
    got twice; a reply left unsent by the killed process, as a person waiting in vain."""
    tally = outcome.tally
    assert tally.kills == 1, "the people finished before an instance was killed"
    assert not tally.stuck and outcome.results == PEOPLE, tally.stuck
    assert not tally.lost and not tally.doubled and not tally.wrong and not tally.inbox_left, tally
    assert not outcome.doubled_sent, outcome.doubled_sent
    assert tally.confirmed == tally.applied == PEOPLE * (crash.QUESTIONS + 1), tally


def test_two_instances_given_every_request_and_one_killed_lose_and_double_nothing(tmp_path):
    with fresh_schema(require_server()) as url:
        assert_nothing_lost_or_doubled(asyncio.run(scaleout.run(url, 2, PEOPLE, tmp_path, seed=5)))


def test_two_webhook_instances_given_every_update_and_one_killed_lose_and_double_nothing(tmp_path):
    """Telegram by webhook: the processes share the secret token stored in the database (none is
    configured), so an update is taken by whichever of them it reaches."""
    with fresh_schema(require_server()) as url:
        outcome = asyncio.run(scaleout.run(url, 2, PEOPLE, tmp_path, seed=5, platform_name="telegram"))
        assert outcome.webhook_secrets == 1, "the processes gave Telegram different secret tokens"
        assert_nothing_lost_or_doubled(outcome)
