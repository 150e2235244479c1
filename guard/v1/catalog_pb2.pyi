import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WorkState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORK_STATE_UNSPECIFIED: _ClassVar[WorkState]
    WORK_STATE_ACTIVE: _ClassVar[WorkState]
    WORK_STATE_RETIRED: _ClassVar[WorkState]
WORK_STATE_UNSPECIFIED: WorkState
WORK_STATE_ACTIVE: WorkState
WORK_STATE_RETIRED: WorkState

class WorkDetails(_message.Message):
    __slots__ = ("work_id", "title", "rights_holder", "isrc", "iswc", "metadata", "rights_holder_flags")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORK_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    RIGHTS_HOLDER_FIELD_NUMBER: _ClassVar[int]
    ISRC_FIELD_NUMBER: _ClassVar[int]
    ISWC_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    RIGHTS_HOLDER_FLAGS_FIELD_NUMBER: _ClassVar[int]
    work_id: str
    title: str
    rights_holder: str
    isrc: str
    iswc: str
    metadata: _containers.ScalarMap[str, str]
    rights_holder_flags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, work_id: _Optional[str] = ..., title: _Optional[str] = ..., rights_holder: _Optional[str] = ..., isrc: _Optional[str] = ..., iswc: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., rights_holder_flags: _Optional[_Iterable[str]] = ...) -> None: ...

class Work(_message.Message):
    __slots__ = ("details", "state", "recording_seconds", "recording_sha256", "registered_at", "retired_at", "retired_reason", "retroactive_scan", "melody_sha256", "melody_source", "melody_notes")
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RECORDING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RECORDING_SHA256_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    RETIRED_AT_FIELD_NUMBER: _ClassVar[int]
    RETIRED_REASON_FIELD_NUMBER: _ClassVar[int]
    RETROACTIVE_SCAN_FIELD_NUMBER: _ClassVar[int]
    MELODY_SHA256_FIELD_NUMBER: _ClassVar[int]
    MELODY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    MELODY_NOTES_FIELD_NUMBER: _ClassVar[int]
    details: WorkDetails
    state: WorkState
    recording_seconds: float
    recording_sha256: str
    registered_at: _timestamp_pb2.Timestamp
    retired_at: _timestamp_pb2.Timestamp
    retired_reason: str
    retroactive_scan: RetroactiveScan
    melody_sha256: str
    melody_source: str
    melody_notes: int
    def __init__(self, details: _Optional[_Union[WorkDetails, _Mapping]] = ..., state: _Optional[_Union[WorkState, str]] = ..., recording_seconds: _Optional[float] = ..., recording_sha256: _Optional[str] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retired_reason: _Optional[str] = ..., retroactive_scan: _Optional[_Union[RetroactiveScan, _Mapping]] = ..., melody_sha256: _Optional[str] = ..., melody_source: _Optional[str] = ..., melody_notes: _Optional[int] = ...) -> None: ...

class RetroactiveScan(_message.Message):
    __slots__ = ("state", "total", "checked", "cases_opened")
    STATE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    CASES_OPENED_FIELD_NUMBER: _ClassVar[int]
    state: str
    total: int
    checked: int
    cases_opened: int
    def __init__(self, state: _Optional[str] = ..., total: _Optional[int] = ..., checked: _Optional[int] = ..., cases_opened: _Optional[int] = ...) -> None: ...

class RegisterWorkRequest(_message.Message):
    __slots__ = ("work", "recording_chunk", "melody")
    WORK_FIELD_NUMBER: _ClassVar[int]
    RECORDING_CHUNK_FIELD_NUMBER: _ClassVar[int]
    MELODY_FIELD_NUMBER: _ClassVar[int]
    work: WorkDetails
    recording_chunk: bytes
    melody: MelodyFile
    def __init__(self, work: _Optional[_Union[WorkDetails, _Mapping]] = ..., recording_chunk: _Optional[bytes] = ..., melody: _Optional[_Union[MelodyFile, _Mapping]] = ...) -> None: ...

class MelodyFile(_message.Message):
    __slots__ = ("content", "filename")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    filename: str
    def __init__(self, content: _Optional[bytes] = ..., filename: _Optional[str] = ...) -> None: ...

class RegisterWorkResponse(_message.Message):
    __slots__ = ("work", "created")
    WORK_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    work: Work
    created: bool
    def __init__(self, work: _Optional[_Union[Work, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetWorkRequest(_message.Message):
    __slots__ = ("work_id",)
    WORK_ID_FIELD_NUMBER: _ClassVar[int]
    work_id: str
    def __init__(self, work_id: _Optional[str] = ...) -> None: ...

class ListWorksRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "include_retired")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_RETIRED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    include_retired: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_retired: _Optional[bool] = ...) -> None: ...

class ListWorksResponse(_message.Message):
    __slots__ = ("works", "next_page_token")
    WORKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    works: _containers.RepeatedCompositeFieldContainer[Work]
    next_page_token: str
    def __init__(self, works: _Optional[_Iterable[_Union[Work, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RetireWorkRequest(_message.Message):
    __slots__ = ("work_id", "reason")
    WORK_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    work_id: str
    reason: str
    def __init__(self, work_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
