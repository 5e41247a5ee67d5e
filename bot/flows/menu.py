"""The menu flow: commands that work at any point, and forgetting a person after a confirmation."""
from __future__ import annotations

from transitions import EventData

from .. import coaching, render
from ..model import QUESTIONING, ConversationBase
from ..scoring import Result

STATES = ["idle", "confirming_forget"]

ANYWHERE = "*"
CARRIED_ON = frozenset({"/assess", "/result", "/tips", "/roadmap", "/help"})

TRANSITIONS = [
    {"trigger": "message", "source": ["idle", "coaching", "confirming_forget"], "dest": None,
     "conditions": "choice_is_stale", "after": "explain_old_button"},
    # A start payload is a team invite (bot/flows/team.py) or nothing: never a command to run.
    {"trigger": "start", "source": ANYWHERE, "dest": "assessing", "conditions": "invited", "after": "join_team"},
    {"trigger": "start", "source": ANYWHERE, "dest": None, "after": ["welcome", "reask"]},
    {"trigger": "help", "source": ANYWHERE, "dest": None, "after": ["show_help", "reask"]},
    {"trigger": "lang", "source": ANYWHERE, "dest": None, "after": ["change_language", "reask"]},
    {"trigger": "result", "source": ANYWHERE, "dest": None, "after": ["show_result", "reask"]},
    {"trigger": "unknown", "source": ANYWHERE, "dest": None, "after": ["explain_unknown", "reask"]},
    {"trigger": "private_only", "source": ANYWHERE, "dest": None, "after": "suggest_private"},
    {"trigger": "home", "source": ANYWHERE, "dest": None, "after": "show_home"},
    {"trigger": "forget", "source": ANYWHERE, "dest": "confirming_forget", "after": "ask_forget"},
    {"trigger": "message", "source": "confirming_forget", "dest": "idle",
     "conditions": "says_yes", "after": "erase"},
    {"trigger": "message", "source": "confirming_forget", "dest": "assessing",
     "conditions": ["says_no", "has_open_assessment"], "after": ["say_kept", "ask"]},
    {"trigger": "message", "source": "confirming_forget", "dest": "idle",
     "conditions": "says_no", "after": "say_kept"},
    {"trigger": "message", "source": "confirming_forget", "dest": None, "after": "ask_forget"},
    {"trigger": "message", "source": "idle", "dest": None, "after": "explain_idle"},
]


class MenuActions(ConversationBase):
    def choice_is_stale(self, event: EventData) -> bool:
        return self.stale

    def says_yes(self, event: EventData) -> bool:
        return self.says("yes_words")

    def says_no(self, event: EventData) -> bool:
        return self.says("no_words")

    def welcome(self, event: EventData) -> None:
        self.say("welcome", total=len(self.catalog.questions))
        if self.row.assessment_id is not None and self.state != "assessing":
            self.say("welcome_resume", number=self.row.cursor + 1, total=len(self.catalog.questions))

    def show_help(self, event: EventData) -> None:
        self.say("help")

    def explain_idle(self, event: EventData) -> None:
        """A first message, whatever it says, is greeted; after that, text we do not follow gets a hint."""
        if self.row.new and self.turn.event.private:
            self.welcome(event)
        else:
            self.say("idle_hint")

    def explain_old_button(self, event: EventData) -> None:
        self.notice("old_button")

    def suggest_private(self, event: EventData) -> None:
        """Answers and results are personal: in a group, offer to carry on in a private chat.
        Anyone in the group may press that button, so it carries on only with what changes
        nothing (the assessment resumes where it was); anything else opens with the welcome."""
        word = (event.kwargs.get("command") or "").split(" ")[0].split("@")[0].lower()
        self.replies.append(render.private_only(self.catalog, word if word in CARRIED_ON else "/start"))

    def explain_unknown(self, event: EventData) -> None:
        self.say("unknown_command", command=event.kwargs.get("command", ""))

    def change_language(self, event: EventData) -> None:
        wanted = (event.kwargs.get("arg") or "").strip().casefold()
        if wanted in self.turn.catalogs:
            self.store.set_user_lang(self.row.platform, self.row.user_id, wanted, self.turn.now)
            self.turn.lang = wanted
            self.say("lang_set", kind="language")
        else:
            self.replies.append(render.language_prompt(self.catalog, self.turn.catalogs))

    def show_result(self, event: EventData) -> None:
        records = self.store.finished_assessments(*self.who, limit=12)
        if not records:
            self.say("no_result")
            return
        latest, previous = records[0], (records[1] if len(records) > 1 else None)
        self.replies.append(
            render.result(
                self.catalog,
                Result.from_dict(latest.result),
                latest.finished_at,
                Result.from_dict(previous.result) if previous else None,
                previous.finished_at if previous else None,
            )
        )
        if previous is not None:
            history = [(r.finished_at, Result.from_dict(r.result).stage) for r in reversed(records)]
            self.replies.append(render.progress(self.catalog, history))

    def show_home(self, event: EventData) -> None:
        """A summary for a home screen (Slack's App Home): stage, change, progress, next steps."""
        records = self.store.finished_assessments(*self.who, limit=2)
        latest = (records[0].finished_at, Result.from_dict(records[0].result)) if records else None
        previous = (records[1].finished_at, Result.from_dict(records[1].result)) if len(records) > 1 else None
        in_progress = self.row.cursor + 1 if self.row.assessment_id is not None else None
        profile = self.profile
        roadmap = None
        if profile is not None:
            statuses = self.store.tip_statuses(*self.who)
            moves = coaching.roadmap(self.catalog, profile, self.store.roadmap_done(*self.who))
            roadmap = (sum(1 for m in moves if not m.open), len(moves),
                       sum(1 for s in statuses.values() if s == "done"))
        self.replies.append(render.home(self.catalog, self.turn.catalogs, latest, previous, in_progress, roadmap))

    def reask(self, event: EventData) -> None:
        if self.state in QUESTIONING:
            self.ask(event)
        elif self.state == "reviewing_skipped":
            self.offer_skipped(event)
        elif self.state == "confirming_forget":
            self.ask_forget(event)

    def ask_forget(self, event: EventData) -> None:
        self.replies.append(render.forget_prompt(self.catalog))

    def has_open_assessment(self, event: EventData) -> bool:
        return self.row.assessment_id is not None

    def erase(self, event: EventData) -> None:
        """Forgets the person, then updates the team messages that showed their name."""
        teams = self.store.forget_user(self.row.platform, self.row.user_id, self.row.chat_id)
        self.forgotten = True
        self.say("forget_done")
        self.refresh_team_messages(teams)

    def say_kept(self, event: EventData) -> None:
        self.say("forget_kept")
