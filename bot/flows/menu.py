"""The menu flow: commands that work at any point, and forgetting a person after a confirmation."""

STATES = ["idle", "confirming_forget"]

ANYWHERE = "*"

TRANSITIONS = [
    {"trigger": "start", "source": ANYWHERE, "dest": None, "after": ["welcome", "reask"]},
    {"trigger": "help", "source": ANYWHERE, "dest": None, "after": ["show_help", "reask"]},
    {"trigger": "lang", "source": ANYWHERE, "dest": None, "after": ["change_language", "reask"]},
    {"trigger": "result", "source": ANYWHERE, "dest": None, "after": ["show_result", "reask"]},
    {"trigger": "unknown", "source": ANYWHERE, "dest": None, "after": ["explain_unknown", "reask"]},
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
