"""The menu: what works at any point (welcome, help, language, result, home), and forgetting a
person after they confirm it."""
from __future__ import annotations

from .. import coaching, render
from ..events import Reply, ReplyKind
from ..model import Chat, Part, saying
from ..registry import CARRIED_ON, help_text
from ..scoring import Result
from .coaching import Coaching
from .team import Team

STATES = ["idle", "confirming_forget"]

TRANSITIONS = [
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


class Menu(Part):
    """What a person may ask for at any point, and forgetting them once they confirm it."""

    def __init__(self, chat: Chat, coaching: Coaching, team: Team) -> None:
        super().__init__(chat)
        self.coaching = coaching
        self.team = team

    def welcome(self) -> None:
        total = len(self.catalog.questions)
        self.say("welcome", total=total)
        if self.row.assessment_id is not None and self.row.state != "assessing":
            self.say("welcome_resume", number=self.row.cursor + 1, total=total)

    def show_help(self) -> None:
        """The commands a person can type, from the registry, each on its own line."""
        self.replies.append(Reply(help_text(self.catalog)))

    def explain_idle(self) -> None:
        """A first message, whatever it says, is greeted; after that, text we do not follow gets a hint."""
        if self.row.new and self.chat.private:
            self.welcome()
        else:
            self.say("idle_hint")

    def explain_old_button(self) -> None:
        self.notice("old_button")

    def suggest_private(self) -> None:
        """Answers and results are personal: in a group, offer to carry on in a private self.chat.
        Anyone in the group may press that button, so it carries on only with what changes
        nothing (the assessment resumes where it was); anything else opens with the welcome."""
        word = self.chat.arg.split(" ")[0].split("@")[0].lower()
        self.replies.append(render.private_only(self.catalog, word if word in CARRIED_ON else "/start"))

    def explain_unknown(self) -> None:
        self.say("unknown_command", command=self.chat.arg)

    def change_language(self) -> None:
        wanted = self.chat.arg.strip().casefold()
        if wanted in self.turn.catalogs:
            self.store.set_user_lang(self.row.platform, self.row.user_id, wanted, self.turn.now)
            self.turn.lang = wanted
            self.say("lang_set", kind=ReplyKind.LANGUAGE)
        else:
            self.replies.append(render.language_prompt(self.catalog, self.turn.catalogs))

    def show_result(self) -> None:
        records = self.store.finished_assessments(*self.who, limit=12)
        if not records:
            self.say("no_result")
            return
        latest, previous = records[0], (records[1] if len(records) > 1 else None)
        self.replies.append(render.result(self.catalog, Result.from_dict(latest.result), latest.finished_at, previous))
        if previous is not None:
            history = [(r.finished_at, Result.from_dict(r.result).stage) for r in reversed(records)]
            self.replies.append(render.progress(self.catalog, history))

    def show_home(self) -> None:
        """A summary for a home screen (Slack's App Home): stage, change, progress, next steps."""
        records = self.store.finished_assessments(*self.who, limit=2)
        latest = (records[0].finished_at, Result.from_dict(records[0].result)) if records else None
        previous = (records[1].finished_at, Result.from_dict(records[1].result)) if len(records) > 1 else None
        in_progress = self.row.cursor + 1 if self.row.assessment_id is not None else None
        profile = self.coaching.profile
        roadmap = None
        if profile is not None:
            statuses = self.store.tip_statuses(*self.who)
            moves = coaching.roadmap(self.catalog, profile, self.store.roadmap_done(*self.who))
            roadmap = (sum(1 for m in moves if not m.open), len(moves),
                       sum(1 for s in statuses.values() if s == "done"))
        self.replies.append(render.home(self.catalog, self.turn.catalogs, latest, previous, in_progress, roadmap))

    # Forgetting

    def ask_forget(self) -> None:
        self.replies.append(render.forget_prompt(self.catalog))

    def has_open_assessment(self) -> bool:
        return self.row.assessment_id is not None

    def erase(self) -> None:
        """Forgets the person, then updates the team messages that showed their name."""
        teams = self.store.forget_user(self.row.platform, self.row.user_id, self.row.chat_id)
        self.chat.forgotten = True
        self.say("forget_done")
        self.team.refresh_messages(teams)

    say_kept = saying("forget_kept")
