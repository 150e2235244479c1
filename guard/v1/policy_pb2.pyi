import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from guard.v1 import screening_pb2 as _screening_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActivateBundleRequest(_message.Message):
    __slots__ = ("files",)
    class FilesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.ScalarMap[str, bytes]
    def __init__(self, files: _Optional[_Mapping[str, bytes]] = ...) -> None: ...

class BundleInfo(_message.Message):
    __slots__ = ("bundle_id", "revision", "digest", "valid_from", "valid_until", "key_id", "rules")
    BUNDLE_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    bundle_id: str
    revision: int
    digest: str
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    key_id: str
    rules: int
    def __init__(self, bundle_id: _Optional[str] = ..., revision: _Optional[int] = ..., digest: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., key_id: _Optional[str] = ..., rules: _Optional[int] = ...) -> None: ...

class GetActiveBundleRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDecisionRequest(_message.Message):
    __slots__ = ("decision_id",)
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    def __init__(self, decision_id: _Optional[str] = ...) -> None: ...

class ConditionExplanation(_message.Message):
    __slots__ = ("condition", "held", "detail")
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    condition: str
    held: bool
    detail: str
    def __init__(self, condition: _Optional[str] = ..., held: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class RuleExplanation(_message.Message):
    __slots__ = ("rule_id", "effect", "held", "conditions")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    effect: str
    held: bool
    conditions: _containers.RepeatedCompositeFieldContainer[ConditionExplanation]
    def __init__(self, rule_id: _Optional[str] = ..., effect: _Optional[str] = ..., held: _Optional[bool] = ..., conditions: _Optional[_Iterable[_Union[ConditionExplanation, _Mapping]]] = ...) -> None: ...

class DecisionExplanation(_message.Message):
    __slots__ = ("decision", "screening_id", "evaluated_at", "facts", "rules")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    SCREENING_ID_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_AT_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    decision: _screening_pb2.PolicyDecision
    screening_id: str
    evaluated_at: _timestamp_pb2.Timestamp
    facts: str
    rules: _containers.RepeatedCompositeFieldContainer[RuleExplanation]
    def __init__(self, decision: _Optional[_Union[_screening_pb2.PolicyDecision, _Mapping]] = ..., screening_id: _Optional[str] = ..., evaluated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., facts: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[RuleExplanation, _Mapping]]] = ...) -> None: ...
