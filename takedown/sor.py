"""Statements of reasons in the field format of the EU DSA Transparency Database (Art. 17 and 24(5)).

One statement per decision that restricted (or restored) a track. Field
names and enumerations follow the database's submission API.
"""

from __future__ import annotations

from takedown.machine import Case, State

_VISIBILITY = {
    State.DISABLED: "DECISION_VISIBILITY_CONTENT_DISABLED",
    State.UPHELD: "DECISION_VISIBILITY_CONTENT_DISABLED",
}


def statement_of_reasons(case: Case, *, automated_detection: bool, automated_decision: str,
                         content_date: str, application_date: str, territorial_scope: list[str]) -> dict:
    """`automated_decision` is one of AUTOMATED_DECISION_FULLY, _PARTIALLY, NOT_AUTOMATED."""
    notice = case.notice
    source = "SOURCE_ARTICLE_16" if notice.regime == "dsa" else "SOURCE_TYPE_OTHER_NOTIFICATION"
    if not notice.claimant_email and not notice.signature:
        source = "SOURCE_VOLUNTARY"
    return {
        "puid": case.case_id,
        "decision_visibility": [_VISIBILITY.get(case.state, "DECISION_VISIBILITY_CONTENT_DISABLED")],
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": "Copyright infringement (reproduction of a protected work)",
        "illegal_content_explanation": case.statement_of_reasons or notice.explanation or notice.work_description,
        "category": "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "content_type": ["CONTENT_TYPE_AUDIO", "CONTENT_TYPE_SYNTHETIC_MEDIA"],
        "content_date": content_date,
        "application_date": application_date,
        "decision_facts": (f"Notice about work {notice.work_id or notice.work_description}; "
                           f"case history: {' -> '.join(case.history)}."),
        "source_type": source,
        "source_identity": notice.claimant_name if source != "SOURCE_VOLUNTARY" else "",
        "automated_detection": "Yes" if automated_detection else "No",
        "automated_decision": automated_decision,
        "territorial_scope": territorial_scope,
    }
