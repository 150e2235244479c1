"""The dispute desk: cases in storage, every transition hash-chained, stored and logged in one transaction."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select

import fingerprints
import takedown
from fingerprints.retro import rescreen
from fingerprints.verify import frame_errors
from guard.errors import FailedPrecondition, InvalidArgument, NotFound
from guard.provenance.bundle import EVENT_LEAF, HistoryBundle, LoggedEvent
from guard.provenance.log import PendingAppends, TransparencyLog
from guard.provenance.verify import verify_bundle
from guard.storage.models import (
    DisputeCaseRow,
    DisputeEventRow,
    LogEntryRow,
    PolicyDecisionRow,
    ProvenanceRecordRow,
    RetroactiveScanRow,
    ScreeningFingerprintRow,
    ScreeningRow,
    StrikeRow,
    WorkFingerprintRow,
    WorkRow,
)
from takedown.report import AudioEvidence, MelodyEvidence, NotePair, ReportInput
from takedown.sor import statement_of_reasons

log = structlog.get_logger("guard.disputes")

_SCAN_BATCH = 2000


@dataclass(frozen=True)
class CaseView:
    """A case with what the legal team sees beside it."""

    case: takedown.Case
    origin: str
    work_id: str
    evidence: list
    events: list[DisputeEventRow]
    missing_elements: list[str]


def melody_evidence(match: dict) -> MelodyEvidence:
    """A stored melodic match as the report shows it: the aligned notes, with the reference's bars."""
    pairs = tuple(
        NotePair(query_onset=p["query"]["onset_seconds"], query_pitch=round(p["query"]["pitch"]),
                 reference_onset=p["reference"]["onset_seconds"], reference_pitch=round(p["reference"]["pitch"]),
                 reference_bar=p["reference"]["bar"])
        for p in match.get("note_pairs", ()) if p.get("query") and p.get("reference"))
    return MelodyEvidence(
        work_id=match["work_id"], score=match["score"],
        query_span=(match["query_start_seconds"], match["query_end_seconds"]),
        reference_bars=(match.get("reference_first_bar", 0), match.get("reference_last_bar", 0)),
        transposition=match.get("pitch_shift_semitones", 0.0), tempo_ratio=match.get("tempo_ratio", 1.0),
        pairs=pairs,
    )


class DisputeDesk:
    def __init__(
        self,
        engine: Engine,
        transparency_log: TransparencyLog,
        calendar: takedown.BusinessCalendar,
        clock: Callable[[], dt.datetime],
        new_id: Callable[[], str],
        rules: takedown.DisputeRules = takedown.DisputeRules(),
        strikes: takedown.StrikePolicy = takedown.StrikePolicy(),
    ) -> None:
        self._engine = engine
        self._log = transparency_log
        self._calendar = calendar
        self._clock = clock
        self._new_id = new_id
        self._rules = rules
        self._strikes = strikes
        self._lock = threading.Lock()

    def file_notice(self, notice: takedown.Notice, screening_id: str, actor: takedown.Actor) -> CaseView:
        """Open a case for a notice about a screened track; incomplete notices ask the sender for more."""
        with Session(self._engine) as session:
            screening = session.get(ScreeningRow, screening_id)
        if screening is None:
            raise NotFound(f"no screening '{screening_id}' (the notice must name a track this guard screened)")
        case, opened = takedown.open_case(self._new_id(), notice, track_id=screening_id,
                                          uploader=screening.pipeline_id, now=self._clock(), actor=actor)
        self._create(case, opened, origin="notice", work_id=notice.work_id, evidence=[])
        if takedown.missing_elements(notice):
            return self.act(case.case_id, takedown.Action.REQUEST_INFORMATION, actor)
        return self.get(case.case_id)

    def file_counter_notice(self, case_id: str, counter: takedown.CounterNotice, actor: takedown.Actor) -> CaseView:
        return self.act(case_id, takedown.Action.RECEIVE_COUNTER_NOTICE, actor, counter_notice=counter)

    def act(self, case_id: str, action: takedown.Action, actor: takedown.Actor, *, reason: str = "",
            basis: str = "", evidence_sha256: tuple[str, ...] = (), notice: takedown.Notice | None = None,
            counter_notice: takedown.CounterNotice | None = None) -> CaseView:
        """Apply one transition: case row, event row, log leaf and any strike, in one transaction."""
        with self._lock:
            row = self._row(case_id)
            case = takedown.case_from_dict(row.snapshot)
            now = self._clock()
            try:
                updated, event = takedown.act(
                    case, action, actor=actor, now=now, calendar=self._calendar, rules=self._rules, reason=reason,
                    basis=basis, evidence_sha256=evidence_sha256, notice=notice, counter_notice=counter_notice)
            except takedown.TransitionRefused as exc:
                raise FailedPrecondition(str(exc)) from exc
            with self._log.appending() as pending, Session(self._engine) as session:
                self._record(session, pending, event)
                stored = session.get(DisputeCaseRow, case_id)
                assert stored is not None
                _update_row(stored, updated, now, self._calendar)
                session.add(stored)
                if updated.state == takedown.State.UPHELD and session.get(StrikeRow, case_id) is None:
                    strike = self._strikes.strike(updated.uploader, case_id, now)
                    session.add(StrikeRow(case_id=case_id, uploader=strike.uploader, at=strike.at,
                                          expires_at=strike.expires_at))
                session.commit()
        log.info("dispute_transition", case_id=case_id, action=action.value, state=updated.state.value,
                 actor_kind=actor.kind, actor=actor.actor_id)
        return self.get(case_id)

    def get(self, case_id: str) -> CaseView:
        row = self._row(case_id)
        with Session(self._engine) as session:
            events = list(session.exec(select(DisputeEventRow).where(DisputeEventRow.case_id == case_id)
                                       .order_by(col(DisputeEventRow.sequence))))
        case = takedown.case_from_dict(row.snapshot)
        return CaseView(case, row.origin, row.work_id, row.evidence, events, takedown.missing_elements(case.notice))

    def list(self, *, state: str = "", due_before: dt.date | None = None, work_id: str = "", claimant: str = "",
             limit: int = 500) -> list[DisputeCaseRow]:
        query = select(DisputeCaseRow)
        if state:
            query = query.where(DisputeCaseRow.state == state)
        if due_before is not None:
            query = query.where(col(DisputeCaseRow.due_on) <= due_before)
        if work_id:
            query = query.where(DisputeCaseRow.work_id == work_id)
        if claimant:
            query = query.where(DisputeCaseRow.claimant == claimant)
        with Session(self._engine) as session:
            return list(session.exec(query.order_by(col(DisputeCaseRow.opened_at)).limit(limit)))

    def repeat_infringer(self, uploader: str) -> bool:
        with Session(self._engine) as session:
            rows = session.exec(select(StrikeRow).where(StrikeRow.uploader == uploader)).all()
        strikes = [takedown.Strike(r.uploader, r.case_id, r.at, r.expires_at) for r in rows]
        return self._strikes.is_repeat_infringer(strikes, uploader, self._clock())

    def run_due(self, actor: takedown.Actor) -> list[str]:
        """Take every automated step whose date has come; returns the cases moved."""
        today = self._clock().date()
        moved = []
        for row in self.list(due_before=today, limit=10_000):
            item = takedown.due(takedown.case_from_dict(row.snapshot), today)
            if item is None or item.due_on > today:
                continue
            try:
                self.act(row.case_id, item.action, actor, reason=item.why)
                moved.append(row.case_id)
            except FailedPrecondition as exc:
                log.warning("dispute_due_refused", case_id=row.case_id, reason=str(exc))
        return moved

    def rescan_for_work(self, work_id: str, work_number: int, reference: fingerprints.AudioFingerprint,
                        actor: takedown.Actor, rights_holder: str) -> RetroactiveScanRow:
        """Check every cleared track against a newly registered work; open a case for each reuse found."""
        now = self._clock()
        with Session(self._engine) as session:
            cleared = list(session.exec(
                select(ScreeningRow.id).join(PolicyDecisionRow, PolicyDecisionRow.screening_id == ScreeningRow.id)
                .where(PolicyDecisionRow.effect == "allow").order_by(col(ScreeningRow.id))))
            scan = RetroactiveScanRow(work_id=work_id, state="running", total=len(cleared), started_at=now)
            session.merge(scan)
            session.commit()
        opened = checked = 0
        for start in range(0, len(cleared), _SCAN_BATCH):
            batch = cleared[start:start + _SCAN_BATCH]
            with Session(self._engine) as session:
                rows = session.exec(select(ScreeningFingerprintRow.screening_id, ScreeningFingerprintRow.codes)
                                    .where(col(ScreeningFingerprintRow.screening_id).in_(batch))
                                    .where(ScreeningFingerprintRow.algorithm == "chromaprint")).all()
            tracks = [(sid, fingerprints.AudioFingerprint.from_bytes(codes).codes) for sid, codes in rows]
            for screening_id, match in rescreen(reference.codes, tracks, work_number=work_number):
                self._open_retroactive(screening_id, work_id, rights_holder, match, actor)
                opened += 1
            checked += len(batch)
            self._progress(work_id, checked, opened, "running")
        return self._progress(work_id, checked, opened, "done")

    def report(self, case_id: str) -> ReportInput:
        """Everything the evidence report shows, gathered from storage and verified now."""
        view = self.get(case_id)
        case = view.case
        with Session(self._engine) as session:
            screening = session.get(ScreeningRow, case.track_id)
            printed = session.get(ScreeningFingerprintRow, (case.track_id, "chromaprint"))
            decision = session.exec(select(PolicyDecisionRow)
                                    .where(PolicyDecisionRow.screening_id == case.track_id)).first()
            record = session.exec(select(ProvenanceRecordRow)
                                  .where(ProvenanceRecordRow.screening_id == case.track_id)).first()
        matches = list(view.evidence) or [m for m in (screening.matches if screening else [])
                                          if not view.work_id or m["work_id"] == view.work_id]
        audio = tuple(self._audio_evidence(m, printed) for m in matches if m.get("kind", "audio") == "audio")
        melodic = tuple(melody_evidence(m) for m in matches if m.get("kind") == "melody")
        verification: tuple[dict, ...] = ()
        record_payload = None
        if record is not None:
            bundle = self._log.bundle(record)
            checked = verify_bundle(bundle, bundle.keyring)
            verification = tuple(asdict(c) for c in checked.checks)
            record_payload = checked.record
        events = tuple(json.loads(e.payload) | {"hash": e.hash, "log_index": e.log_index} for e in view.events)
        return ReportInput(
            case=case, origin=view.origin, work_id=view.work_id, events=events, audio=audio, melody=melodic,
            record=record_payload,
            verification=verification,
            decision={"decision": decision.effect, "bundle_id": decision.bundle_id, "revision": decision.revision,
                      "determining_rules": decision.determining_rules, "reasons": decision.reasons}
            if decision else None,
            generated_at=self._clock(),
        )

    def _audio_evidence(self, match: dict, printed: ScreeningFingerprintRow | None) -> AudioEvidence:
        similarity: tuple[tuple[float, float], ...] = ()
        with Session(self._engine) as session:
            work = session.exec(select(WorkRow).where(WorkRow.work_id == match["work_id"])).first()
            reference = session.get(WorkFingerprintRow, (work.number, "chromaprint")) if work else None
        if printed is not None and reference is not None and match.get("fingerprint", "chromaprint") == "chromaprint":
            query = fingerprints.AudioFingerprint.from_bytes(printed.codes).codes
            ref = fingerprints.AudioFingerprint.from_bytes(reference.codes).codes
            offset = round((match["reference_start_seconds"] - match["query_start_seconds"]) / fingerprints.FRAME_HOP_S)
            start, errors = frame_errors(query, ref, offset)
            smoothed = np.convolve(errors, np.ones(9) / 9, mode="same") if len(errors) else errors
            similarity = tuple((round((start + i) * fingerprints.FRAME_HOP_S, 3), round(1 - float(v), 4))
                               for i, v in enumerate(smoothed))
        return AudioEvidence(
            work_id=match["work_id"], fingerprint=match.get("fingerprint", "chromaprint"), score=match["score"],
            query_span=(match["query_start_seconds"], match["query_end_seconds"]),
            reference_span=(match["reference_start_seconds"], match["reference_end_seconds"]), similarity=similarity,
        )

    def statements(self, territorial_scope: list[str]) -> list[dict]:
        """Statements of reasons for every case whose decision restricted a track."""
        rows = [r for r in self.list(limit=100_000)
                if any(s in ("disabled", "upheld") for s in r.snapshot["history"])]
        out = []
        for row in rows:
            view = self.get(row.case_id)
            automated = view.origin == "retroactive"
            out.append(statement_of_reasons(
                view.case, automated_detection=True,
                automated_decision="AUTOMATED_DECISION_PARTIALLY" if automated else "NOT_AUTOMATED",
                content_date=view.case.opened_at.date().isoformat(),
                application_date=(view.events[-1].at.date().isoformat() if view.events
                                  else view.case.opened_at.date().isoformat()),
                territorial_scope=territorial_scope,
            ))
        return out

    def history(self, case_id: str) -> HistoryBundle:
        """The case's events with inclusion proofs against the latest checkpoint, for `guard audit verify`."""
        view = self.get(case_id)
        checkpoint, note = self._log.checkpoint()
        with Session(self._engine) as session:
            leaves = {row.index: row.leaf for row in session.exec(
                select(LogEntryRow).where(col(LogEntryRow.index).in_([e.log_index for e in view.events])))}
        events = tuple(LoggedEvent(e.payload, e.log_index, leaves[e.log_index],
                                   tuple(self._log.inclusion_proof(e.log_index, checkpoint.size)))
                       for e in view.events)
        return HistoryBundle(case_id, events, checkpoint.size, note, self._log.keyring())

    def scan(self, work_id: str) -> RetroactiveScanRow | None:
        with Session(self._engine) as session:
            return session.get(RetroactiveScanRow, work_id)

    def _open_retroactive(self, screening_id: str, work_id: str, rights_holder: str, match: fingerprints.AudioMatch,
                          actor: takedown.Actor) -> None:
        with Session(self._engine) as session:
            screening = session.get(ScreeningRow, screening_id)
        assert screening is not None
        notice = takedown.Notice(
            regime="dsa", claimant_name=rights_holder, work_id=work_id, content_locations=(screening_id,),
            explanation=(f"Retroactive claim: newly registered work {work_id} matches {match.query_start:.1f}-"
                         f"{match.query_end:.1f} s of this track (score {match.score:.6f})."),
        )
        case, opened = takedown.open_case(self._new_id(), notice, track_id=screening_id,
                                          uploader=screening.pipeline_id, now=self._clock(), actor=actor,
                                          basis="retroactive claim (new reference registered)")
        evidence = [{"kind": "audio", "fingerprint": "chromaprint", "work_id": work_id,
                     "query_start_seconds": round(match.query_start, 3), "query_end_seconds": round(match.query_end, 3),
                     "reference_start_seconds": round(match.reference_start, 3),
                     "reference_end_seconds": round(match.reference_end, 3), "score": match.score,
                     "bit_error_rate": round(match.bit_error_rate, 4)}]
        self._create(case, opened, origin="retroactive", work_id=work_id, evidence=evidence)
        log.info("retroactive_case_opened", case_id=case.case_id, work_id=work_id, screening_id=screening_id,
                 actor=actor.actor_id)

    def _progress(self, work_id: str, checked: int, opened: int, state: str) -> RetroactiveScanRow:
        with Session(self._engine, expire_on_commit=False) as session:
            scan = session.get(RetroactiveScanRow, work_id)
            assert scan is not None
            scan.checked, scan.cases_opened, scan.state = checked, opened, state
            if state == "done":
                scan.finished_at = self._clock()
            session.add(scan)
            session.commit()
            return scan

    def _create(self, case: takedown.Case, opened: takedown.Event, *, origin: str, work_id: str,
                evidence: list) -> None:
        """The case row, its first event and that event's log leaf, in one transaction."""
        row = DisputeCaseRow(case_id=case.case_id, state=case.state.value, origin=origin, regime=case.notice.regime,
                             work_id=work_id, claimant=case.notice.claimant_name, track_id=case.track_id,
                             uploader=case.uploader, snapshot=takedown.case_to_dict(case), evidence=evidence,
                             opened_at=case.opened_at, updated_at=case.opened_at)
        with self._lock, self._log.appending() as pending, Session(self._engine) as session:
            session.add(row)
            self._record(session, pending, opened)
            session.commit()

    def _record(self, session: Session, pending: PendingAppends, event: takedown.Event) -> None:
        entry = pending.add(session, EVENT_LEAF, f"{event.case_id}#{event.sequence}", event.canonical(), event.at)
        session.add(DisputeEventRow(case_id=event.case_id, sequence=event.sequence, payload=event.canonical(),
                                    hash=event.hash, log_index=entry.index, at=event.at))

    def _row(self, case_id: str) -> DisputeCaseRow:
        with Session(self._engine) as session:
            row = session.get(DisputeCaseRow, case_id)
        if row is None:
            raise NotFound(f"no case '{case_id}'")
        return row


def _update_row(row: DisputeCaseRow, case: takedown.Case, now: dt.datetime, calendar: takedown.BusinessCalendar) -> None:
    item = takedown.due(case, now.date())
    row.state = case.state.value
    row.snapshot = takedown.case_to_dict(case)
    row.due_on = item.due_on if item else None
    row.due_action = item.action.value if item else ""
    row.updated_at = now


def parse_action(name: str) -> takedown.Action:
    try:
        return takedown.Action(name)
    except ValueError:
        names = ", ".join(a.value for a in takedown.Action)
        raise InvalidArgument(f"unknown action '{name}'; actions are: {names}") from None

