from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RecordSummary(_message.Message):
    __slots__ = ("record_id", "subject_id", "subject_key", "item_code", "department", "source_ref", "decided_on", "version", "status")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    ITEM_CODE_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    DECIDED_ON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    subject_id: str
    subject_key: str
    item_code: str
    department: str
    source_ref: str
    decided_on: str
    version: int
    status: str
    def __init__(self, record_id: _Optional[str] = ..., subject_id: _Optional[str] = ..., subject_key: _Optional[str] = ..., item_code: _Optional[str] = ..., department: _Optional[str] = ..., source_ref: _Optional[str] = ..., decided_on: _Optional[str] = ..., version: _Optional[int] = ..., status: _Optional[str] = ...) -> None: ...

class RecordsCreated(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[RecordSummary]
    def __init__(self, records: _Optional[_Iterable[_Union[RecordSummary, _Mapping]]] = ...) -> None: ...

class RecordCorrected(_message.Message):
    __slots__ = ("record", "reason")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    record: RecordSummary
    reason: str
    def __init__(self, record: _Optional[_Union[RecordSummary, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class RecordWithdrawn(_message.Message):
    __slots__ = ("record", "reason")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    record: RecordSummary
    reason: str
    def __init__(self, record: _Optional[_Union[RecordSummary, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class RecordExpired(_message.Message):
    __slots__ = ("record", "retention_until")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    RETENTION_UNTIL_FIELD_NUMBER: _ClassVar[int]
    record: RecordSummary
    retention_until: str
    def __init__(self, record: _Optional[_Union[RecordSummary, _Mapping]] = ..., retention_until: _Optional[str] = ...) -> None: ...

class RecordsMarked(_message.Message):
    __slots__ = ("subject_ids", "record_ids", "mark", "cause_event_id")
    SUBJECT_IDS_FIELD_NUMBER: _ClassVar[int]
    RECORD_IDS_FIELD_NUMBER: _ClassVar[int]
    MARK_FIELD_NUMBER: _ClassVar[int]
    CAUSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    subject_ids: _containers.RepeatedScalarFieldContainer[str]
    record_ids: _containers.RepeatedScalarFieldContainer[str]
    mark: str
    cause_event_id: str
    def __init__(self, subject_ids: _Optional[_Iterable[str]] = ..., record_ids: _Optional[_Iterable[str]] = ..., mark: _Optional[str] = ..., cause_event_id: _Optional[str] = ...) -> None: ...
