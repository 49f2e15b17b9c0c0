from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class SubjectRegistered(_message.Message):
    __slots__ = ("subject_id", "code", "kind", "division_code")
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DIVISION_CODE_FIELD_NUMBER: _ClassVar[int]
    subject_id: str
    code: str
    kind: str
    division_code: str
    def __init__(self, subject_id: _Optional[str] = ..., code: _Optional[str] = ..., kind: _Optional[str] = ..., division_code: _Optional[str] = ...) -> None: ...

class SubjectUpdated(_message.Message):
    __slots__ = ("subject_id", "code", "changed_fields")
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    subject_id: str
    code: str
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, subject_id: _Optional[str] = ..., code: _Optional[str] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class SubjectStatusChanged(_message.Message):
    __slots__ = ("subject_id", "code", "old_status", "new_status", "reason")
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    OLD_STATUS_FIELD_NUMBER: _ClassVar[int]
    NEW_STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    subject_id: str
    code: str
    old_status: str
    new_status: str
    reason: str
    def __init__(self, subject_id: _Optional[str] = ..., code: _Optional[str] = ..., old_status: _Optional[str] = ..., new_status: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SubjectMerged(_message.Message):
    __slots__ = ("subject_id", "merged_code", "survivor_code", "reason", "survivor_id")
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    MERGED_CODE_FIELD_NUMBER: _ClassVar[int]
    SURVIVOR_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SURVIVOR_ID_FIELD_NUMBER: _ClassVar[int]
    subject_id: str
    merged_code: str
    survivor_code: str
    reason: str
    survivor_id: str
    def __init__(self, subject_id: _Optional[str] = ..., merged_code: _Optional[str] = ..., survivor_code: _Optional[str] = ..., reason: _Optional[str] = ..., survivor_id: _Optional[str] = ...) -> None: ...
