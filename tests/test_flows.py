"""The flows as code: every callback they name exists, and docs/flows.md is drawn from them."""
from __future__ import annotations

from operator import attrgetter

import pytest

from bot.catalog import default_catalogs
from bot.conversation import Conversation, Turn
from bot.diagram import DOCUMENT, document
from bot.events import Event
from bot.flows import TRANSITIONS
from bot.registry import REGISTRY
from bot.store import ConversationRow
from bot.store_sqlite import SQLiteStore

CALLBACKS = ("conditions", "unless", "before", "after", "prepare")


def named(transitions: list[dict]) -> list[str]:
    """Every callback a list of transitions names, in order."""
    names: list[str] = []
    for transition in transitions:
        for key in CALLBACKS:
            value = transition.get(key) or []
            names += [value] if isinstance(value, str) else value
    return names


def missing(names: list[str], model: object) -> list[str]:
    """The names that are not there to call on the model."""
    gone = []
    for name in names:
        try:
            attrgetter(name)(model)
        except AttributeError:
            gone.append(name)
    return gone


@pytest.fixture
def conversation(tmp_path):
    store = SQLiteStore(tmp_path / "flows.db")
    turn = Turn(store, default_catalogs(), Event("console", "c", "u"), "en", "2026-01-05T09:00:00+00:00")
    yield Conversation(ConversationRow("console", "c", "u"), turn)
    store.close()


def test_every_callback_a_flow_names_exists_on_the_conversation(conversation):
    assert named(TRANSITIONS)
    assert missing(named(TRANSITIONS), conversation) == []


def test_a_callback_that_does_not_exist_is_caught(conversation):
    wrong = [{"trigger": "message", "source": "idle", "dest": None,
              "conditions": ["questions.on_last_question", "questions.on_lastquestion"], "after": "mneu.welcome"}]
    assert missing(named(wrong), conversation) == ["questions.on_lastquestion", "mneu.welcome"]


def test_every_handler_the_registry_names_exists_on_the_conversation(conversation):
    handlers = [name for c in REGISTRY for name in (c.handler, c.otherwise) if name]
    assert handlers
    assert missing(handlers, conversation) == []


def test_the_flows_document_is_drawn_from_the_code():
    """After a change to a flow or a command, run `python -m bot.diagram`."""
    assert DOCUMENT.read_text(encoding="utf-8") == document()


def test_a_guard_only_looks_and_its_refusal_says_why(conversation):
    """Asking whether a wrong code may join writes nothing; saying no counts the wrong code."""
    team, store = conversation.team, conversation.chat.turn.store
    conversation.chat.arg = "NOSUCHCODE"
    since = "2026-01-05T08:00:00+00:00"
    assert not team.can_join()
    assert store.wrong_codes_since("console", "u", since) == []
    team.explain_join_refused()
    assert team.join_refusal == ("team_unknown_code", {"code": "NOSUCHCODE"})
    assert len(store.wrong_codes_since("console", "u", since)) == 1
    assert "NOSUCHCODE" in conversation.chat.replies[-1].text


def test_a_stale_button_is_read_as_such_and_a_typed_number_as_a_choice(conversation):
    questions = conversation.questions
    questions.read("", "q:7:dimension_q1:3")
    assert conversation.chat.stale and conversation.chat.choice is None
    conversation.chat.stale = False
    questions.read(" \uff13. ", None)  # a full-width 3
    assert conversation.chat.choice == 3 and not conversation.chat.stale
