import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Report(_message.Message):
    __slots__ = ("case_id", "html", "json")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    HTML_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    html: str
    json: str
    def __init__(self, case_id: _Optional[str] = ..., html: _Optional[str] = ..., json: _Optional[str] = ...) -> None: ...

class History(_message.Message):
    __slots__ = ("case_id", "bundle")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    bundle: str
    def __init__(self, case_id: _Optional[str] = ..., bundle: _Optional[str] = ...) -> None: ...

class ExportStatementsRequest(_message.Message):
    __slots__ = ("territorial_scope",)
    TERRITORIAL_SCOPE_FIELD_NUMBER: _ClassVar[int]
    territorial_scope: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, territorial_scope: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportStatementsResponse(_message.Message):
    __slots__ = ("statements",)
    STATEMENTS_FIELD_NUMBER: _ClassVar[int]
    statements: str
    def __init__(self, statements: _Optional[str] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("regime", "claimant_name", "claimant_email", "claimant_address", "claimant_phone", "signature", "work_description", "work_id", "content_locations", "explanation", "good_faith_statement", "accuracy_statement")
    REGIME_FIELD_NUMBER: _ClassVar[int]
    CLAIMANT_NAME_FIELD_NUMBER: _ClassVar[int]
    CLAIMANT_EMAIL_FIELD_NUMBER: _ClassVar[int]
    CLAIMANT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CLAIMANT_PHONE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    WORK_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    WORK_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_LOCATIONS_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    GOOD_FAITH_STATEMENT_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_STATEMENT_FIELD_NUMBER: _ClassVar[int]
    regime: str
    claimant_name: str
    claimant_email: str
    claimant_address: str
    claimant_phone: str
    signature: str
    work_description: str
    work_id: str
    content_locations: _containers.RepeatedScalarFieldContainer[str]
    explanation: str
    good_faith_statement: bool
    accuracy_statement: bool
    def __init__(self, regime: _Optional[str] = ..., claimant_name: _Optional[str] = ..., claimant_email: _Optional[str] = ..., claimant_address: _Optional[str] = ..., claimant_phone: _Optional[str] = ..., signature: _Optional[str] = ..., work_description: _Optional[str] = ..., work_id: _Optional[str] = ..., content_locations: _Optional[_Iterable[str]] = ..., explanation: _Optional[str] = ..., good_faith_statement: _Optional[bool] = ..., accuracy_statement: _Optional[bool] = ...) -> None: ...

class CounterNotice(_message.Message):
    __slots__ = ("uploader_name", "uploader_address", "uploader_phone", "signature", "material_identification", "mistake_statement", "jurisdiction_consent")
    UPLOADER_NAME_FIELD_NUMBER: _ClassVar[int]
    UPLOADER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    UPLOADER_PHONE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    MATERIAL_IDENTIFICATION_FIELD_NUMBER: _ClassVar[int]
    MISTAKE_STATEMENT_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_CONSENT_FIELD_NUMBER: _ClassVar[int]
    uploader_name: str
    uploader_address: str
    uploader_phone: str
    signature: str
    material_identification: str
    mistake_statement: bool
    jurisdiction_consent: bool
    def __init__(self, uploader_name: _Optional[str] = ..., uploader_address: _Optional[str] = ..., uploader_phone: _Optional[str] = ..., signature: _Optional[str] = ..., material_identification: _Optional[str] = ..., mistake_statement: _Optional[bool] = ..., jurisdiction_consent: _Optional[bool] = ...) -> None: ...

class FileNoticeRequest(_message.Message):
    __slots__ = ("notice", "screening_id")
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    notice: Notice
    screening_id: str
    def __init__(self, notice: _Optional[_Union[Notice, _Mapping]] = ..., screening_id: _Optional[str] = ...) -> None: ...

class FileCounterNoticeRequest(_message.Message):
    __slots__ = ("case_id", "counter_notice")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTER_NOTICE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    counter_notice: CounterNotice
    def __init__(self, case_id: _Optional[str] = ..., counter_notice: _Optional[_Union[CounterNotice, _Mapping]] = ...) -> None: ...

class ActRequest(_message.Message):
    __slots__ = ("case_id", "action", "reason", "basis", "evidence_sha256")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_SHA256_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    action: str
    reason: str
    basis: str
    evidence_sha256: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, case_id: _Optional[str] = ..., action: _Optional[str] = ..., reason: _Optional[str] = ..., basis: _Optional[str] = ..., evidence_sha256: _Optional[_Iterable[str]] = ...) -> None: ...

class GetCaseRequest(_message.Message):
    __slots__ = ("case_id",)
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    def __init__(self, case_id: _Optional[str] = ...) -> None: ...

class ListCasesRequest(_message.Message):
    __slots__ = ("state", "work_id", "claimant", "due_before")
    STATE_FIELD_NUMBER: _ClassVar[int]
    WORK_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIMANT_FIELD_NUMBER: _ClassVar[int]
    DUE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    state: str
    work_id: str
    claimant: str
    due_before: str
    def __init__(self, state: _Optional[str] = ..., work_id: _Optional[str] = ..., claimant: _Optional[str] = ..., due_before: _Optional[str] = ...) -> None: ...

class ListDueRequest(_message.Message):
    __slots__ = ("until",)
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    until: str
    def __init__(self, until: _Optional[str] = ...) -> None: ...

class CaseEvent(_message.Message):
    __slots__ = ("sequence", "action", "from_state", "to_state", "actor_kind", "actor_id", "actor_role", "basis", "reason", "at", "hash", "previous_hash", "log_index")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_KIND_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ROLE_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_HASH_FIELD_NUMBER: _ClassVar[int]
    LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    action: str
    from_state: str
    to_state: str
    actor_kind: str
    actor_id: str
    actor_role: str
    basis: str
    reason: str
    at: _timestamp_pb2.Timestamp
    hash: str
    previous_hash: str
    log_index: int
    def __init__(self, sequence: _Optional[int] = ..., action: _Optional[str] = ..., from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., actor_kind: _Optional[str] = ..., actor_id: _Optional[str] = ..., actor_role: _Optional[str] = ..., basis: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hash: _Optional[str] = ..., previous_hash: _Optional[str] = ..., log_index: _Optional[int] = ...) -> None: ...

class Case(_message.Message):
    __slots__ = ("case_id", "state", "origin", "notice", "track_id", "uploader", "work_id", "opened_at", "due_action", "due_on", "respond_by", "restore_not_before", "restore_not_after", "complaint_until", "statement_of_reasons", "close_reason", "missing_elements", "events", "evidence", "uploader_is_repeat_infringer")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    UPLOADER_FIELD_NUMBER: _ClassVar[int]
    WORK_ID_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    DUE_ACTION_FIELD_NUMBER: _ClassVar[int]
    DUE_ON_FIELD_NUMBER: _ClassVar[int]
    RESPOND_BY_FIELD_NUMBER: _ClassVar[int]
    RESTORE_NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    RESTORE_NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    COMPLAINT_UNTIL_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_OF_REASONS_FIELD_NUMBER: _ClassVar[int]
    CLOSE_REASON_FIELD_NUMBER: _ClassVar[int]
    MISSING_ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    UPLOADER_IS_REPEAT_INFRINGER_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    state: str
    origin: str
    notice: Notice
    track_id: str
    uploader: str
    work_id: str
    opened_at: _timestamp_pb2.Timestamp
    due_action: str
    due_on: str
    respond_by: str
    restore_not_before: str
    restore_not_after: str
    complaint_until: _timestamp_pb2.Timestamp
    statement_of_reasons: str
    close_reason: str
    missing_elements: _containers.RepeatedScalarFieldContainer[str]
    events: _containers.RepeatedCompositeFieldContainer[CaseEvent]
    evidence: str
    uploader_is_repeat_infringer: bool
    def __init__(self, case_id: _Optional[str] = ..., state: _Optional[str] = ..., origin: _Optional[str] = ..., notice: _Optional[_Union[Notice, _Mapping]] = ..., track_id: _Optional[str] = ..., uploader: _Optional[str] = ..., work_id: _Optional[str] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., due_action: _Optional[str] = ..., due_on: _Optional[str] = ..., respond_by: _Optional[str] = ..., restore_not_before: _Optional[str] = ..., restore_not_after: _Optional[str] = ..., complaint_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., statement_of_reasons: _Optional[str] = ..., close_reason: _Optional[str] = ..., missing_elements: _Optional[_Iterable[str]] = ..., events: _Optional[_Iterable[_Union[CaseEvent, _Mapping]]] = ..., evidence: _Optional[str] = ..., uploader_is_repeat_infringer: _Optional[bool] = ...) -> None: ...

class ListCasesResponse(_message.Message):
    __slots__ = ("cases",)
    CASES_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[Case]
    def __init__(self, cases: _Optional[_Iterable[_Union[Case, _Mapping]]] = ...) -> None: ...
