"""The assessment flow: one question at a time, with back and skip, and a result at the end."""

STATES = ["assessing"]

NOT_ASSESSING = ["idle", "confirming_forget"]

TRANSITIONS = [
    {"trigger": "assess", "source": "*", "dest": "assessing", "after": "begin_or_resume"},
    {"trigger": "restart", "source": "*", "dest": "assessing", "after": "begin_new"},
    # An answer: a stale button, then anything that is not an option, then the last question.
    {"trigger": "message", "source": "assessing", "dest": None,
     "conditions": "choice_is_stale", "after": ["explain_stale", "ask"]},
    {"trigger": "message", "source": "assessing", "dest": None,
     "unless": "choice_is_valid", "after": ["explain_choices", "ask"]},
    {"trigger": "message", "source": "assessing", "dest": "idle",
     "conditions": "on_last_question", "after": ["record_choice", "finish"]},
    {"trigger": "message", "source": "assessing", "dest": None,
     "after": ["record_choice", "advance", "ask"]},
    {"trigger": "skip", "source": "assessing", "dest": "idle",
     "conditions": "on_last_question", "after": "finish"},
    {"trigger": "skip", "source": "assessing", "dest": None, "after": ["advance", "ask"]},
    {"trigger": "back", "source": "assessing", "dest": None,
     "conditions": "on_first_question", "after": ["explain_first", "ask"]},
    {"trigger": "back", "source": "assessing", "dest": None, "after": ["step_back", "ask"]},
    {"trigger": "back", "source": NOT_ASSESSING, "dest": None,
     "after": ["explain_not_assessing", "reask"]},
    {"trigger": "skip", "source": NOT_ASSESSING, "dest": None,
     "after": ["explain_not_assessing", "reask"]},
]
