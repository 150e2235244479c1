import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from guard.v1 import catalog_pb2 as _catalog_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_ALLOW: _ClassVar[Verdict]
    VERDICT_REVIEW: _ClassVar[Verdict]
    VERDICT_BLOCK: _ClassVar[Verdict]

class MatchKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MATCH_KIND_UNSPECIFIED: _ClassVar[MatchKind]
    MATCH_KIND_AUDIO: _ClassVar[MatchKind]
    MATCH_KIND_MELODY: _ClassVar[MatchKind]
VERDICT_UNSPECIFIED: Verdict
VERDICT_ALLOW: Verdict
VERDICT_REVIEW: Verdict
VERDICT_BLOCK: Verdict
MATCH_KIND_UNSPECIFIED: MatchKind
MATCH_KIND_AUDIO: MatchKind
MATCH_KIND_MELODY: MatchKind

class Generation(_message.Message):
    __slots__ = ("prompt", "model_id", "model_version", "consent_reference", "pipeline_id", "consent_scope", "consent_granted_at", "commercial_use", "territory")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONSENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENT_SCOPE_FIELD_NUMBER: _ClassVar[int]
    CONSENT_GRANTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMMERCIAL_USE_FIELD_NUMBER: _ClassVar[int]
    TERRITORY_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    model_id: str
    model_version: str
    consent_reference: str
    pipeline_id: str
    consent_scope: str
    consent_granted_at: _timestamp_pb2.Timestamp
    commercial_use: bool
    territory: str
    def __init__(self, prompt: _Optional[str] = ..., model_id: _Optional[str] = ..., model_version: _Optional[str] = ..., consent_reference: _Optional[str] = ..., pipeline_id: _Optional[str] = ..., consent_scope: _Optional[str] = ..., consent_granted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., commercial_use: _Optional[bool] = ..., territory: _Optional[str] = ...) -> None: ...

class ScreenRequest(_message.Message):
    __slots__ = ("audio", "generation", "idempotency_key", "melody")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MELODY_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    generation: Generation
    idempotency_key: str
    melody: _catalog_pb2.MelodyFile
    def __init__(self, audio: _Optional[bytes] = ..., generation: _Optional[_Union[Generation, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., melody: _Optional[_Union[_catalog_pb2.MelodyFile, _Mapping]] = ...) -> None: ...

class ScreenStreamRequest(_message.Message):
    __slots__ = ("generation", "idempotency_key", "audio_chunk", "melody")
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CHUNK_FIELD_NUMBER: _ClassVar[int]
    MELODY_FIELD_NUMBER: _ClassVar[int]
    generation: Generation
    idempotency_key: str
    audio_chunk: bytes
    melody: _catalog_pb2.MelodyFile
    def __init__(self, generation: _Optional[_Union[Generation, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., audio_chunk: _Optional[bytes] = ..., melody: _Optional[_Union[_catalog_pb2.MelodyFile, _Mapping]] = ...) -> None: ...

class PolicyDecision(_message.Message):
    __slots__ = ("decision_id", "bundle_id", "revision", "bundle_digest", "determining_rules", "reasons", "errors", "effect")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    DETERMINING_RULES_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    bundle_id: str
    revision: int
    bundle_digest: str
    determining_rules: _containers.RepeatedScalarFieldContainer[str]
    reasons: _containers.RepeatedScalarFieldContainer[str]
    errors: _containers.RepeatedScalarFieldContainer[str]
    effect: str
    def __init__(self, decision_id: _Optional[str] = ..., bundle_id: _Optional[str] = ..., revision: _Optional[int] = ..., bundle_digest: _Optional[str] = ..., determining_rules: _Optional[_Iterable[str]] = ..., reasons: _Optional[_Iterable[str]] = ..., errors: _Optional[_Iterable[str]] = ..., effect: _Optional[str] = ...) -> None: ...

class Match(_message.Message):
    __slots__ = ("work_id", "kind", "score", "false_match_probability", "query_start_seconds", "query_end_seconds", "reference_start_seconds", "reference_end_seconds", "fingerprint", "bit_error_rate", "title", "rights_holder", "pitch_shift_semitones", "tempo_ratio", "reference_first_bar", "reference_last_bar", "note_pairs", "repeats")
    WORK_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FALSE_MATCH_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    QUERY_START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    QUERY_END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    BIT_ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    RIGHTS_HOLDER_FIELD_NUMBER: _ClassVar[int]
    PITCH_SHIFT_SEMITONES_FIELD_NUMBER: _ClassVar[int]
    TEMPO_RATIO_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIRST_BAR_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_LAST_BAR_FIELD_NUMBER: _ClassVar[int]
    NOTE_PAIRS_FIELD_NUMBER: _ClassVar[int]
    REPEATS_FIELD_NUMBER: _ClassVar[int]
    work_id: str
    kind: MatchKind
    score: float
    false_match_probability: float
    query_start_seconds: float
    query_end_seconds: float
    reference_start_seconds: float
    reference_end_seconds: float
    fingerprint: str
    bit_error_rate: float
    title: str
    rights_holder: str
    pitch_shift_semitones: float
    tempo_ratio: float
    reference_first_bar: int
    reference_last_bar: int
    note_pairs: _containers.RepeatedCompositeFieldContainer[NotePair]
    repeats: _containers.RepeatedCompositeFieldContainer[ReferenceSpan]
    def __init__(self, work_id: _Optional[str] = ..., kind: _Optional[_Union[MatchKind, str]] = ..., score: _Optional[float] = ..., false_match_probability: _Optional[float] = ..., query_start_seconds: _Optional[float] = ..., query_end_seconds: _Optional[float] = ..., reference_start_seconds: _Optional[float] = ..., reference_end_seconds: _Optional[float] = ..., fingerprint: _Optional[str] = ..., bit_error_rate: _Optional[float] = ..., title: _Optional[str] = ..., rights_holder: _Optional[str] = ..., pitch_shift_semitones: _Optional[float] = ..., tempo_ratio: _Optional[float] = ..., reference_first_bar: _Optional[int] = ..., reference_last_bar: _Optional[int] = ..., note_pairs: _Optional[_Iterable[_Union[NotePair, _Mapping]]] = ..., repeats: _Optional[_Iterable[_Union[ReferenceSpan, _Mapping]]] = ...) -> None: ...

class ReferenceSpan(_message.Message):
    __slots__ = ("start_seconds", "end_seconds")
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    start_seconds: float
    end_seconds: float
    def __init__(self, start_seconds: _Optional[float] = ..., end_seconds: _Optional[float] = ...) -> None: ...

class Note(_message.Message):
    __slots__ = ("onset_seconds", "pitch", "bar")
    ONSET_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PITCH_FIELD_NUMBER: _ClassVar[int]
    BAR_FIELD_NUMBER: _ClassVar[int]
    onset_seconds: float
    pitch: float
    bar: int
    def __init__(self, onset_seconds: _Optional[float] = ..., pitch: _Optional[float] = ..., bar: _Optional[int] = ...) -> None: ...

class NotePair(_message.Message):
    __slots__ = ("kind", "query", "reference")
    KIND_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    query: Note
    reference: Note
    def __init__(self, kind: _Optional[str] = ..., query: _Optional[_Union[Note, _Mapping]] = ..., reference: _Optional[_Union[Note, _Mapping]] = ...) -> None: ...

class StageTiming(_message.Message):
    __slots__ = ("stage", "milliseconds")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    MILLISECONDS_FIELD_NUMBER: _ClassVar[int]
    stage: str
    milliseconds: float
    def __init__(self, stage: _Optional[str] = ..., milliseconds: _Optional[float] = ...) -> None: ...

class ScreenResponse(_message.Message):
    __slots__ = ("screening_id", "verdict", "matches", "timings", "duration_seconds", "audio_sha256", "screened_at", "replayed", "record_id", "log_index", "prompt_salt", "decision", "melody_source")
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SHA256_FIELD_NUMBER: _ClassVar[int]
    SCREENED_AT_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    PROMPT_SALT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    MELODY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    screening_id: str
    verdict: Verdict
    matches: _containers.RepeatedCompositeFieldContainer[Match]
    timings: _containers.RepeatedCompositeFieldContainer[StageTiming]
    duration_seconds: float
    audio_sha256: str
    screened_at: _timestamp_pb2.Timestamp
    replayed: bool
    record_id: str
    log_index: int
    prompt_salt: bytes
    decision: PolicyDecision
    melody_source: str
    def __init__(self, screening_id: _Optional[str] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., matches: _Optional[_Iterable[_Union[Match, _Mapping]]] = ..., timings: _Optional[_Iterable[_Union[StageTiming, _Mapping]]] = ..., duration_seconds: _Optional[float] = ..., audio_sha256: _Optional[str] = ..., screened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., replayed: _Optional[bool] = ..., record_id: _Optional[str] = ..., log_index: _Optional[int] = ..., prompt_salt: _Optional[bytes] = ..., decision: _Optional[_Union[PolicyDecision, _Mapping]] = ..., melody_source: _Optional[str] = ...) -> None: ...
