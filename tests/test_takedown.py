"""The dispute workflow on its own: the table, statutory windows in business days, validation, the event chain."""

from __future__ import annotations

import datetime as dt
from collections import deque

import pytest

from takedown import (
    TRANSITIONS,
    Action,
    Actor,
    BusinessCalendar,
    CounterNotice,
    Notice,
    State,
    StrikePolicy,
    TransitionRefused,
    act,
    due,
    missing_counter_elements,
    missing_elements,
    open_case,
)

US = BusinessCalendar("US")
LEGAL = Actor("staff", "alice@legal", "legal")
REVIEWER = Actor("staff", "bob@legal", "legal")
ROBOT = Actor("automated", "guard", policy_version="guard-default@1", model_version="chromaprint-v1")
# Friday 20 November 2026; Thursday 26 November is Thanksgiving.
FRIDAY = dt.datetime(2026, 11, 20, 15, tzinfo=dt.timezone.utc)

DMCA = Notice(
    regime="dmca", claimant_name="Example Music Ltd", claimant_email="legal@example.com",
    claimant_address="1 Example Street, Nashville", signature="/s/ Jane Roe", work_description="'Harbour Waltz'",
    work_id="work-1", content_locations=("rec_abc",), good_faith_statement=True, accuracy_statement=True,
)
COUNTER = CounterNotice(
    uploader_name="Sam Uploader", uploader_address="2 Other Road", uploader_phone="+1 555 0100",
    signature="/s/ Sam", material_identification="rec_abc at /tracks/abc", mistake_statement=True,
    jurisdiction_consent=True,
)


@pytest.mark.parametrize(
    "start,days,expected",
    [
        (dt.date(2026, 11, 20), 1, dt.date(2026, 11, 23)),   # Friday + 1 -> Monday
        (dt.date(2026, 11, 25), 1, dt.date(2026, 11, 27)),   # skips Thanksgiving
        (dt.date(2026, 11, 20), 10, dt.date(2026, 12, 7)),
        (dt.date(2026, 11, 20), 14, dt.date(2026, 12, 11)),
        (dt.date(2026, 12, 23), 2, dt.date(2026, 12, 28)),   # skips Christmas Day (Friday) and the weekend
        (dt.date(2026, 11, 21), 0, dt.date(2026, 11, 21)),
    ],
)
def test_business_days_skip_weekends_and_holidays(start, days, expected) -> None:
    assert US.add_business_days(start, days) == expected
    assert US.business_days_between(start, expected) == days


def test_jurisdiction_changes_the_calendar() -> None:
    germany = BusinessCalendar("DE", "BY")
    assert germany.add_business_days(dt.date(2026, 11, 25), 1) == dt.date(2026, 11, 26)
    assert not germany.is_business_day(dt.date(2026, 10, 3))  # German Unity Day (a Saturday anyway)
    assert not germany.is_business_day(dt.date(2026, 12, 25))


def test_notice_elements_are_named_when_missing() -> None:
    assert missing_elements(DMCA) == []
    bare = Notice(regime="dmca", claimant_name="X", content_locations=("rec_1",))
    missing = missing_elements(bare)
    assert any("(A)(i) a physical or electronic signature" in m for m in missing)
    assert any("(A)(iv) contact information" in m for m in missing)
    assert not any("(iii)" in m for m in missing)
    dsa = Notice(regime="dsa", claimant_name="Y", claimant_email="y@example.org", content_locations=("rec_1",),
                 explanation="This track reproduces our registered recording verbatim.", accuracy_statement=True)
    assert missing_elements(dsa) == []
    assert missing_elements(Notice(regime="dsa")) == [
        "Art. 16(2)(a) a sufficiently substantiated explanation",
        "Art. 16(2)(b) the exact electronic location of the information",
        "Art. 16(2)(c) the name and email address of the notifier",
        "Art. 16(2)(d) a statement of bona fide belief in accuracy and completeness",
    ]
    assert missing_counter_elements(COUNTER) == []
    assert len(missing_counter_elements(CounterNotice())) == 5


def step(case, action, now, actor=LEGAL, **kwargs):
    return act(case, action, actor=actor, now=now, calendar=US, **kwargs)[0]


def to_restore_window(now=FRIDAY):
    case = open_case("case-1", DMCA, track_id="scr_1", uploader="sam", now=now, actor=LEGAL)[0]
    case = step(case, Action.ACCEPT, now)
    case = step(case, Action.DISABLE, now)
    case = step(case, Action.NOTIFY_UPLOADER, now, reason="Your track reproduces 'Harbour Waltz' (0:10-0:25).")
    case = step(case, Action.RECEIVE_COUNTER_NOTICE, now, counter_notice=COUNTER)
    return step(case, Action.FORWARD, now)


def test_restore_only_between_business_days_10_and_14_after_the_counter_notice() -> None:
    case = to_restore_window()
    assert case.restore_not_before == dt.date(2026, 12, 7) and case.restore_not_after == dt.date(2026, 12, 11)
    early = dt.datetime(2026, 12, 4, 12, tzinfo=dt.timezone.utc)  # calendar day 14, business day 9
    with pytest.raises(TransitionRefused, match="before 2026-12-07"):
        step(case, Action.RESTORE, early)
    late = dt.datetime(2026, 12, 14, 12, tzinfo=dt.timezone.utc)
    with pytest.raises(TransitionRefused, match="closed on 2026-12-11"):
        step(case, Action.RESTORE, late)
    restored = step(case, Action.RESTORE, dt.datetime(2026, 12, 7, 9, tzinfo=dt.timezone.utc))
    assert restored.state == State.RESTORED
    assert restored.history == ("received", "valid", "disabled", "notified", "countered", "restore_window",
                                "restored")


def test_a_reported_lawsuit_freezes_the_restore() -> None:
    frozen = step(to_restore_window(), Action.REPORT_LAWSUIT, FRIDAY)
    with pytest.raises(TransitionRefused, match="not possible in state 'frozen'"):
        step(frozen, Action.RESTORE, dt.datetime(2026, 12, 8, tzinfo=dt.timezone.utc))
    assert step(frozen, Action.UPHOLD, FRIDAY).state == State.UPHELD


def test_incomplete_notices_and_counter_notices_are_refused_with_the_missing_elements() -> None:
    bare = open_case("case-2", Notice(regime="dmca", content_locations=("rec_1",)), track_id="", uploader="",
                     now=FRIDAY, actor=LEGAL)[0]
    with pytest.raises(TransitionRefused, match=r"lacks: 512\(c\)\(3\)\(A\)\(i\)"):
        step(bare, Action.ACCEPT, FRIDAY)
    waiting = step(bare, Action.REQUEST_INFORMATION, FRIDAY)
    assert waiting.state == State.INCOMPLETE and waiting.respond_by == dt.date(2026, 12, 7)
    fixed = step(waiting, Action.SUPPLEMENT, FRIDAY, notice=DMCA)
    assert step(fixed, Action.ACCEPT, FRIDAY).state == State.VALID
    notified = step(step(step(fixed, Action.ACCEPT, FRIDAY), Action.DISABLE, FRIDAY), Action.NOTIFY_UPLOADER,
                    FRIDAY, reason="reasons")
    with pytest.raises(TransitionRefused, match="counter-notice lacks"):
        step(notified, Action.RECEIVE_COUNTER_NOTICE, FRIDAY, counter_notice=CounterNotice(signature="x"))
    with pytest.raises(TransitionRefused, match="statement of reasons"):
        step(step(step(fixed, Action.ACCEPT, FRIDAY), Action.DISABLE, FRIDAY), Action.NOTIFY_UPLOADER, FRIDAY)


def test_complaints_need_a_named_human_and_close_after_six_months() -> None:
    case = open_case("case-3", DMCA, track_id="scr_1", uploader="sam", now=FRIDAY, actor=LEGAL)[0]
    case = step(case, Action.ACCEPT, FRIDAY)
    case = step(case, Action.DISABLE, FRIDAY)
    case = step(case, Action.NOTIFY_UPLOADER, FRIDAY, reason="reasons")
    with pytest.raises(TransitionRefused, match="until 2026-12-11"):
        step(case, Action.UPHOLD, FRIDAY, actor=ROBOT, reason="no counter-notice")
    upheld = step(case, Action.UPHOLD, dt.datetime(2026, 12, 14, tzinfo=dt.timezone.utc), actor=ROBOT)
    complaint = step(upheld, Action.FILE_COMPLAINT, dt.datetime(2027, 1, 5, tzinfo=dt.timezone.utc))
    with pytest.raises(TransitionRefused, match="named human reviewer"):
        step(complaint, Action.REVERSE, FRIDAY, actor=ROBOT, reason="x")
    with pytest.raises(TransitionRefused, match="reviewer's reasons"):
        step(complaint, Action.REVERSE, FRIDAY, actor=REVIEWER)
    assert step(complaint, Action.REVERSE, FRIDAY, actor=REVIEWER, reason="misidentified").state == State.RESTORED
    with pytest.raises(TransitionRefused, match="window"):
        step(upheld, Action.FILE_COMPLAINT, dt.datetime(2027, 7, 1, tzinfo=dt.timezone.utc))


def test_events_form_a_hash_chain() -> None:
    case, opened = open_case("case-4", DMCA, track_id="scr_1", uploader="sam", now=FRIDAY, actor=LEGAL)
    events = [opened]
    for action, kwargs in [(Action.ACCEPT, {}), (Action.DISABLE, {}), (Action.NOTIFY_UPLOADER, {"reason": "r"})]:
        case, event = act(case, action, actor=LEGAL, now=FRIDAY, calendar=US, evidence_sha256=("ab" * 32,), **kwargs)
        events.append(event)
    assert events[0].previous_hash == "" and [e.sequence for e in events] == [0, 1, 2, 3]
    assert events[0].action == "open" and len(events[0].evidence_sha256[0]) == 64
    for before, after in zip(events, events[1:]):
        assert after.previous_hash == before.hash
    assert case.last_hash == events[-1].hash
    assert events[1].basis == "DMCA 512(c)(3)" and events[3].basis == "DSA Art. 17"
    assert events[2].payload()["actor"] == {"kind": "staff", "id": "alice@legal", "role": "legal",
                                            "policy_version": "", "model_version": ""}


def test_due_lists_what_the_service_does_by_itself() -> None:
    window = to_restore_window()
    item = due(window, dt.date(2026, 12, 1))
    assert item.action == Action.RESTORE and item.due_on == dt.date(2026, 12, 7)
    restored = step(window, Action.RESTORE, dt.datetime(2026, 12, 7, tzinfo=dt.timezone.utc), actor=ROBOT)
    assert due(restored, dt.date(2026, 12, 8)).action == Action.CLOSE


def _paths(limit: int) -> list[tuple[tuple[State, ...], tuple[Action, ...]]]:
    paths, queue = [], deque([((State.RECEIVED,), ())])
    while queue:
        states, actions = queue.popleft()
        paths.append((states, actions))
        if len(actions) == limit:
            continue
        for (source, action), target in TRANSITIONS.items():
            if source == states[-1]:
                queue.append((states + (target,), actions + (action,)))
    return paths


def test_every_transition_is_reachable_and_no_path_skips_a_required_state() -> None:
    paths = _paths(limit=9)
    used = {(states[i], actions[i]) for states, actions in paths for i in range(len(actions))}
    assert used == set(TRANSITIONS)
    for states, _ in paths:
        for i, state in enumerate(states):
            before = states[:i]
            if state == State.DISABLED:
                assert State.VALID in before
            if state == State.COUNTERED:
                assert before[-1] == State.NOTIFIED
            if state == State.RESTORE_WINDOW:
                assert before[-1] == State.COUNTERED
            if state == State.RESTORED:
                assert before[-1] in (State.RESTORE_WINDOW, State.COMPLAINT_AGAINST_UPHOLD,
                                      State.COMPLAINT_AGAINST_RESTORE, State.APPEAL)
            if state in (State.UPHELD, State.RESTORE_WINDOW):
                assert State.NOTIFIED in before, "content stays down only after the uploader was told why"
        assert State.CLOSED not in states[:-1]


def test_every_transition_in_the_table_can_be_driven() -> None:
    """Drive each table entry through `act` from a case that reached its source state."""
    now = FRIDAY
    reached: dict[State, object] = {State.RECEIVED: open_case("c", DMCA, track_id="t", uploader="u", now=now,
                                                              actor=LEGAL)[0]}
    kwargs = {
        Action.SUPPLEMENT: {"notice": DMCA}, Action.RECEIVE_COUNTER_NOTICE: {"counter_notice": COUNTER},
        Action.NOTIFY_UPLOADER: {"reason": "r"}, Action.REJECT: {"reason": "r"}, Action.CLOSE: {"reason": "r"},
        Action.REVERSE: {"reason": "r"}, Action.CONFIRM: {"reason": "r"}, Action.APPEAL_UPHOLD: {"reason": "r"},
    }
    times = {Action.RESTORE: dt.datetime(2026, 12, 8, tzinfo=dt.timezone.utc),
             Action.UPHOLD: dt.datetime(2026, 12, 14, tzinfo=dt.timezone.utc)}
    incomplete = open_case("c", Notice(regime="dmca"), track_id="t", uploader="u", now=now, actor=LEGAL)[0]
    reached[State.INCOMPLETE] = step(incomplete, Action.REQUEST_INFORMATION, now)
    driven = set()
    for _ in range(6):
        for (source, action), target in TRANSITIONS.items():
            if source not in reached or (source, action) in driven:
                continue
            case = incomplete if action == Action.REQUEST_INFORMATION else reached[source]
            when = times.get(action, max(now, case.opened_at))
            if action == Action.UPHOLD and source == State.FROZEN:
                when = now
            new = step(case, action, when, actor=REVIEWER, **kwargs.get(action, {}))
            assert new.state == target
            reached.setdefault(target, new)
            driven.add((source, action))
    assert driven == set(TRANSITIONS)


def test_strikes_expire() -> None:
    policy = StrikePolicy(lifetime=dt.timedelta(days=365), threshold=2)
    strikes = [policy.strike("sam", "c1", FRIDAY), policy.strike("sam", "c2", FRIDAY + dt.timedelta(days=100))]
    assert policy.is_repeat_infringer(strikes, "sam", FRIDAY + dt.timedelta(days=200))
    assert not policy.is_repeat_infringer(strikes, "sam", FRIDAY + dt.timedelta(days=400))
    assert not policy.is_repeat_infringer(strikes, "ann", FRIDAY + dt.timedelta(days=200))


def test_a_case_survives_storage_as_json() -> None:
    import json

    from takedown import case_from_dict, case_to_dict

    case = step(to_restore_window(), Action.REPORT_LAWSUIT, FRIDAY)
    assert case_from_dict(json.loads(json.dumps(case_to_dict(case)))) == case
