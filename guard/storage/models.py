"""Tables. The schema is owned by the Alembic migrations; these models must agree with them (a test checks)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    String,
    TypeDecorator,
)
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; pass UTC-aware times")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def _utc(nullable: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


class WorkRow(SQLModel, table=True):
    __tablename__ = "work"

    number: int | None = Field(default=None, primary_key=True)
    work_id: str = Field(sa_column=Column(String(128), unique=True, nullable=False))
    title: str
    rights_holder: str
    isrc: str = ""
    iswc: str = ""
    extra: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    flags: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    """Rights-holder flags policies can test, e.g. no_ai_use."""
    recording_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    """Empty for a work registered from a melody file alone."""
    recording_seconds: float
    melody_sha256: str = Field(default="", sa_column=Column(String(64), nullable=False, server_default=""))
    """SHA-256 of the registered melody file; empty when the tune comes from the recording (or there is none)."""
    melody_source: str = Field(default="", sa_column=Column(String(512), nullable=False, server_default=""))
    melody_notes: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    state: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    registered_at: dt.datetime = _utc()
    retired_at: dt.datetime | None = _utc(nullable=True)
    retired_reason: str = ""


class WorkFingerprintRow(SQLModel, table=True):
    """Raw sub-fingerprints of a work's recording: the source the FAISS index is rebuilt from."""

    __tablename__ = "work_fingerprint"

    work_number: int = Field(foreign_key="work.number", primary_key=True)
    algorithm: str = Field(default="chromaprint", primary_key=True, max_length=32)
    codes: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ScreeningRow(SQLModel, table=True):
    __tablename__ = "screening"

    id: str = Field(primary_key=True, max_length=64)
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(128), unique=True, nullable=True))
    audio_sha256: str = Field(max_length=64)
    duration_seconds: float
    model_id: str
    model_version: str
    consent_reference: str
    pipeline_id: str
    prompt_ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    """nonce || AES-GCM(salt (16 bytes) || UTF-8 prompt), bound to the screening id."""
    verdict: str = Field(max_length=16)
    matches: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    timings: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    screened_at: dt.datetime = _utc()
    melody_source: str = Field(default="", sa_column=Column(String(512), nullable=False, server_default=""))


class ScreeningFingerprintRow(SQLModel, table=True):
    """Kept so tracks already cleared can be re-checked when new works arrive."""

    __tablename__ = "screening_fingerprint"

    screening_id: str = Field(foreign_key="screening.id", primary_key=True, max_length=64)
    algorithm: str = Field(default="chromaprint", primary_key=True, max_length=32)
    codes: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ProvenanceRecordRow(SQLModel, table=True):
    """A signed record: the DSSE envelope exactly as signed. Append-only (database triggers)."""

    __tablename__ = "provenance_record"

    record_id: str = Field(primary_key=True, max_length=64)
    screening_id: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    envelope: str
    key_id: str = Field(max_length=64)
    log_index: int = Field(sa_column=Column(Integer, unique=True, nullable=False))


class LogEntryRow(SQLModel, table=True):
    """One leaf of the transparency log. Append-only (database triggers)."""

    __tablename__ = "log_entry"

    index: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    kind: str = Field(max_length=32)
    subject: str = Field(max_length=64, index=True)
    leaf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    integrated_at: dt.datetime = _utc()


class CheckpointRow(SQLModel, table=True):
    """Every checkpoint the log signed. Append-only (database triggers)."""

    __tablename__ = "checkpoint"

    size: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str
    signed_at: dt.datetime = _utc()


class PolicyBundleRow(SQLModel, table=True):
    """Every bundle ever activated, with its files; the newest activation is the one in force."""

    __tablename__ = "policy_bundle"

    digest: str = Field(primary_key=True, max_length=64)
    bundle_id: str = Field(max_length=64)
    revision: int
    key_id: str = Field(max_length=64)
    files: dict = Field(sa_column=Column(JSON, nullable=False))
    activated_at: dt.datetime = _utc()


class PolicyDecisionRow(SQLModel, table=True):
    """A decision and the exact facts it was made on, so it can be explained and replayed."""

    __tablename__ = "policy_decision"

    decision_id: str = Field(primary_key=True, max_length=64)
    screening_id: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    bundle_id: str = Field(max_length=64)
    revision: int
    bundle_digest: str = Field(max_length=64)
    facts: dict = Field(sa_column=Column(JSON, nullable=False))
    input_sha256: str = Field(max_length=64)
    effect: str = Field(max_length=16)
    determining_rules: list = Field(sa_column=Column(JSON, nullable=False))
    reasons: list = Field(sa_column=Column(JSON, nullable=False))
    errors: list = Field(sa_column=Column(JSON, nullable=False))
    evaluated_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class DisputeCaseRow(SQLModel, table=True):
    """A dispute case: indexed columns for the legal team's filters, and the full snapshot."""

    __tablename__ = "dispute_case"

    case_id: str = Field(primary_key=True, max_length=64)
    state: str = Field(max_length=32, index=True)
    origin: str = Field(max_length=16)
    """'notice' (a rights holder's notice) or 'retroactive' (a newly registered work matched a cleared track)."""
    regime: str = Field(max_length=8)
    work_id: str = Field(max_length=128, index=True)
    claimant: str = Field(max_length=256, index=True)
    track_id: str = Field(max_length=64, index=True)
    uploader: str = Field(max_length=256)
    due_on: dt.date | None = Field(default=None, index=True)
    due_action: str = Field(default="", max_length=32)
    snapshot: dict = Field(sa_column=Column(JSON, nullable=False))
    evidence: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    opened_at: dt.datetime = _utc()
    updated_at: dt.datetime = _utc()


class DisputeEventRow(SQLModel, table=True):
    """One transition of a case, hash-chained and logged. Append-only (database triggers)."""

    __tablename__ = "dispute_event"

    case_id: str = Field(primary_key=True, max_length=64)
    sequence: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    hash: str = Field(max_length=64)
    log_index: int = Field(sa_column=Column(Integer, unique=True, nullable=False))
    at: dt.datetime = _utc()


class StrikeRow(SQLModel, table=True):
    __tablename__ = "strike"

    case_id: str = Field(primary_key=True, max_length=64)
    uploader: str = Field(max_length=256, index=True)
    at: dt.datetime = _utc()
    expires_at: dt.datetime = _utc()


class RetroactiveScanRow(SQLModel, table=True):
    """Progress of re-checking cleared tracks against a newly registered work."""

    __tablename__ = "retroactive_scan"

    work_id: str = Field(primary_key=True, max_length=128)
    state: str = Field(max_length=16)
    total: int = 0
    checked: int = 0
    cases_opened: int = 0
    started_at: dt.datetime = _utc()
    finished_at: dt.datetime | None = _utc(nullable=True)
