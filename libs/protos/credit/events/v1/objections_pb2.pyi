from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Target(_message.Message):
    __slots__ = ("kind", "id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    kind: str
    id: str
    def __init__(self, kind: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class ObjectionFiled(_message.Message):
    __slots__ = ("objection_id", "target", "subject_id")
    OBJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    objection_id: str
    target: Target
    subject_id: str
    def __init__(self, objection_id: _Optional[str] = ..., target: _Optional[_Union[Target, _Mapping]] = ..., subject_id: _Optional[str] = ...) -> None: ...

class ObjectionClosed(_message.Message):
    __slots__ = ("objection_id", "target", "subject_id", "outcome", "corrected_fields", "reason", "decided_by")
    OBJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    objection_id: str
    target: Target
    subject_id: str
    outcome: str
    corrected_fields: _struct_pb2.Struct
    reason: str
    decided_by: str
    def __init__(self, objection_id: _Optional[str] = ..., target: _Optional[_Union[Target, _Mapping]] = ..., subject_id: _Optional[str] = ..., outcome: _Optional[str] = ..., corrected_fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., reason: _Optional[str] = ..., decided_by: _Optional[str] = ...) -> None: ...

class RepairDecided(_message.Message):
    __slots__ = ("repair_id", "target", "subject_id", "approved", "reason")
    REPAIR_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    repair_id: str
    target: Target
    subject_id: str
    approved: bool
    reason: str
    def __init__(self, repair_id: _Optional[str] = ..., target: _Optional[_Union[Target, _Mapping]] = ..., subject_id: _Optional[str] = ..., approved: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...
