"""The coaching flow: tips for a person's stage, feedback on them, the quick check, the roadmap."""
from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from .. import coaching, render
from ..catalog import STAGE_COUNT, Tip
from ..coaching import Profile
from ..model import Chat, Part, as_choice, hearing, saying
from ..scoring import Result
from .assessment import Questions, answering, quick_values

STATES = ["coaching", "quick_checking"]

TRANSITIONS = [
    # A tip on screen, or (with no stage known yet) a quick check of three questions first.
    {"trigger": "tips", "source": "*", "dest": "coaching", "conditions": "coaching.has_profile",
     "after": "coaching.offer_tip"},
    {"trigger": "pick_stage", "source": "*", "dest": "coaching", "conditions": "coaching.picks_a_stage",
     "after": ["coaching.set_picked_stage", "coaching.offer_tip"]},
    {"trigger": "dismiss", "source": "*", "dest": "coaching",
     "conditions": ["coaching.has_tip", "coaching.has_profile"],
     "after": ["coaching.mark_tip_dismissed", "coaching.offer_tip"]},
    {"trigger": "quick_check", "source": "*", "dest": "quick_checking", "after": "coaching.begin_quick_check"},
    *answering("quick_checking", done="coaching", finish=["coaching.finish_quick_check", "coaching.offer_tip"]),
    # Typed words while a tip is on screen.
    {"trigger": "message", "source": "coaching", "dest": None,
     "conditions": "chat.stale", "after": "menu.explain_old_button"},
    {"trigger": "message", "source": "coaching", "dest": None,
     "conditions": "coaching.asks_more", "after": "coaching.offer_tip"},
    {"trigger": "message", "source": "coaching", "dest": None,
     "conditions": "coaching.asks_why", "after": "coaching.explain_tip"},
    {"trigger": "message", "source": "coaching", "dest": None,
     "conditions": "coaching.says_done", "after": "coaching.mark_tip_done"},
    {"trigger": "message", "source": "coaching", "dest": None,
     "conditions": "coaching.says_not_for_us", "after": ["coaching.mark_tip_dismissed", "coaching.offer_tip"]},
    {"trigger": "message", "source": "coaching", "dest": None, "after": "coaching.explain_coaching"},
]


class Coaching(Part):
    """Tips for the person's stage, their feedback on them, and the roadmap to the next stage."""

    def __init__(self, chat: Chat, questions: Questions) -> None:
        super().__init__(chat)
        self.questions = questions

    @cached_property
    def profile(self) -> Profile | None:
        """A stage picked or found by the quick check wins; else the latest full result."""
        if self.row.coach_stage is not None:
            return Profile.decode(self.row.coach_stage, self.row.coach_focus)
        latest = self.store.finished_assessments(*self.who, limit=1)
        if latest and latest[0].result:
            return coaching.from_result(Result.from_dict(latest[0].result))
        return None

    def _set_profile(self, stage: int, focus: str) -> None:
        self.row.coach_stage, self.row.coach_focus = stage, focus
        self.__dict__.pop("profile", None)

    def has_profile(self) -> bool:
        return self.profile is not None

    @property
    def tip_meant(self) -> Tip | None:
        """The tip a button names, else the one last shown."""
        named = (self.catalog.find_tip(tip_id) for tip_id in (self.chat.arg.strip(), self.row.tip_id))
        return next((tip for tip in named if tip is not None), None)

    def has_tip(self) -> bool:
        return self.tip_meant is not None

    asks_more = hearing("more_words")
    asks_why = hearing("why_words")
    says_done = hearing("done_words")
    says_not_for_us = hearing("not_for_us_words")

    def picks_a_stage(self) -> bool:
        return as_choice(self.chat.arg) in range(1, STAGE_COUNT + 1)

    # Tips

    def offer_tip(self) -> None:
        profile = self.profile
        if profile is None:
            self.offer_stage_picker()
            return
        tip, new_round = coaching.choose_tip(self.catalog, profile, self.store.tip_statuses(*self.who))
        if tip is None:
            self.say("tips_exhausted", stage=profile.stage, name=self.catalog.stage(profile.stage).name)
            return
        if new_round:
            self.store.clear_shown_tips(*self.who, [t.id for t in coaching.tip_pool(self.catalog, profile)])
            self.say("tips_round_again")
        self.store.set_tip_status(*self.who, tip.id, "shown", self.turn.now)
        self.row.tip_id = tip.id
        self.replies.append(render.tip(self.catalog, tip))

    def _meant(self) -> Tip:
        tip = self.tip_meant
        assert tip is not None
        return tip

    def explain_tip(self) -> None:
        self.replies.append(render.tip_why(self.catalog, self._meant(), self.profile))

    def mark_tip_done(self) -> None:
        self.store.set_tip_status(*self.who, self._meant().id, "done", self.turn.now)
        self.replies.append(render.tip_feedback(self.catalog, "tip_done"))

    def mark_tip_dismissed(self) -> None:
        self.store.set_tip_status(*self.who, self._meant().id, "dismissed", self.turn.now)
        self.say("tip_dismissed")

    explain_no_tip = saying("no_tip_yet")

    def explain_coaching(self) -> None:
        self.replies.append(render.coaching_hint(self.catalog, self.tip_meant))

    def why(self) -> None:
        """Why the tip meant fits them (`/tips why`)."""
        self._on_tip(self.explain_tip)

    def done(self) -> None:
        """The tip meant is done (`/tips done`)."""
        self._on_tip(self.mark_tip_done)

    def _on_tip(self, action: Callable[[], None]) -> None:
        """Acts on the tip meant; with none, says so and puts the open question back."""
        if self.has_tip():
            action()
            return
        self.explain_no_tip()
        self.chat.reask()

    # A stage to coach from: picked, or found by the quick check

    def offer_quick_check(self) -> None:
        self.replies.append(render.no_profile(self.catalog))

    def offer_stage_picker(self) -> None:
        self.replies.append(render.stage_picker(self.catalog))

    def set_picked_stage(self) -> None:
        stage = as_choice(self.chat.arg)
        assert stage is not None
        self._set_profile(stage, "")
        self.say("stage_picked", stage=stage, name=self.catalog.stage(stage).name)

    def begin_quick_check(self) -> None:
        self.row.quick, self.row.cursor = "0" * len(coaching.QUICK_CHECK), 0
        self.questions.ask(intro=self.catalog.message("quick_intro", total=len(coaching.QUICK_CHECK)))

    def finish_quick_check(self) -> None:
        profile = coaching.quick_profile(self.catalog, quick_values(self.row.quick))
        self.row.quick, self.row.cursor = "", 0
        if profile is None:
            self.say("quick_unknown")
            return
        self._set_profile(profile.stage, profile.encode())
        self.say("quick_result", stage=profile.stage, name=self.catalog.stage(profile.stage).name)

    # The roadmap

    def roadmap(self) -> None:
        """The moves to the next stage (`/roadmap`), or the way to a stage first."""
        if self.profile is None:
            self.offer_quick_check()
        else:
            self.show_roadmap()

    def roadmap_done(self) -> None:
        """A move done (`/roadmap done 3`), then the roadmap again."""
        if self.profile is None:
            self.offer_quick_check()
            self.chat.reask()
        else:
            self.mark_roadmap_item()
            self.show_roadmap()

    def show_roadmap(self) -> None:
        profile = self.profile
        assert profile is not None
        statuses = self.store.tip_statuses(*self.who)
        tips_done = sum(1 for s in statuses.values() if s == "done")
        moves = coaching.roadmap(self.catalog, profile, self.store.roadmap_done(*self.who))
        self.replies.append(render.roadmap(self.catalog, profile, moves, tips_done))

    def mark_roadmap_item(self) -> None:
        profile = self.profile
        assert profile is not None
        items = self.catalog.stage(profile.stage).checklist
        wanted = self.chat.arg.strip()
        number = int(wanted) if wanted.isdecimal() and len(wanted) < 4 else None
        item = next((i for n, i in enumerate(items, 1) if i.id == wanted or n == number), None)
        if item is None:
            self.say("roadmap_unknown_item", count=len(items))
            return
        self.store.mark_roadmap_item(*self.who, item.id, self.turn.now)
