"""The dispute state machine: one explicit table of states and the actions that move between them.

Every move is `act(case, action, ...)`: it checks the table, then the
action's own preconditions (a complete counter-notice, the statutory
restore window, a named reviewer...), and returns the new case and the
event that records it. Time and the business calendar are passed in.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import asdict, dataclass, field, replace

import rfc8785

from takedown.calendar import BusinessCalendar
from takedown.notices import CounterNotice, Notice, missing_counter_elements, missing_elements


class State(str, enum.Enum):
    RECEIVED = "received"
    INCOMPLETE = "incomplete"
    VALID = "valid"
    REJECTED = "rejected"
    DISABLED = "disabled"
    NOTIFIED = "notified"
    COUNTERED = "countered"
    RESTORE_WINDOW = "restore_window"
    FROZEN = "frozen"
    RESTORED = "restored"
    UPHELD = "upheld"
    COMPLAINT_AGAINST_REJECTION = "complaint_against_rejection"
    COMPLAINT_AGAINST_RESTORE = "complaint_against_restore"
    COMPLAINT_AGAINST_UPHOLD = "complaint_against_uphold"
    APPEAL = "appeal"
    CLOSED = "closed"


class Action(str, enum.Enum):
    ACCEPT = "accept"
    REQUEST_INFORMATION = "request_information"
    SUPPLEMENT = "supplement"
    REJECT = "reject"
    DISABLE = "disable"
    NOTIFY_UPLOADER = "notify_uploader"
    RECEIVE_COUNTER_NOTICE = "receive_counter_notice"
    FORWARD = "forward"
    REPORT_LAWSUIT = "report_lawsuit"
    RESTORE = "restore"
    UPHOLD = "uphold"
    FILE_COMPLAINT = "file_complaint"
    REVERSE = "reverse"
    CONFIRM = "confirm"
    APPEAL = "appeal"
    APPEAL_UPHOLD = "appeal_uphold"
    APPEAL_DISMISS = "appeal_dismiss"
    CLOSE = "close"


S, A = State, Action
TRANSITIONS: dict[tuple[State, Action], State] = {
    (S.RECEIVED, A.ACCEPT): S.VALID,
    (S.RECEIVED, A.REQUEST_INFORMATION): S.INCOMPLETE,
    (S.RECEIVED, A.REJECT): S.REJECTED,
    (S.INCOMPLETE, A.SUPPLEMENT): S.RECEIVED,
    (S.INCOMPLETE, A.REJECT): S.REJECTED,
    (S.VALID, A.DISABLE): S.DISABLED,
    (S.DISABLED, A.NOTIFY_UPLOADER): S.NOTIFIED,
    (S.NOTIFIED, A.RECEIVE_COUNTER_NOTICE): S.COUNTERED,
    (S.NOTIFIED, A.UPHOLD): S.UPHELD,
    (S.COUNTERED, A.FORWARD): S.RESTORE_WINDOW,
    (S.RESTORE_WINDOW, A.REPORT_LAWSUIT): S.FROZEN,
    (S.RESTORE_WINDOW, A.RESTORE): S.RESTORED,
    (S.FROZEN, A.UPHOLD): S.UPHELD,
    (S.REJECTED, A.FILE_COMPLAINT): S.COMPLAINT_AGAINST_REJECTION,
    (S.COMPLAINT_AGAINST_REJECTION, A.REVERSE): S.VALID,
    (S.COMPLAINT_AGAINST_REJECTION, A.CONFIRM): S.REJECTED,
    (S.RESTORED, A.FILE_COMPLAINT): S.COMPLAINT_AGAINST_RESTORE,
    (S.COMPLAINT_AGAINST_RESTORE, A.REVERSE): S.DISABLED,
    (S.COMPLAINT_AGAINST_RESTORE, A.CONFIRM): S.RESTORED,
    (S.UPHELD, A.FILE_COMPLAINT): S.COMPLAINT_AGAINST_UPHOLD,
    (S.COMPLAINT_AGAINST_UPHOLD, A.REVERSE): S.RESTORED,
    (S.COMPLAINT_AGAINST_UPHOLD, A.CONFIRM): S.UPHELD,
    (S.RESTORED, A.APPEAL): S.APPEAL,
    (S.APPEAL, A.APPEAL_UPHOLD): S.DISABLED,
    (S.APPEAL, A.APPEAL_DISMISS): S.RESTORED,
    (S.REJECTED, A.CLOSE): S.CLOSED,
    (S.RESTORED, A.CLOSE): S.CLOSED,
    (S.UPHELD, A.CLOSE): S.CLOSED,
}
"""The whole workflow. Anything not in this table is refused."""

DECISIONS = frozenset({S.REJECTED, S.RESTORED, S.UPHELD})
"""States that decide a notice; each opens the internal-complaint window (DSA Art. 20)."""
CONTENT_DOWN = frozenset({S.DISABLED, S.NOTIFIED, S.COUNTERED, S.RESTORE_WINDOW, S.FROZEN, S.UPHELD,
                          S.COMPLAINT_AGAINST_UPHOLD})
HUMAN_ONLY = frozenset({A.REVERSE, A.CONFIRM, A.APPEAL_UPHOLD})
"""DSA Art. 20(6): complaints (and appeals on the merits) are decided by named staff, not by automated means."""


@dataclass(frozen=True)
class DisputeRules:
    """Periods set by statute or by policy."""

    restore_after_business_days: int = 10
    restore_by_business_days: int = 14
    counter_notice_business_days: int = 14
    supplement_business_days: int = 10
    complaint_window: dt.timedelta = dt.timedelta(days=183)
    appeal_business_days: int = 10


@dataclass(frozen=True)
class Actor:
    """Who acted: a staff member with a role, or the service itself (with the versions that drove it)."""

    kind: str  # "staff" or "automated"
    actor_id: str
    role: str = ""
    policy_version: str = ""
    model_version: str = ""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "id": self.actor_id, "role": self.role,
                "policy_version": self.policy_version, "model_version": self.model_version}


@dataclass(frozen=True)
class Event:
    case_id: str
    sequence: int
    action: str
    from_state: str
    to_state: str
    actor: Actor
    basis: str
    reason: str
    evidence_sha256: tuple[str, ...]
    at: dt.datetime
    previous_hash: str

    def payload(self) -> dict:
        return {
            "case_id": self.case_id, "sequence": self.sequence, "action": self.action,
            "from": self.from_state, "to": self.to_state, "actor": self.actor.to_dict(), "basis": self.basis,
            "reason": self.reason, "evidence_sha256": list(self.evidence_sha256),
            "at": self.at.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
            "previous_hash": self.previous_hash,
        }

    def canonical(self) -> bytes:
        return rfc8785.dumps(self.payload())

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


@dataclass(frozen=True)
class Case:
    case_id: str
    notice: Notice
    state: State
    opened_at: dt.datetime
    track_id: str = ""
    """The screening (and so the provenance record) the notice is about."""
    uploader: str = ""
    counter_notice: CounterNotice | None = None
    counter_received_on: dt.date | None = None
    restore_not_before: dt.date | None = None
    restore_not_after: dt.date | None = None
    respond_by: dt.date | None = None
    """Deadline for the party the case is waiting on (sender, uploader, claimant)."""
    complaint_until: dt.datetime | None = None
    statement_of_reasons: str = ""
    close_reason: str = ""
    last_hash: str = ""
    events: int = 0
    history: tuple[str, ...] = field(default_factory=tuple)
    """States visited, in order."""


class TransitionRefused(Exception):
    """The action is not allowed now; the message says why in words legal staff use."""


def open_case(case_id: str, notice: Notice, *, track_id: str, uploader: str, now: dt.datetime,
              actor: Actor, basis: str = "") -> tuple[Case, Event]:
    """A new case in `received`, and the event that records the notice (by digest) as its first entry."""
    digest = hashlib.sha256(rfc8785.dumps(asdict(notice))).hexdigest()
    event = Event(case_id=case_id, sequence=0, action="open", from_state="", to_state=State.RECEIVED.value,
                  actor=actor, basis=basis or ("DMCA 512(c)(3)" if notice.regime == "dmca" else "DSA Art. 16"),
                  reason="notice received", evidence_sha256=(digest,), at=now, previous_hash="")
    case = Case(case_id, notice, State.RECEIVED, now, track_id=track_id, uploader=uploader, last_hash=event.hash,
                events=1, history=(State.RECEIVED.value,))
    return case, event


def act(
    case: Case,
    action: Action,
    *,
    actor: Actor,
    now: dt.datetime,
    calendar: BusinessCalendar,
    rules: DisputeRules = DisputeRules(),
    reason: str = "",
    basis: str = "",
    evidence_sha256: tuple[str, ...] = (),
    notice: Notice | None = None,
    counter_notice: CounterNotice | None = None,
) -> tuple[Case, Event]:
    target = TRANSITIONS.get((case.state, action))
    if target is None:
        allowed = sorted(a.value for (s, a) in TRANSITIONS if s == case.state)
        raise TransitionRefused(f"'{action.value}' is not possible in state '{case.state.value}' "
                                f"(possible: {', '.join(allowed) or 'nothing: the case is closed'})")
    if action in HUMAN_ONLY and (actor.kind != "staff" or not actor.actor_id):
        raise TransitionRefused(f"'{action.value}' must be decided by a named human reviewer")
    today = now.astimezone(dt.timezone.utc).date()
    changes: dict = {}
    default_basis = ""

    if action == A.ACCEPT:
        missing = missing_elements(case.notice)
        if missing:
            raise TransitionRefused("the notice lacks: " + "; ".join(missing))
        default_basis = "DMCA 512(c)(3)" if case.notice.regime == "dmca" else "DSA Art. 16"
    elif action == A.REQUEST_INFORMATION:
        missing = missing_elements(case.notice)
        if not missing:
            raise TransitionRefused("the notice is complete; accept or reject it")
        reason = reason or "missing: " + "; ".join(missing)
        changes["respond_by"] = calendar.add_business_days(today, rules.supplement_business_days)
    elif action == A.SUPPLEMENT:
        if notice is None:
            raise TransitionRefused("supplement needs the corrected notice")
        changes.update(notice=notice, respond_by=None)
    elif action in (A.REJECT, A.CLOSE) and not reason.strip():
        raise TransitionRefused(f"'{action.value}' needs a reason")
    elif action == A.NOTIFY_UPLOADER:
        if not reason.strip():
            raise TransitionRefused("the uploader must receive a statement of reasons (DSA Art. 17)")
        changes.update(statement_of_reasons=reason,
                       respond_by=calendar.add_business_days(today, rules.counter_notice_business_days))
        default_basis = "DSA Art. 17"
    elif action == A.RECEIVE_COUNTER_NOTICE:
        if counter_notice is None:
            raise TransitionRefused("receive_counter_notice needs the counter-notice")
        missing = missing_counter_elements(counter_notice)
        if missing:
            raise TransitionRefused("the counter-notice lacks: " + "; ".join(missing))
        changes.update(counter_notice=counter_notice, counter_received_on=today, respond_by=None)
        default_basis = "DMCA 512(g)(3)"
    elif action == A.FORWARD:
        assert case.counter_received_on is not None
        changes.update(
            restore_not_before=calendar.add_business_days(case.counter_received_on, rules.restore_after_business_days),
            restore_not_after=calendar.add_business_days(case.counter_received_on, rules.restore_by_business_days),
        )
        default_basis = "DMCA 512(g)(2)(B)"
    elif action == A.RESTORE:
        assert case.restore_not_before is not None and case.restore_not_after is not None
        if today < case.restore_not_before:
            raise TransitionRefused(f"restoring before {case.restore_not_before.isoformat()} (business day "
                                    f"{rules.restore_after_business_days} after the counter-notice) is not allowed")
        if today > case.restore_not_after:
            raise TransitionRefused(f"the restore window closed on {case.restore_not_after.isoformat()} (business "
                                    f"day {rules.restore_by_business_days}); escalate to counsel")
        default_basis = "DMCA 512(g)(2)(C)"
    elif action == A.REPORT_LAWSUIT:
        default_basis = "DMCA 512(g)(2)(C)"
    elif action == A.UPHOLD and case.state == S.NOTIFIED and case.respond_by is not None \
            and today <= case.respond_by:
        raise TransitionRefused(f"the uploader may send a counter-notice until {case.respond_by.isoformat()}")
    elif action == A.FILE_COMPLAINT:
        if case.complaint_until is None or now > case.complaint_until:
            raise TransitionRefused("the internal-complaint window (6 months after the decision) has closed")
        default_basis = "DSA Art. 20"
    elif action == A.APPEAL:
        changes["respond_by"] = calendar.add_business_days(today, rules.appeal_business_days)
    elif action in (A.REVERSE, A.CONFIRM, A.APPEAL_UPHOLD) and not reason.strip():
        raise TransitionRefused(f"'{action.value}' needs the reviewer's reasons")

    if target in DECISIONS:
        changes["complaint_until"] = now + rules.complaint_window
        changes.setdefault("respond_by", None)
    if target == S.CLOSED:
        changes["close_reason"] = reason
    event = Event(
        case_id=case.case_id, sequence=case.events, action=action.value, from_state=case.state.value,
        to_state=target.value, actor=actor, basis=basis or default_basis, reason=reason,
        evidence_sha256=evidence_sha256, at=now, previous_hash=case.last_hash,
    )
    updated = replace(case, state=target, last_hash=event.hash, events=case.events + 1,
                      history=case.history + (target.value,), **changes)
    return updated, event


@dataclass(frozen=True)
class Due:
    case_id: str
    action: Action
    due_on: dt.date
    why: str


def due(case: Case, today: dt.date) -> Due | None:
    """What the service does by itself for this case once `today` reaches the date, if anything."""
    if case.state == S.RESTORE_WINDOW and case.restore_not_before is not None:
        return Due(case.case_id, A.RESTORE, case.restore_not_before,
                   "restore window opens (no lawsuit reported)")
    if case.state == S.NOTIFIED and case.respond_by is not None:
        return Due(case.case_id, A.UPHOLD, case.respond_by + dt.timedelta(days=1), "no counter-notice in time")
    if case.state == S.INCOMPLETE and case.respond_by is not None:
        return Due(case.case_id, A.REJECT, case.respond_by + dt.timedelta(days=1),
                   "the sender did not supply the missing elements")
    if case.state == S.APPEAL and case.respond_by is not None:
        return Due(case.case_id, A.APPEAL_DISMISS, case.respond_by + dt.timedelta(days=1),
                   "the claimant did not pursue the appeal")
    if case.state in DECISIONS and case.complaint_until is not None:
        return Due(case.case_id, A.CLOSE, case.complaint_until.date() + dt.timedelta(days=1),
                   "the complaint window has passed")
    return None


def case_to_dict(case: Case) -> dict:
    """A JSON-ready snapshot of a case, for storage."""
    def day(value: dt.date | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "case_id": case.case_id, "notice": asdict(case.notice), "state": case.state.value,
        "opened_at": case.opened_at.isoformat(), "track_id": case.track_id, "uploader": case.uploader,
        "counter_notice": asdict(case.counter_notice) if case.counter_notice else None,
        "counter_received_on": day(case.counter_received_on), "restore_not_before": day(case.restore_not_before),
        "restore_not_after": day(case.restore_not_after), "respond_by": day(case.respond_by),
        "complaint_until": case.complaint_until.isoformat() if case.complaint_until else None,
        "statement_of_reasons": case.statement_of_reasons, "close_reason": case.close_reason,
        "last_hash": case.last_hash, "events": case.events, "history": list(case.history),
    }


def case_from_dict(data: dict) -> Case:
    def day(value: str | None) -> dt.date | None:
        return dt.date.fromisoformat(value) if value else None

    notice = dict(data["notice"])
    notice["content_locations"] = tuple(notice["content_locations"])
    counter = data["counter_notice"]
    return Case(
        case_id=data["case_id"], notice=Notice(**notice), state=State(data["state"]),
        opened_at=dt.datetime.fromisoformat(data["opened_at"]), track_id=data["track_id"], uploader=data["uploader"],
        counter_notice=CounterNotice(**counter) if counter else None,
        counter_received_on=day(data["counter_received_on"]), restore_not_before=day(data["restore_not_before"]),
        restore_not_after=day(data["restore_not_after"]), respond_by=day(data["respond_by"]),
        complaint_until=dt.datetime.fromisoformat(data["complaint_until"]) if data["complaint_until"] else None,
        statement_of_reasons=data["statement_of_reasons"], close_reason=data["close_reason"],
        last_hash=data["last_hash"], events=data["events"], history=tuple(data["history"]),
    )
