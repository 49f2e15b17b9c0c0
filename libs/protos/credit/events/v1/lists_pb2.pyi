import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EntryChanged(_message.Message):
    __slots__ = ("entry_id", "subject_id", "subject_key", "list_type", "color", "from_state", "to_state", "reason", "department", "basis_record_ids", "valid_until", "ended_at")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    LIST_TYPE_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    BASIS_RECORD_IDS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    subject_id: str
    subject_key: str
    list_type: str
    color: str
    from_state: str
    to_state: str
    reason: str
    department: str
    basis_record_ids: _containers.RepeatedScalarFieldContainer[str]
    valid_until: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    def __init__(self, entry_id: _Optional[str] = ..., subject_id: _Optional[str] = ..., subject_key: _Optional[str] = ..., list_type: _Optional[str] = ..., color: _Optional[str] = ..., from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., reason: _Optional[str] = ..., department: _Optional[str] = ..., basis_record_ids: _Optional[_Iterable[str]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EntriesMarked(_message.Message):
    __slots__ = ("subject_ids", "entry_ids", "mark", "cause_event_id")
    SUBJECT_IDS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_IDS_FIELD_NUMBER: _ClassVar[int]
    MARK_FIELD_NUMBER: _ClassVar[int]
    CAUSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    subject_ids: _containers.RepeatedScalarFieldContainer[str]
    entry_ids: _containers.RepeatedScalarFieldContainer[str]
    mark: str
    cause_event_id: str
    def __init__(self, subject_ids: _Optional[_Iterable[str]] = ..., entry_ids: _Optional[_Iterable[str]] = ..., mark: _Optional[str] = ..., cause_event_id: _Optional[str] = ...) -> None: ...
