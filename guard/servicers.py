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
from guard.catalog import ACTIVE, Catalog, WorkDetails
from guard.config import Limits
from guard.errors import GuardError, InvalidArgument, NotFound, ResourceExhausted
from guard.observability import Metrics
from guard.screening import Evidence, Generation, Screener, Screening, decision_from_row
from guard.policy import PolicyGate
from guard.provenance.bundle import Leaf
from guard.provenance.log import TransparencyLog
from guard.storage.models import PolicyDecisionRow, ProvenanceRecordRow, WorkRow
from guard.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
    provenance_pb2,
    provenance_pb2_grpc,
    screening_pb2,
    screening_pb2_grpc,
)

_DEFAULT_PAGE = 100
_MAX_PAGE = 1000


@contextmanager
def _statuses(context: grpc.ServicerContext) -> Iterator[None]:
    try:
        yield
    except GuardError as exc:
        context.abort(exc.status, str(exc))
    except fingerprints.AudioLimitExceeded as exc:
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
    except fingerprints.InvalidAudio as exc:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))


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


def work_message(row: WorkRow) -> catalog_pb2.Work:
    return catalog_pb2.Work(
        details=catalog_pb2.WorkDetails(
            work_id=row.work_id, title=row.title, rights_holder=row.rights_holder,
            isrc=row.isrc, iswc=row.iswc, metadata=row.extra, rights_holder_flags=row.flags,
        ),
        state=catalog_pb2.WORK_STATE_ACTIVE if row.state == ACTIVE else catalog_pb2.WORK_STATE_RETIRED,
        recording_seconds=row.recording_seconds,
        recording_sha256=row.recording_sha256,
        registered_at=_timestamp(row.registered_at),
        retired_at=_timestamp(row.retired_at),
        retired_reason=row.retired_reason,
    )


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, catalog: Catalog, limits: Limits) -> None:
        self._catalog = catalog
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
            row, created = self._catalog.register(details, recording)
            return catalog_pb2.RegisterWorkResponse(work=work_message(row), created=created)

    def GetWork(self, request, context):  # noqa: N802
        with _statuses(context):
            return work_message(self._catalog.get(request.work_id))

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
            return self._screen(request.audio, request.generation, request.idempotency_key)

    def ScreenStream(self, request_iterator, context):  # noqa: N802
        with _statuses(context):
            first = next(request_iterator, None)
            if first is None:
                raise InvalidArgument("ScreenStream received no messages")
            chunks = (m.audio_chunk for m in _chain(first, request_iterator))
            audio = _receive_upload(chunks, self._limits.max_upload_bytes)
            return self._screen(audio, first.generation, first.idempotency_key)

    def _screen(self, audio: bytes, generation: screening_pb2.Generation, key: str) -> screening_pb2.ScreenResponse:
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
    )


_VERDICTS = {"allow": screening_pb2.VERDICT_ALLOW, "review": screening_pb2.VERDICT_REVIEW,
             "block": screening_pb2.VERDICT_BLOCK}


def decision_message(d: policies.Decision) -> screening_pb2.PolicyDecision:
    return screening_pb2.PolicyDecision(
        decision_id=d.decision_id, bundle_id=d.bundle_id, revision=d.revision, bundle_digest=d.bundle_digest,
        determining_rules=d.determining_rules, reasons=d.reasons, errors=d.errors, effect=d.effect,
    )


def _match_message(m: Evidence) -> screening_pb2.Match:
    return screening_pb2.Match(
        work_id=m.work_id, kind=screening_pb2.MATCH_KIND_AUDIO, score=m.score,
        false_match_probability=m.false_match_probability,
        query_start_seconds=m.query_start_seconds, query_end_seconds=m.query_end_seconds,
        reference_start_seconds=m.reference_start_seconds, reference_end_seconds=m.reference_end_seconds,
        fingerprint=m.fingerprint, bit_error_rate=m.bit_error_rate, title=m.title, rights_holder=m.rights_holder,
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
