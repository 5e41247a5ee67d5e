"""The menu: what works at any point (welcome, help, language, result, home), and forgetting a
person after they confirm it."""
from __future__ import annotations

from .. import coaching, render
from ..events import Reply, ReplyKind
from ..model import Chat
from ..registry import help_text
from ..scoring import Result
from .coaching import Coaching
from .team import Team

STATES = ["idle", "confirming_forget"]

CARRIED_ON = frozenset({"/assess", "/result", "/tips", "/roadmap", "/help"})

TRANSITIONS = [
    # A start payload is a team invite (bot/flows/team.py) or nothing: never a command to run.
    {"trigger": "start", "source": "*", "dest": "assessing", "conditions": "team.invited", "after": "team.join"},
    {"trigger": "message", "source": "idle", "dest": None,
     "conditions": "chat.stale", "after": "menu.explain_old_button"},
    {"trigger": "message", "source": "idle", "dest": None, "after": "menu.explain_idle"},
    # Forgetting: asked, then yes (all gone) or no (back to where they were).
    {"trigger": "forget", "source": "*", "dest": "confirming_forget", "after": "menu.ask_forget"},
    {"trigger": "message", "source": "confirming_forget", "dest": None,
     "conditions": "chat.stale", "after": "menu.explain_old_button"},
    {"trigger": "message", "source": "confirming_forget", "dest": "idle",
     "conditions": "questions.says_yes", "after": "menu.erase"},
    {"trigger": "message", "source": "confirming_forget", "dest": "assessing",
     "conditions": ["questions.says_no", "menu.has_open_assessment"], "after": ["menu.say_kept", "questions.ask"]},
    {"trigger": "message", "source": "confirming_forget", "dest": "idle",
     "conditions": "questions.says_no", "after": "menu.say_kept"},
    {"trigger": "message", "source": "confirming_forget", "dest": None, "after": "menu.ask_forget"},
]


class Menu:
    """What a person may ask for at any point; none of it changes where they are."""

    def __init__(self, chat: Chat, coaching: Coaching, team: Team) -> None:
        self.chat = chat
        self.coaching = coaching
        self.team = team

    def welcome(self) -> None:
        chat, total = self.chat, len(self.chat.catalog.questions)
        chat.say("welcome", total=total)
        if chat.row.assessment_id is not None and chat.state != "assessing":
            chat.say("welcome_resume", number=chat.row.cursor + 1, total=total)

    def show_help(self) -> None:
        """The commands a person can type, from the registry, each on its own line."""
        self.chat.replies.append(Reply(help_text(self.chat.catalog)))

    def explain_idle(self) -> None:
        """A first message, whatever it says, is greeted; after that, text we do not follow gets a hint."""
        if self.chat.row.new and self.chat.private:
            self.welcome()
        else:
            self.chat.say("idle_hint")

    def explain_old_button(self) -> None:
        self.chat.notice("old_button")

    def suggest_private(self) -> None:
        """Answers and results are personal: in a group, offer to carry on in a private chat.
        Anyone in the group may press that button, so it carries on only with what changes
        nothing (the assessment resumes where it was); anything else opens with the welcome."""
        word = self.chat.arg.split(" ")[0].split("@")[0].lower()
        self.chat.replies.append(render.private_only(self.chat.catalog, word if word in CARRIED_ON else "/start"))

    def explain_unknown(self) -> None:
        self.chat.say("unknown_command", command=self.chat.arg)

    def change_language(self) -> None:
        chat = self.chat
        wanted = chat.arg.strip().casefold()
        if wanted in chat.turn.catalogs:
            chat.store.set_user_lang(chat.row.platform, chat.row.user_id, wanted, chat.turn.now)
            chat.turn.lang = wanted
            chat.say("lang_set", kind=ReplyKind.LANGUAGE)
        else:
            chat.replies.append(render.language_prompt(chat.catalog, chat.turn.catalogs))

    def show_result(self) -> None:
        chat = self.chat
        records = chat.store.finished_assessments(*chat.who, limit=12)
        if not records:
            chat.say("no_result")
            return
        latest, previous = records[0], (records[1] if len(records) > 1 else None)
        chat.replies.append(render.result(
            chat.catalog, Result.from_dict(latest.result), latest.finished_at,
            Result.from_dict(previous.result) if previous else None, previous.finished_at if previous else None,
        ))
        if previous is not None:
            history = [(r.finished_at, Result.from_dict(r.result).stage) for r in reversed(records)]
            chat.replies.append(render.progress(chat.catalog, history))

    def show_home(self) -> None:
        """A summary for a home screen (Slack's App Home): stage, change, progress, next steps."""
        chat = self.chat
        records = chat.store.finished_assessments(*chat.who, limit=2)
        latest = (records[0].finished_at, Result.from_dict(records[0].result)) if records else None
        previous = (records[1].finished_at, Result.from_dict(records[1].result)) if len(records) > 1 else None
        in_progress = chat.row.cursor + 1 if chat.row.assessment_id is not None else None
        profile = self.coaching.profile
        roadmap = None
        if profile is not None:
            statuses = chat.store.tip_statuses(*chat.who)
            moves = coaching.roadmap(chat.catalog, profile, chat.store.roadmap_done(*chat.who))
            roadmap = (sum(1 for m in moves if not m.open), len(moves),
                       sum(1 for s in statuses.values() if s == "done"))
        chat.replies.append(render.home(chat.catalog, chat.turn.catalogs, latest, previous, in_progress, roadmap))

    # Forgetting

    def ask_forget(self) -> None:
        self.chat.replies.append(render.forget_prompt(self.chat.catalog))

    def has_open_assessment(self) -> bool:
        return self.chat.row.assessment_id is not None

    def erase(self) -> None:
        """Forgets the person, then updates the team messages that showed their name."""
        chat = self.chat
        teams = chat.store.forget_user(chat.row.platform, chat.row.user_id, chat.row.chat_id)
        chat.forgotten = True
        chat.say("forget_done")
        self.team.refresh_messages(teams)

    def say_kept(self) -> None:
        self.chat.say("forget_kept")
