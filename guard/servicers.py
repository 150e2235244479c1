"""Thin gRPC servicers: proto in, domain call, proto out, typed errors to statuses."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine
from sqlmodel import Session

import fingerprints
import policies
import takedown
from fingerprints import melody
from guard.catalog import ACTIVE, Catalog, MelodyUpload, WorkDetails
from guard.config import Limits
from guard.disputes import CaseView, DisputeDesk, parse_action
from guard.errors import GuardError, InvalidArgument, NotFound, ResourceExhausted
from guard.observability import Metrics, current_principal
from guard.policy import PolicyGate
from guard.provenance.bundle import Leaf
from guard.provenance.log import TransparencyLog
from guard.screening import Evidence, Generation, Screener, Screening, decision_from_row
from guard.storage.models import (
    PolicyDecisionRow,
    ProvenanceRecordRow,
    RetroactiveScanRow,
    WorkRow,
)
from guard.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    disputes_pb2,
    disputes_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
    provenance_pb2,
    provenance_pb2_grpc,
    screening_pb2,
    screening_pb2_grpc,
)
from takedown.report import render_html, render_json

_DEFAULT_PAGE = 100
_MAX_PAGE = 1000


@contextmanager
def _statuses(context: grpc.ServicerContext) -> Iterator[None]:
    try:
        yield
    except GuardError as exc:
        context.abort(exc.status, str(exc))
    except (fingerprints.AudioLimitExceeded, melody.MelodyLimitExceeded) as exc:
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
    except (fingerprints.InvalidAudio, melody.InvalidMelody) as exc:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))


def _melody_upload(message: catalog_pb2.MelodyFile | None) -> MelodyUpload | None:
    return MelodyUpload(bytes(message.content), message.filename) if message is not None else None


def _receive_upload(chunks: Iterable[bytes], limit: int) -> bytes:
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            raise ResourceExhausted(f"the upload exceeds the {limit // (1024 * 1024)} MiB limit")
    return bytes(buffer)


def _timestamp(value: object) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)  # type: ignore[arg-type]
    return stamp


def work_message(row: WorkRow, scan: RetroactiveScanRow | None = None) -> catalog_pb2.Work:
    return catalog_pb2.Work(
        details=catalog_pb2.WorkDetails(
            work_id=row.work_id, title=row.title, rights_holder=row.rights_holder,
            isrc=row.isrc, iswc=row.iswc, metadata=row.extra, rights_holder_flags=row.flags,
        ),
        state=catalog_pb2.WORK_STATE_ACTIVE if row.state == ACTIVE else catalog_pb2.WORK_STATE_RETIRED,
        recording_seconds=row.recording_seconds,
        recording_sha256=row.recording_sha256,
        melody_sha256=row.melody_sha256,
        melody_source=row.melody_source,
        melody_notes=row.melody_notes,
        registered_at=_timestamp(row.registered_at),
        retired_at=_timestamp(row.retired_at),
        retired_reason=row.retired_reason,
        retroactive_scan=catalog_pb2.RetroactiveScan(
            state=scan.state, total=scan.total, checked=scan.checked, cases_opened=scan.cases_opened,
        ) if scan else None,
    )


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, catalog: Catalog, desk: DisputeDesk, limits: Limits) -> None:
        self._catalog = catalog
        self._desk = desk
        self._limits = limits

    def RegisterWork(self, request_iterator, context):  # noqa: N802 (gRPC's names)
        with _statuses(context):
            first = next(request_iterator, None)
            if first is None or not first.HasField("work"):
                raise InvalidArgument("the first RegisterWork message must carry `work`")
            details = WorkDetails(
                work_id=first.work.work_id, title=first.work.title, rights_holder=first.work.rights_holder,
                isrc=first.work.isrc, iswc=first.work.iswc, metadata=dict(first.work.metadata),
                flags=tuple(first.work.rights_holder_flags),
            )
            chunks = (m.recording_chunk for m in _chain(first, request_iterator))
            recording = _receive_upload(chunks, self._limits.max_upload_bytes)
            row, created = self._catalog.register(
                details, recording, _melody_upload(first.melody if first.HasField("melody") else None))
            return catalog_pb2.RegisterWorkResponse(work=work_message(row, self._desk.scan(row.work_id)),
                                                    created=created)

    def GetWork(self, request, context):  # noqa: N802
        with _statuses(context):
            return work_message(self._catalog.get(request.work_id), self._desk.scan(request.work_id))

    def ListWorks(self, request, context):  # noqa: N802
        with _statuses(context):
            if request.page_size < 0:
                raise InvalidArgument("page_size must not be negative")
            size = min(request.page_size or _DEFAULT_PAGE, _MAX_PAGE)
            after = _decode_page_token(request.page_token)
            rows = self._catalog.list(after=after, limit=size + 1, include_retired=request.include_retired)
            token = _encode_page_token(rows[size - 1].number) if len(rows) > size else ""
            return catalog_pb2.ListWorksResponse(works=[work_message(r) for r in rows[:size]], next_page_token=token)

    def RetireWork(self, request, context):  # noqa: N802
        with _statuses(context):
            return work_message(self._catalog.retire(request.work_id, request.reason))


class ScreeningServicer(screening_pb2_grpc.ScreeningServiceServicer):
    def __init__(self, screener: Screener, metrics: Metrics, limits: Limits) -> None:
        self._screener = screener
        self._metrics = metrics
        self._limits = limits

    def Screen(self, request, context):  # noqa: N802
        with _statuses(context):
            return self._screen(request.audio, request.generation, request.idempotency_key,
                                _melody_upload(request.melody if request.HasField("melody") else None))

    def ScreenStream(self, request_iterator, context):  # noqa: N802
        with _statuses(context):
            first = next(request_iterator, None)
            if first is None:
                raise InvalidArgument("ScreenStream received no messages")
            chunks = (m.audio_chunk for m in _chain(first, request_iterator))
            audio = _receive_upload(chunks, self._limits.max_upload_bytes)
            return self._screen(audio, first.generation, first.idempotency_key,
                                _melody_upload(first.melody if first.HasField("melody") else None))

    def _screen(self, audio: bytes, generation: screening_pb2.Generation, key: str,
                melody_file: MelodyUpload | None) -> screening_pb2.ScreenResponse:
        result = self._screener.screen(
            audio,
            Generation(
                prompt=generation.prompt, model_id=generation.model_id, model_version=generation.model_version,
                consent_reference=generation.consent_reference, pipeline_id=generation.pipeline_id,
                consent_scope=generation.consent_scope,
                consent_granted_at=(generation.consent_granted_at.ToDatetime(dt.timezone.utc)
                                    if generation.HasField("consent_granted_at") else None),
                commercial_use=generation.commercial_use, territory=generation.territory,
            ),
            key,
            melody_file,
        )
        if not result.replayed:
            self._metrics.stage_timings(result.timings)
            self._metrics.verdict(generation.model_id, result.verdict)
        return screening_message(result)


def screening_message(result: Screening) -> screening_pb2.ScreenResponse:
    return screening_pb2.ScreenResponse(
        screening_id=result.screening_id,
        verdict=_VERDICTS[result.verdict],
        decision=decision_message(result.decision),
        matches=[_match_message(m) for m in result.matches],
        timings=[screening_pb2.StageTiming(stage=k, milliseconds=v) for k, v in result.timings.items()],
        duration_seconds=result.duration_seconds,
        audio_sha256=result.audio_sha256,
        screened_at=_timestamp(result.screened_at),
        replayed=result.replayed,
        record_id=result.record_id,
        log_index=result.log_index,
        prompt_salt=result.prompt_salt,
        melody_source=result.melody_source,
    )


_VERDICTS = {"allow": screening_pb2.VERDICT_ALLOW, "review": screening_pb2.VERDICT_REVIEW,
             "block": screening_pb2.VERDICT_BLOCK}


def decision_message(d: policies.Decision) -> screening_pb2.PolicyDecision:
    return screening_pb2.PolicyDecision(
        decision_id=d.decision_id, bundle_id=d.bundle_id, revision=d.revision, bundle_digest=d.bundle_digest,
        determining_rules=d.determining_rules, reasons=d.reasons, errors=d.errors, effect=d.effect,
    )


_KINDS = {"audio": screening_pb2.MATCH_KIND_AUDIO, "melody": screening_pb2.MATCH_KIND_MELODY}


def _note(note: dict | None) -> screening_pb2.Note | None:
    return screening_pb2.Note(**note) if note else None


def _match_message(m: Evidence) -> screening_pb2.Match:
    return screening_pb2.Match(
        work_id=m.work_id, kind=_KINDS[m.kind], score=m.score,
        false_match_probability=m.false_match_probability,
        query_start_seconds=m.query_start_seconds, query_end_seconds=m.query_end_seconds,
        reference_start_seconds=m.reference_start_seconds, reference_end_seconds=m.reference_end_seconds,
        fingerprint=m.fingerprint, bit_error_rate=m.bit_error_rate, title=m.title, rights_holder=m.rights_holder,
        pitch_shift_semitones=m.pitch_shift_semitones, tempo_ratio=m.tempo_ratio,
        reference_first_bar=m.reference_first_bar, reference_last_bar=m.reference_last_bar,
        note_pairs=[screening_pb2.NotePair(kind=p["kind"], query=_note(p.get("query")),
                                           reference=_note(p.get("reference"))) for p in m.note_pairs],
        repeats=[screening_pb2.ReferenceSpan(start_seconds=a, end_seconds=b) for a, b in m.repeats],
    )


class ProvenanceServicer(provenance_pb2_grpc.ProvenanceServiceServicer):
    def __init__(self, engine: Engine, transparency_log: TransparencyLog) -> None:
        self._engine = engine
        self._log = transparency_log

    def GetRecord(self, request, context):  # noqa: N802
        with _statuses(context):
            row = self._record(request.record_id)
            bundle = self._log.bundle(row)
            leaf = Leaf.decode(bundle.leaf)
            return provenance_pb2.GetRecordResponse(
                record_id=row.record_id, payload=bundle.envelope.payload.decode(), envelope=row.envelope,
                log_index=row.log_index, leaf=bundle.leaf, integrated_at=_timestamp(leaf.integrated_at),
                tree_size=bundle.tree_size, inclusion_proof=list(bundle.inclusion_proof),
                checkpoint=bundle.checkpoint,
            )

    def GetCheckpoint(self, request, context):  # noqa: N802
        with _statuses(context):
            checkpoint, _ = self._log.checkpoint()
            if not 0 <= request.old_size <= checkpoint.size:
                raise InvalidArgument(f"old_size must be between 0 and the log's size {checkpoint.size}")
            update = self._log.checkpoint_update(request.old_size)
            return provenance_pb2.GetCheckpointResponse(
                checkpoint=update.checkpoint, size=checkpoint.size, root=checkpoint.root,
                old_size=update.old_size, consistency_proof=list(update.proof), checkpoint_update=update.to_json(),
            )

    def GetConsistencyProof(self, request, context):  # noqa: N802
        with _statuses(context):
            if not 0 <= request.old_size <= request.new_size <= self._log.size:
                raise InvalidArgument(
                    f"need 0 <= old_size <= new_size <= {self._log.size} (the log's size)"
                )
            return provenance_pb2.GetConsistencyProofResponse(
                hashes=self._log.consistency_proof(request.old_size, request.new_size)
            )

    def GetKeyring(self, request, context):  # noqa: N802
        with _statuses(context):
            return provenance_pb2.GetKeyringResponse(keyring=self._log.keyring().to_json())

    def ExportBundle(self, request, context):  # noqa: N802
        with _statuses(context):
            row = self._record(request.record_id)
            return provenance_pb2.ExportBundleResponse(
                bundle=self._log.bundle(row).to_json(), filename=f"{row.record_id}.guard-bundle.json"
            )

    def _record(self, record_id: str) -> ProvenanceRecordRow:
        with Session(self._engine) as session:
            row = session.get(ProvenanceRecordRow, record_id)
        if row is None:
            raise NotFound(f"no provenance record '{record_id}'")
        return row


class PolicyServicer(policy_pb2_grpc.PolicyServiceServicer):
    def __init__(self, engine: Engine, gate: PolicyGate) -> None:
        self._engine = engine
        self._gate = gate

    def ActivateBundle(self, request, context):  # noqa: N802
        with _statuses(context):
            return bundle_message(self._gate.activate(dict(request.files)))

    def GetActiveBundle(self, request, context):  # noqa: N802
        with _statuses(context):
            return bundle_message(self._gate.active.bundle)

    def GetDecision(self, request, context):  # noqa: N802
        with _statuses(context):
            with Session(self._engine) as session:
                row = session.get(PolicyDecisionRow, request.decision_id)
            if row is None:
                raise NotFound(f"no policy decision '{request.decision_id}'")
            facts = policies.ScreeningFacts.from_dict(row.facts)
            explained = policies.Policy(self._gate.bundle(row.bundle_digest)).explain(facts)
            return policy_pb2.DecisionExplanation(
                decision=decision_message(decision_from_row(row)), screening_id=row.screening_id,
                evaluated_at=_timestamp(row.evaluated_at), facts=json.dumps(row.facts, sort_keys=True),
                rules=[policy_pb2.RuleExplanation(
                    rule_id=r.rule_id, effect=r.effect, held=r.held,
                    conditions=[policy_pb2.ConditionExplanation(condition=c.condition, held=c.held, detail=c.detail)
                                for c in r.conditions],
                ) for r in explained],
            )


def bundle_message(bundle: policies.Bundle) -> policy_pb2.BundleInfo:
    return policy_pb2.BundleInfo(
        bundle_id=bundle.bundle_id, revision=bundle.revision, digest=bundle.digest,
        valid_from=_timestamp(bundle.manifest.valid_from), valid_until=_timestamp(bundle.manifest.valid_until),
        key_id=bundle.key_id, rules=len(bundle.rules),
    )


def _chain(first, rest):
    yield first
    yield from rest


def _encode_page_token(number: int) -> str:
    return base64.urlsafe_b64encode(f"after:{number}".encode()).decode()


def _decode_page_token(token: str) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if not text.startswith("after:"):
            raise ValueError(text)
        return int(text.removeprefix("after:"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument("page_token is not one this server issued") from exc


class DisputeServicer(disputes_pb2_grpc.DisputeServiceServicer):
    def __init__(self, desk: DisputeDesk) -> None:
        self._desk = desk

    def FileNotice(self, request, context):  # noqa: N802
        with _statuses(context):
            n = request.notice
            if n.regime not in ("dmca", "dsa"):
                raise InvalidArgument("notice.regime must be 'dmca' or 'dsa'")
            notice = takedown.Notice(
                regime=n.regime, claimant_name=n.claimant_name, claimant_email=n.claimant_email,
                claimant_address=n.claimant_address, claimant_phone=n.claimant_phone, signature=n.signature,
                work_description=n.work_description, work_id=n.work_id,
                content_locations=tuple(n.content_locations) or (request.screening_id,), explanation=n.explanation,
                good_faith_statement=n.good_faith_statement, accuracy_statement=n.accuracy_statement,
            )
            return self._message(self._desk.file_notice(notice, request.screening_id, _staff()))

    def FileCounterNotice(self, request, context):  # noqa: N802
        with _statuses(context):
            c = request.counter_notice
            counter = takedown.CounterNotice(
                uploader_name=c.uploader_name, uploader_address=c.uploader_address, uploader_phone=c.uploader_phone,
                signature=c.signature, material_identification=c.material_identification,
                mistake_statement=c.mistake_statement, jurisdiction_consent=c.jurisdiction_consent,
            )
            return self._message(self._desk.file_counter_notice(request.case_id, counter, _staff()))

    def Act(self, request, context):  # noqa: N802
        with _statuses(context):
            return self._message(self._desk.act(
                request.case_id, parse_action(request.action), _staff(), reason=request.reason, basis=request.basis,
                evidence_sha256=tuple(request.evidence_sha256)))

    def GetCase(self, request, context):  # noqa: N802
        with _statuses(context):
            return self._message(self._desk.get(request.case_id))

    def ListCases(self, request, context):  # noqa: N802
        with _statuses(context):
            rows = self._desk.list(state=request.state, work_id=request.work_id, claimant=request.claimant,
                                   due_before=_date(request.due_before, "due_before"))
            return disputes_pb2.ListCasesResponse(cases=[self._message(self._desk.get(r.case_id)) for r in rows])

    def ListDue(self, request, context):  # noqa: N802
        with _statuses(context):
            until = _date(request.until, "until") or dt.date.max
            rows = self._desk.list(due_before=until)
            return disputes_pb2.ListCasesResponse(cases=[self._message(self._desk.get(r.case_id)) for r in rows])

    def GetReport(self, request, context):  # noqa: N802
        with _statuses(context):
            report = self._desk.report(request.case_id)
            return disputes_pb2.Report(case_id=request.case_id, html=render_html(report), json=render_json(report))

    def ExportHistory(self, request, context):  # noqa: N802
        with _statuses(context):
            return disputes_pb2.History(case_id=request.case_id, bundle=self._desk.history(request.case_id).to_json())

    def ExportStatements(self, request, context):  # noqa: N802
        with _statuses(context):
            scope = list(request.territorial_scope) or list(EU_MEMBER_STATES)
            lines = [json.dumps(s, sort_keys=True) for s in self._desk.statements(scope)]
            return disputes_pb2.ExportStatementsResponse(statements="\n".join(lines) + ("\n" if lines else ""))

    def _message(self, view: CaseView) -> disputes_pb2.Case:
        case = view.case
        item = takedown.due(case, dt.date.min)
        n = case.notice
        return disputes_pb2.Case(
            case_id=case.case_id, state=case.state.value, origin=view.origin,
            notice=disputes_pb2.Notice(
                regime=n.regime, claimant_name=n.claimant_name, claimant_email=n.claimant_email,
                claimant_address=n.claimant_address, claimant_phone=n.claimant_phone, signature=n.signature,
                work_description=n.work_description, work_id=n.work_id, content_locations=n.content_locations,
                explanation=n.explanation, good_faith_statement=n.good_faith_statement,
                accuracy_statement=n.accuracy_statement),
            track_id=case.track_id, uploader=case.uploader, work_id=view.work_id,
            opened_at=_timestamp(case.opened_at),
            due_action=item.action.value if item else "", due_on=item.due_on.isoformat() if item else "",
            respond_by=_day(case.respond_by), restore_not_before=_day(case.restore_not_before),
            restore_not_after=_day(case.restore_not_after), complaint_until=_timestamp(case.complaint_until),
            statement_of_reasons=case.statement_of_reasons, close_reason=case.close_reason,
            missing_elements=view.missing_elements,
            events=[_event_message(e) for e in view.events], evidence=json.dumps(view.evidence),
            uploader_is_repeat_infringer=self._desk.repeat_infringer(case.uploader),
        )


EU_MEMBER_STATES = ("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
                    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE")


def _staff() -> takedown.Actor:
    principal = current_principal()
    return takedown.Actor("staff", principal.name, principal.role)


def _event_message(row) -> disputes_pb2.CaseEvent:
    event = json.loads(row.payload)
    return disputes_pb2.CaseEvent(
        sequence=row.sequence, action=event["action"], from_state=event["from"], to_state=event["to"],
        actor_kind=event["actor"]["kind"], actor_id=event["actor"]["id"], actor_role=event["actor"]["role"],
        basis=event["basis"], reason=event["reason"], at=_timestamp(row.at), hash=row.hash,
        previous_hash=event["previous_hash"], log_index=row.log_index,
    )


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _date(text: str, field: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"{field} must be a date such as 2026-12-31") from None
