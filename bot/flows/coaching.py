"""The coaching flow: tips for a person's stage, feedback on them, the quick check, the roadmap."""
from __future__ import annotations

from functools import cached_property

from transitions import EventData

from .. import coaching, render
from ..catalog import STAGE_COUNT, Tip
from ..coaching import Profile
from ..model import ConversationBase, as_choice
from ..scoring import Result
from .assessment import answering, quick_values

STATES = ["coaching", "quick_checking"]

TRANSITIONS = [
    {"trigger": "tips", "source": "*", "dest": "coaching",
     "conditions": "has_profile", "after": "offer_tip"},
    {"trigger": "tips", "source": "*", "dest": None, "after": ["offer_quick_check", "reask"]},
    {"trigger": "why", "source": "*", "dest": None,
     "conditions": "has_tip", "after": "explain_tip"},
    {"trigger": "done", "source": "*", "dest": None,
     "conditions": "has_tip", "after": "mark_tip_done"},
    {"trigger": "dismiss", "source": "*", "dest": "coaching",
     "conditions": ["has_tip", "has_profile"], "after": ["mark_tip_dismissed", "offer_tip"]},
    {"trigger": "why", "source": "*", "dest": None, "after": ["explain_no_tip", "reask"]},
    {"trigger": "done", "source": "*", "dest": None, "after": ["explain_no_tip", "reask"]},
    {"trigger": "dismiss", "source": "*", "dest": None, "after": ["explain_no_tip", "reask"]},
    {"trigger": "pick_stage", "source": "*", "dest": "coaching",
     "conditions": "picks_a_stage", "after": ["set_picked_stage", "offer_tip"]},
    {"trigger": "pick_stage", "source": "*", "dest": None, "after": "offer_stage_picker"},
    {"trigger": "roadmap", "source": "*", "dest": None,
     "conditions": "has_profile", "after": ["show_roadmap", "reask"]},
    {"trigger": "roadmap", "source": "*", "dest": None, "after": ["offer_quick_check", "reask"]},
    {"trigger": "roadmap_done", "source": "*", "dest": None,
     "conditions": "has_profile", "after": ["mark_roadmap_item", "show_roadmap"]},
    {"trigger": "roadmap_done", "source": "*", "dest": None, "after": ["offer_quick_check", "reask"]},
    {"trigger": "quick_check", "source": "*", "dest": "quick_checking", "after": "begin_quick_check"},
    # Typed words while a tip is on screen.
    {"trigger": "message", "source": "coaching", "dest": None,
     "conditions": "asks_more", "after": "offer_tip"},
    {"trigger": "message", "source": "coaching", "dest": None,
     "conditions": "asks_why", "after": "explain_tip"},
    {"trigger": "message", "source": "coaching", "dest": None,
     "conditions": "says_done", "after": "mark_tip_done"},
    {"trigger": "message", "source": "coaching", "dest": None,
     "conditions": "says_not_for_us", "after": ["mark_tip_dismissed", "offer_tip"]},
    {"trigger": "message", "source": "coaching", "dest": None, "after": "explain_coaching"},
    # The quick check: three questions, answered like the assessment's.
    *answering("quick_checking", done="coaching", finish=["finish_quick_check", "offer_tip"]),
]


class CoachingActions(ConversationBase):
    @cached_property
    def profile(self) -> Profile | None:
        """A stage picked or found by the quick check wins; else the latest full result."""
        if self.row.coach_stage is not None:
            return Profile.decode(self.row.coach_stage, self.row.coach_focus)
        latest = self.store.finished_assessments(*self.who, limit=1)
        if latest and latest[0].result:
            return coaching.from_result(Result.from_dict(latest[0].result))
        return None

    def _forget_profile(self) -> None:
        self.__dict__.pop("profile", None)

    def has_profile(self, event: EventData) -> bool:
        return self.profile is not None

    def _tip_meant(self, event: EventData) -> Tip | None:
        """The tip a button names, else the one last shown."""
        named = (event.kwargs.get("arg") or "").strip()
        for tip_id in (named, self.row.tip_id):
            if tip_id:
                try:
                    return self.catalog.tip(tip_id)
                except KeyError:
                    continue
        return None

    def has_tip(self, event: EventData) -> bool:
        return self._tip_meant(event) is not None

    def offer_tip(self, event: EventData) -> None:
        profile = self.profile
        if profile is None:
            self.offer_stage_picker(event)
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

    def explain_tip(self, event: EventData) -> None:
        tip = self._tip_meant(event)
        assert tip is not None
        self.replies.append(render.tip_why(self.catalog, tip, self.profile))

    def mark_tip_done(self, event: EventData) -> None:
        tip = self._tip_meant(event)
        assert tip is not None
        self.store.set_tip_status(*self.who, tip.id, "done", self.turn.now)
        self.replies.append(render.tip_feedback(self.catalog, "tip_done"))

    def mark_tip_dismissed(self, event: EventData) -> None:
        tip = self._tip_meant(event)
        assert tip is not None
        self.store.set_tip_status(*self.who, tip.id, "dismissed", self.turn.now)
        self.say("tip_dismissed")

    def explain_no_tip(self, event: EventData) -> None:
        self.say("no_tip_yet")

    def explain_coaching(self, event: EventData) -> None:
        tip = self._tip_meant(event)
        self.replies.append(render.coaching_hint(self.catalog, tip))

    def asks_more(self, event: EventData) -> bool:
        return self.says("more_words")

    def asks_why(self, event: EventData) -> bool:
        return self.says("why_words")

    def says_done(self, event: EventData) -> bool:
        return self.says("done_words")

    def says_not_for_us(self, event: EventData) -> bool:
        return self.says("not_for_us_words")

    def offer_quick_check(self, event: EventData) -> None:
        self.replies.append(render.no_profile(self.catalog))

    def offer_stage_picker(self, event: EventData) -> None:
        self.replies.append(render.stage_picker(self.catalog))

    def picks_a_stage(self, event: EventData) -> bool:
        return as_choice(event.kwargs.get("arg") or "") in range(1, STAGE_COUNT + 1)

    def set_picked_stage(self, event: EventData) -> None:
        stage = as_choice(event.kwargs["arg"])
        assert stage is not None
        self.row.coach_stage, self.row.coach_focus = stage, ""
        self._forget_profile()
        self.say("stage_picked", stage=stage, name=self.catalog.stage(stage).name)

    def begin_quick_check(self, event: EventData) -> None:
        self.row.quick, self.row.cursor = "0" * len(coaching.QUICK_CHECK), 0
        self.ask(event, intro=self.catalog.message("quick_intro", total=len(coaching.QUICK_CHECK)))

    def finish_quick_check(self, event: EventData) -> None:
        profile = coaching.quick_profile(self.catalog, quick_values(self.row.quick))
        self.row.quick, self.row.cursor = "", 0
        if profile is None:
            self.say("quick_unknown")
            return
        self.row.coach_stage, self.row.coach_focus = profile.stage, profile.encode()
        self._forget_profile()
        self.say("quick_result", stage=profile.stage, name=self.catalog.stage(profile.stage).name)

    def show_roadmap(self, event: EventData) -> None:
        profile = self.profile
        assert profile is not None
        statuses = self.store.tip_statuses(*self.who)
        tips_done = sum(1 for s in statuses.values() if s == "done")
        moves = coaching.roadmap(self.catalog, profile, self.store.roadmap_done(*self.who))
        self.replies.append(render.roadmap(self.catalog, profile, moves, tips_done))

    def mark_roadmap_item(self, event: EventData) -> None:
        profile = self.profile
        assert profile is not None
        items = self.catalog.stage(profile.stage).checklist
        wanted = (event.kwargs.get("arg") or "").strip()
        number = int(wanted) if wanted.isdecimal() and len(wanted) < 4 else None
        item = next((i for n, i in enumerate(items, 1) if i.id == wanted or n == number), None)
        if item is None:
            self.say("roadmap_unknown_item", count=len(items))
            return
        self.store.mark_roadmap_item(*self.who, item.id, self.turn.now)
