from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class EntryChanged(_message.Message):
    __slots__ = ("entry_id", "subject_id", "subject_key", "list_type", "color", "from_state", "to_state", "reason", "department")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    LIST_TYPE_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    subject_id: str
    subject_key: str
    list_type: str
    color: str
    from_state: str
    to_state: str
    reason: str
    department: str
    def __init__(self, entry_id: _Optional[str] = ..., subject_id: _Optional[str] = ..., subject_key: _Optional[str] = ..., list_type: _Optional[str] = ..., color: _Optional[str] = ..., from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., reason: _Optional[str] = ..., department: _Optional[str] = ...) -> None: ...
