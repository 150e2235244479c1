"""Takedown and dispute workflow: notices, counter-notices, the state machine, business-day timers, strikes.

Importable without gRPC or storage; `guard` composes it.
"""

from takedown.calendar import BusinessCalendar
from takedown.machine import (
    TRANSITIONS,
    Action,
    Actor,
    Case,
    DisputeRules,
    Due,
    Event,
    State,
    TransitionRefused,
    act,
    case_from_dict,
    case_to_dict,
    due,
    open_case,
)
from takedown.notices import CounterNotice, Notice, missing_counter_elements, missing_elements
from takedown.strikes import Strike, StrikePolicy

__all__ = [
    "TRANSITIONS",
    "Action",
    "Actor",
    "BusinessCalendar",
    "Case",
    "CounterNotice",
    "DisputeRules",
    "Due",
    "Event",
    "Notice",
    "State",
    "Strike",
    "StrikePolicy",
    "TransitionRefused",
    "act",
    "case_from_dict",
    "case_to_dict",
    "due",
    "missing_counter_elements",
    "missing_elements",
    "open_case",
]
