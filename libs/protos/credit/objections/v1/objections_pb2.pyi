import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Caller(_message.Message):
    __slots__ = ("client_id", "department")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    department: str
    def __init__(self, client_id: _Optional[str] = ..., department: _Optional[str] = ...) -> None: ...

class Target(_message.Message):
    __slots__ = ("kind", "id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    kind: str
    id: str
    def __init__(self, kind: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class Evidence(_message.Message):
    __slots__ = ("name", "sha256")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    name: str
    sha256: str
    def __init__(self, name: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class Transition(_message.Message):
    __slots__ = ("from_state", "to_state", "action", "at", "actor", "department", "reason", "evidence", "detail")
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    from_state: str
    to_state: str
    action: str
    at: _timestamp_pb2.Timestamp
    actor: str
    department: str
    reason: str
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    detail: str
    def __init__(self, from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., action: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., department: _Optional[str] = ..., reason: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., detail: _Optional[str] = ...) -> None: ...

class Objection(_message.Message):
    __slots__ = ("objection_id", "target", "subject_id", "subject_key", "natural_person", "state", "reason", "evidence", "filed_by", "filed_department", "filed_at", "source_department", "accept_due", "verify_due", "decide_due", "due_at", "overdue", "calendar_note", "finding", "corrected_fields", "verification_note", "decision", "decision_reason", "closed_at", "transitions", "missed_due_at")
    OBJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    NATURAL_PERSON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    FILED_BY_FIELD_NUMBER: _ClassVar[int]
    FILED_DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    FILED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_DUE_FIELD_NUMBER: _ClassVar[int]
    VERIFY_DUE_FIELD_NUMBER: _ClassVar[int]
    DECIDE_DUE_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_NOTE_FIELD_NUMBER: _ClassVar[int]
    FINDING_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_NOTE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    DECISION_REASON_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    MISSED_DUE_AT_FIELD_NUMBER: _ClassVar[int]
    objection_id: str
    target: Target
    subject_id: str
    subject_key: str
    natural_person: bool
    state: str
    reason: str
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    filed_by: str
    filed_department: str
    filed_at: _timestamp_pb2.Timestamp
    source_department: str
    accept_due: str
    verify_due: str
    decide_due: str
    due_at: _timestamp_pb2.Timestamp
    overdue: bool
    calendar_note: str
    finding: str
    corrected_fields: _struct_pb2.Struct
    verification_note: str
    decision: str
    decision_reason: str
    closed_at: _timestamp_pb2.Timestamp
    transitions: _containers.RepeatedCompositeFieldContainer[Transition]
    missed_due_at: _timestamp_pb2.Timestamp
    def __init__(self, objection_id: _Optional[str] = ..., target: _Optional[_Union[Target, _Mapping]] = ..., subject_id: _Optional[str] = ..., subject_key: _Optional[str] = ..., natural_person: _Optional[bool] = ..., state: _Optional[str] = ..., reason: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., filed_by: _Optional[str] = ..., filed_department: _Optional[str] = ..., filed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source_department: _Optional[str] = ..., accept_due: _Optional[str] = ..., verify_due: _Optional[str] = ..., decide_due: _Optional[str] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., overdue: _Optional[bool] = ..., calendar_note: _Optional[str] = ..., finding: _Optional[str] = ..., corrected_fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., verification_note: _Optional[str] = ..., decision: _Optional[str] = ..., decision_reason: _Optional[str] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., transitions: _Optional[_Iterable[_Union[Transition, _Mapping]]] = ..., missed_due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FileObjectionRequest(_message.Message):
    __slots__ = ("caller", "target", "reason", "evidence", "subject_code")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_CODE_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    target: Target
    reason: str
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    subject_code: str
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., target: _Optional[_Union[Target, _Mapping]] = ..., reason: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., subject_code: _Optional[str] = ...) -> None: ...

class AcceptObjectionRequest(_message.Message):
    __slots__ = ("caller", "objection_id", "reason")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    OBJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    objection_id: str
    reason: str
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., objection_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectObjectionRequest(_message.Message):
    __slots__ = ("caller", "objection_id", "reason")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    OBJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    objection_id: str
    reason: str
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., objection_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class VerifyObjectionRequest(_message.Message):
    __slots__ = ("caller", "objection_id", "finding", "corrected_fields", "note")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    OBJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    FINDING_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    objection_id: str
    finding: str
    corrected_fields: _struct_pb2.Struct
    note: str
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., objection_id: _Optional[str] = ..., finding: _Optional[str] = ..., corrected_fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class DecideObjectionRequest(_message.Message):
    __slots__ = ("caller", "objection_id", "decision", "reason")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    OBJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    objection_id: str
    decision: str
    reason: str
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., objection_id: _Optional[str] = ..., decision: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class WithdrawObjectionRequest(_message.Message):
    __slots__ = ("caller", "objection_id", "reason")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    OBJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    objection_id: str
    reason: str
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., objection_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetObjectionRequest(_message.Message):
    __slots__ = ("objection_id",)
    OBJECTION_ID_FIELD_NUMBER: _ClassVar[int]
    objection_id: str
    def __init__(self, objection_id: _Optional[str] = ...) -> None: ...

class ListObjectionsRequest(_message.Message):
    __slots__ = ("state", "subject_id", "overdue_only", "source_department", "filed_by", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_ONLY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    FILED_BY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: str
    subject_id: str
    overdue_only: bool
    source_department: str
    filed_by: str
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[str] = ..., subject_id: _Optional[str] = ..., overdue_only: _Optional[bool] = ..., source_department: _Optional[str] = ..., filed_by: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListObjectionsResponse(_message.Message):
    __slots__ = ("objections", "next_page_token")
    OBJECTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    objections: _containers.RepeatedCompositeFieldContainer[Objection]
    next_page_token: str
    def __init__(self, objections: _Optional[_Iterable[_Union[Objection, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Repair(_message.Message):
    __slots__ = ("repair_id", "target", "subject_id", "subject_key", "natural_person", "state", "grounds", "evidence", "commitment", "filed_by", "filed_department", "filed_at", "decide_due", "due_at", "overdue", "calendar_note", "decision", "decision_reason", "closed_at", "transitions", "missed_due_at")
    REPAIR_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    NATURAL_PERSON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    GROUNDS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    FILED_BY_FIELD_NUMBER: _ClassVar[int]
    FILED_DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    FILED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDE_DUE_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_NOTE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    DECISION_REASON_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    MISSED_DUE_AT_FIELD_NUMBER: _ClassVar[int]
    repair_id: str
    target: Target
    subject_id: str
    subject_key: str
    natural_person: bool
    state: str
    grounds: str
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    commitment: bool
    filed_by: str
    filed_department: str
    filed_at: _timestamp_pb2.Timestamp
    decide_due: str
    due_at: _timestamp_pb2.Timestamp
    overdue: bool
    calendar_note: str
    decision: str
    decision_reason: str
    closed_at: _timestamp_pb2.Timestamp
    transitions: _containers.RepeatedCompositeFieldContainer[Transition]
    missed_due_at: _timestamp_pb2.Timestamp
    def __init__(self, repair_id: _Optional[str] = ..., target: _Optional[_Union[Target, _Mapping]] = ..., subject_id: _Optional[str] = ..., subject_key: _Optional[str] = ..., natural_person: _Optional[bool] = ..., state: _Optional[str] = ..., grounds: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., commitment: _Optional[bool] = ..., filed_by: _Optional[str] = ..., filed_department: _Optional[str] = ..., filed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decide_due: _Optional[str] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., overdue: _Optional[bool] = ..., calendar_note: _Optional[str] = ..., decision: _Optional[str] = ..., decision_reason: _Optional[str] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., transitions: _Optional[_Iterable[_Union[Transition, _Mapping]]] = ..., missed_due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApplyRepairRequest(_message.Message):
    __slots__ = ("caller", "target", "grounds", "evidence", "commitment", "subject_code")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    GROUNDS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_CODE_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    target: Target
    grounds: str
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    commitment: bool
    subject_code: str
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., target: _Optional[_Union[Target, _Mapping]] = ..., grounds: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., commitment: _Optional[bool] = ..., subject_code: _Optional[str] = ...) -> None: ...

class DecideRepairRequest(_message.Message):
    __slots__ = ("caller", "repair_id", "decision", "reason")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    REPAIR_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    caller: Caller
    repair_id: str
    decision: str
    reason: str
    def __init__(self, caller: _Optional[_Union[Caller, _Mapping]] = ..., repair_id: _Optional[str] = ..., decision: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetRepairRequest(_message.Message):
    __slots__ = ("repair_id",)
    REPAIR_ID_FIELD_NUMBER: _ClassVar[int]
    repair_id: str
    def __init__(self, repair_id: _Optional[str] = ...) -> None: ...

class ListRepairsRequest(_message.Message):
    __slots__ = ("state", "subject_id", "overdue_only", "filed_by", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_ONLY_FIELD_NUMBER: _ClassVar[int]
    FILED_BY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: str
    subject_id: str
    overdue_only: bool
    filed_by: str
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[str] = ..., subject_id: _Optional[str] = ..., overdue_only: _Optional[bool] = ..., filed_by: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRepairsResponse(_message.Message):
    __slots__ = ("repairs", "next_page_token")
    REPAIRS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    repairs: _containers.RepeatedCompositeFieldContainer[Repair]
    next_page_token: str
    def __init__(self, repairs: _Optional[_Iterable[_Union[Repair, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
